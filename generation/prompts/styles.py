"""The built-in style presets, kept in step with the database after every ``migrate``.

They live in code rather than in a data migration so that a later release can improve a
template without a migration, and so that they come back after a test flushes the database
(Django's flush sends ``post_migrate``, as it does for content types and permissions).
"""

from dataclasses import dataclass

from generation.models import StylePreset


@dataclass(frozen=True)
class BuiltinStyle:
    key: str
    name: str
    template: str
    negative_prompt: str = ""


BUILTIN_STYLES: tuple[BuiltinStyle, ...] = (
    BuiltinStyle(
        "photographic",
        "Photographic",
        "{prompt}, professional photograph, natural lighting, 35mm lens, sharp focus, "
        "high dynamic range, highly detailed",
        "drawing, painting, illustration, cartoon, anime, render, blurry, low quality",
    ),
    BuiltinStyle(
        "cinematic",
        "Cinematic",
        "cinematic film still of {prompt}, shallow depth of field, dramatic lighting, "
        "anamorphic lens, film grain, color graded",
        "cartoon, illustration, flat lighting, low quality",
    ),
    BuiltinStyle(
        "anime",
        "Anime",
        "anime artwork of {prompt}, vibrant colors, clean line art, cel shading, "
        "studio anime style, key visual",
        "photo, photorealistic, realism, 3d render, blurry",
    ),
    BuiltinStyle(
        "digital-art",
        "Digital art",
        "digital art of {prompt}, concept art, highly detailed, vivid colors, "
        "trending on artstation",
        "photo, low quality, blurry",
    ),
    BuiltinStyle(
        "watercolor",
        "Watercolor",
        "watercolor painting of {prompt}, soft washes, paper texture, delicate brush strokes, "
        "bleeding edges",
        "photo, 3d render, hard edges, digital art",
    ),
    BuiltinStyle(
        "line-art",
        "Line art",
        "line art drawing of {prompt}, clean black ink lines on white, minimalist, no shading",
        "color, shading, photo, painting, gradient",
    ),
    BuiltinStyle(
        "3d-render",
        "3D render",
        "3D render of {prompt}, octane render, global illumination, physically based "
        "materials, studio lighting, highly detailed",
        "photo, painting, drawing, flat, low poly",
    ),
    BuiltinStyle(
        "pixel-art",
        "Pixel art",
        "pixel art of {prompt}, 16-bit, limited palette, crisp pixels, retro video game",
        "blurry, smooth gradients, photo, realistic",
    ),
    BuiltinStyle(
        "isometric",
        "Isometric",
        "isometric illustration of {prompt}, 45 degree view, clean geometry, soft shadows, diorama",
        "perspective distortion, photo, blurry",
    ),
    BuiltinStyle(
        "product-shot",
        "Product shot",
        "product photography of {prompt}, studio softbox lighting, seamless background, "
        "sharp focus, commercial catalogue shot",
        "clutter, people, text, watermark, blurry",
    ),
    BuiltinStyle(
        "logo",
        "Logo",
        "minimalist vector logo of {prompt}, flat design, simple shapes, bold, centered, "
        "plain background",
        "photo, realistic, gradients, clutter, 3d, shadows",
    ),
    BuiltinStyle(
        "comic-book",
        "Comic book",
        "comic book panel of {prompt}, bold ink outlines, halftone shading, dynamic "
        "composition, vivid colors",
        "photo, photorealistic, blurry",
    ),
    BuiltinStyle(
        "oil-painting",
        "Oil painting",
        "oil painting of {prompt}, thick impasto brush strokes, rich colors, canvas texture, "
        "classical composition",
        "photo, 3d render, digital art, flat colors",
    ),
    BuiltinStyle(
        "low-poly",
        "Low poly",
        "low poly 3D art of {prompt}, faceted geometry, flat shading, pastel colors",
        "photo, realistic, high detail textures",
    ),
)


def sync_builtin_styles(sender=None, using="default", apps=None, **kwargs) -> int:
    """Create missing built-in presets and refresh changed ones (a ``post_migrate`` receiver;
    callable directly). Returns how many rows it wrote."""
    model = StylePreset
    if apps is not None:
        try:
            model = apps.get_model("generation", "StylePreset")
        except LookupError:  # migrating backwards past the prompt tools
            return 0
    existing = {p.key: p for p in model.objects.using(using).filter(key__isnull=False)}
    written = 0
    for style in BUILTIN_STYLES:
        values = {
            "name": style.name,
            "template": style.template,
            "negative_prompt": style.negative_prompt,
        }
        preset = existing.get(style.key)
        if preset is None:
            model.objects.using(using).create(key=style.key, owner=None, **values)
            written += 1
        elif any(getattr(preset, name) != value for name, value in values.items()):
            for name, value in values.items():
                setattr(preset, name, value)
            preset.save(using=using, update_fields=[*values, "updated_at"])
            written += 1
    return written
