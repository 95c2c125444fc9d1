"""The built-in offline provider: deterministic pictures drawn locally, no key, no network.

The same prompt, seed and size always give the same bytes; a different prompt gives visibly
different colours, shapes and caption. ``OFFLINE_PROVIDER_DELAY_MS`` adds an artificial wait
(cancel-aware) for demos and benchmarks.

It also works on images (docs/image-operations.md), with real pixel work: ``upscale`` is a
Lanczos resize to exactly 2× or 4×; ``inpaint`` (and ``outpaint``, which the runner hands
over as an inpaint of the padded canvas) paints the prompt's pattern only where the mask is
white, so every pixel under black is byte-identical to the input's; ``edit`` recolours the
first input with the prompt's palette and overlays the prompt's shapes, and shows every
further input (a reference) as an inset. Results are PNGs while they fit MAX_IMAGE_SIZE,
else JPEGs of quality 95 (``encode``; only then is "byte-identical" approximate).
"""

import hashlib
import io
import random
import textwrap
import time
from decimal import Decimal

from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    ModelSpec,
    Operation,
    Provider,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.inputs import decode, mask_pixels

MODELS = [
    ModelSpec(
        id="offline-shapes",
        label="Shapes (deterministic test pattern)",
        min_size=64,
        max_size=2048,
        max_images=4,
        steps=(1, 150),
        default_steps=None,
        cfg_scale=(0.0, 30.0),
        default_cfg_scale=None,
        operations=(
            Operation.GENERATE,
            Operation.EDIT,
            Operation.INPAINT,
            Operation.OUTPAINT,
            Operation.UPSCALE,
        ),
        max_input_images=4,
        strength=(0.0, 1.0),
        scales=(2, 4),
    ),
]
# How strongly ``edit`` recolours the input when no strength is given.
DEFAULT_EDIT_STRENGTH = 0.5


def _palette(digest: bytes) -> list[tuple[int, int, int]]:
    return [tuple(digest[i : i + 3]) for i in range(0, 30, 3)]


def render(prompt: str, seed: int, width: int, height: int, negative_prompt: str = "") -> bytes:
    """A PNG of ``width``×``height`` drawn from the prompt and seed; deterministic."""
    canvas = draw(prompt, seed, width, height, negative_prompt, caption=True)
    return _png(canvas.convert("RGB"))


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def draw(
    prompt: str,
    seed: int,
    width: int,
    height: int,
    negative_prompt: str = "",
    *,
    caption: bool = True,
    shapes_only: bool = False,
) -> Image.Image:
    """The RGBA picture ``render`` encodes; ``shapes_only``: the shapes on a transparent
    background (what ``edit`` lays over an input)."""
    digest = hashlib.sha256(f"{prompt}\x00{negative_prompt}".encode()).digest()
    colors = _palette(digest)
    rng = random.Random(int.from_bytes(digest[:8], "big") ^ (seed & 0xFFFFFFFFFFFFFFFF))

    gradient = Image.linear_gradient("L").rotate(
        rng.randrange(360), resample=Image.BILINEAR, expand=False, fillcolor=128
    )
    background = ImageOps.colorize(gradient, colors[0], colors[1])
    canvas = background.resize((width, height), Image.BILINEAR).convert("RGBA")
    if shapes_only:
        canvas = Image.new("RGBA", (width, height), (0, 0, 0, 0))

    overlay = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    scale = min(width, height)
    for _ in range(6 + digest[30] % 10):
        color = (*rng.choice(colors[2:]), rng.randrange(90, 200))
        x, y = rng.randrange(width), rng.randrange(height)
        radius = rng.randrange(max(2, scale // 16), max(3, scale // 3))
        box = (x - radius, y - radius, x + radius, y + radius)
        shape = rng.randrange(3)
        if shape == 0:
            draw.ellipse(box, fill=color)
        elif shape == 1:
            draw.rectangle(box, fill=color)
        else:
            points = [
                (x + rng.randrange(-radius, radius + 1), y + rng.randrange(-radius, radius + 1))
                for _ in range(3)
            ]
            draw.polygon(points, fill=color)
    canvas = Image.alpha_composite(canvas, overlay)

    if caption and scale >= 128:
        _caption(canvas, prompt, seed, scale)
    return canvas


def _caption(canvas: Image.Image, prompt: str, seed: int, scale: int) -> None:
    font_size = max(10, scale // 28)
    font = ImageFont.load_default(size=font_size)
    chars_per_line = max(12, int(canvas.width / (font_size * 0.6)))
    lines = textwrap.wrap(prompt, chars_per_line)[:3] + [f"seed {seed}"]
    band_height = int(len(lines) * font_size * 1.3 + font_size)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle(
        (0, canvas.height - band_height, canvas.width, canvas.height), fill=(0, 0, 0, 160)
    )
    y = canvas.height - band_height + font_size // 2
    for line in lines:
        draw.text((font_size // 2, y), line, fill=(255, 255, 255, 255), font=font)
        y += int(font_size * 1.3)


class OfflineProvider(Provider):
    name = "offline"
    label = "Offline (built-in, no network)"
    requires_key = False

    def models(self) -> list[ModelSpec]:
        return MODELS

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        # The delay is the provider's whole time, like a remote job's: draw first, then wait
        # out the rest, so many delayed generations do not all draw at the same moment.
        started = time.monotonic()
        images = []
        for index in range(request.num_images):
            ctx.check()
            seed = request.seed + index
            images.append(GeneratedImage(data=self._one(request, seed), seed=seed))
        remaining = settings.OFFLINE_PROVIDER_DELAY_MS / 1000 - (time.monotonic() - started)
        if remaining > 0:
            ctx.sleep(remaining)
        return ProviderResult(
            images=images,
            request_id=f"offline-{request.seed}",
            cost_usd=Decimal("0"),
            cost_is_estimate=False,
            seed=request.seed,
        )

    def estimate_cost(self, request: GenerationRequest) -> Decimal:
        return Decimal("0")

    def _one(self, request: GenerationRequest, seed: int) -> bytes:
        operation = request.operation
        if operation == Operation.GENERATE:
            return render(
                request.prompt, seed, request.width, request.height, request.negative_prompt
            )
        if not request.input_images:
            raise ProviderError(f"{self.label}: {operation} needs an input image.")
        if operation == Operation.UPSCALE:
            return upscale(request.input_images[0].data, request.scale or 2)
        if operation in (Operation.INPAINT, Operation.OUTPAINT):
            if request.mask is None:
                raise ProviderError(f"{self.label}: {operation} needs a mask.")
            return inpaint(request, seed)
        if operation == Operation.EDIT:
            return edit(request, seed)
        raise ProviderError(f"{self.label} cannot {operation.replace('_', ' ')}.")


def encode(image: Image.Image, *, lossless_hint: int = 0) -> bytes:
    """The result as a PNG (lossless) when that fits in MAX_IMAGE_SIZE, else as a JPEG of
    quality 95 (a WebP of quality 95 when it has transparency): an upscale of a detailed
    picture is easily three times the limit as a PNG. ``lossless_hint``: an estimate of the
    PNG's size; one over the limit skips the PNG encode (a second or more at 4 MP)."""
    if lossless_hint <= settings.MAX_IMAGE_SIZE:
        data = _png(image)
        if len(data) <= settings.MAX_IMAGE_SIZE:
            return data
    out = io.BytesIO()
    if "A" in image.getbands():
        image.save(out, format="WEBP", quality=95, method=2)
    else:
        image.convert("RGB").save(out, format="JPEG", quality=95, subsampling=0)
    return out.getvalue()


def upscale(data: bytes, scale: int) -> bytes:
    """The picture resized to exactly ``scale`` times its size with Lanczos: a PNG when it
    fits the size limit, else a high-quality JPEG (see ``encode``)."""
    image = Image.open(io.BytesIO(data))
    image.load()
    image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    size = (image.width * scale, image.height * scale)
    # A Lanczos upscale of a detailed PNG takes up to about 1.3 times its input's bytes per
    # pixel (bench figure 10): when even that guess is over the limit, go straight to JPEG.
    hint = len(data) * scale * scale * 3 // 2 if data.startswith(b"\x89PNG") else 0
    return encode(image.resize(size, Image.Resampling.LANCZOS), lossless_hint=hint)


def inpaint(request: GenerationRequest, seed: int) -> bytes:
    """The prompt's pattern painted where the mask is white, blended where it is grey (and
    by ``strength`` when given); every pixel under black is the input's own, byte for byte."""
    original = decode(request.input_images[0])
    mode = "RGBA" if "A" in original.getbands() else "RGB"
    original = original.convert(mode)
    mask = mask_pixels(request.mask)
    if mask.size != original.size:
        raise ProviderError("The mask is not the size of the image.")
    painted = draw(
        request.prompt,
        seed,
        original.width,
        original.height,
        request.negative_prompt,
        caption=False,
    ).convert(mode)
    if request.strength is not None and request.strength < 1:  # how far masked pixels move
        mask = mask.point(lambda value: round(value * request.strength))
    return encode(Image.composite(painted, original, mask))


def edit(request: GenerationRequest, seed: int) -> bytes:
    """A visible, prompt-dependent change of the first input: recoloured with the prompt's
    palette (by ``strength``), the prompt's shapes laid over it, the other inputs (references)
    as insets along the bottom; at the requested size."""
    base = decode(request.input_images[0]).convert("RGB")
    base = ImageOps.fit(base, (request.width, request.height), Image.Resampling.LANCZOS)
    digest = hashlib.sha256(request.prompt.encode()).digest()
    colors = _palette(digest)
    tinted = ImageOps.colorize(ImageOps.grayscale(base), colors[0], colors[1])
    strength = DEFAULT_EDIT_STRENGTH if request.strength is None else request.strength
    canvas = Image.blend(base, tinted, strength).convert("RGBA")
    shapes = draw(
        request.prompt, seed, request.width, request.height, shapes_only=True, caption=False
    )
    shapes.putalpha(shapes.getchannel("A").point(lambda a: int(a * strength)))
    canvas = Image.alpha_composite(canvas, shapes)
    side = max(16, min(request.width, request.height) // 5)
    for index, reference in enumerate(request.input_images[1:]):
        inset = ImageOps.fit(decode(reference).convert("RGBA"), (side, side))
        canvas.paste(inset, (8 + index * (side + 8), request.height - side - 8))
    return encode(canvas.convert("RGB"))
