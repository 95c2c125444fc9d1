"""Gallery test data: a succeeded generation with one real image stored the way the pipeline
stores it (content-addressed files, real hash and thumbnail).

``make_image`` routes keyword arguments by name: Image fields (title, notes, favorite, rating,
index, created_at) go to the image, everything else to the generation.
"""

import io
import itertools
from decimal import Decimal

from PIL import Image as PILImage

from gallery.models import GenerationInput, Image
from gallery.services import set_tags, store_image_files
from generation.models import Generation, Status
from imagegen.core.imaging import validate_image

_colours = itertools.count(1)
IMAGE_FIELDS = {"title", "notes", "favorite", "rating", "index", "created_at"}


def image_bytes(fmt: str = "PNG", size=(48, 32), colour=None) -> bytes:
    """Fresh bytes of a small image; each call differs unless ``colour`` is given."""
    if colour is None:
        n = next(_colours)
        colour = (n * 37 % 256, n * 91 % 256, n * 53 % 256)
    elif isinstance(colour, int):
        colour = (colour % 256, (colour // 256) % 256, (colour // 65536) % 256)
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def png_bytes(width=8, height=8, color: int | None = None) -> bytes:
    return image_bytes("PNG", (width, height), color)


def make_image(
    owner,
    *,
    fmt: str = "PNG",
    data: bytes | None = None,
    project=None,
    width: int = 48,
    height: int = 32,
    color=None,
    tags=(),
    generation=None,
    **fields,
) -> Image:
    """A succeeded generation with one stored image; see the module docstring."""
    image_fields = {name: fields.pop(name) for name in list(fields) if name in IMAGE_FIELDS}
    validated = validate_image(
        data if data is not None else image_bytes(fmt, (width, height), color)
    )
    if generation is None:
        values = {
            "provider": "offline",
            "model": "offline-shapes",
            "prompt": "a red fox in snow",
            "negative_prompt": "blurry",
            "width": validated.width,
            "height": validated.height,
            "num_images": 1,
            "seed": 42,
            "steps": 20,
            "cfg_scale": 7.5,
            "status": Status.SUCCEEDED,
            "cost_usd": Decimal("0.040000"),
            "cost_is_estimate": False,
            "provider_request_id": "req-1",
        }
        if "created_at" in image_fields:
            values["created_at"] = image_fields["created_at"]
        values.update(fields)
        values.setdefault(
            "provider_metadata",
            {
                "revised_prompt": values["prompt"] + ", revised",
                "timings": {"total": 1},
                "raw_log": "not for users",
            },
        )
        generation = Generation.objects.create(owner=owner, project=project, **values)
    stored = store_image_files(validated)
    image = Image.objects.create(
        generation=generation,
        owner=owner,
        project=project,
        file=stored.file,
        thumbnail=stored.thumbnail,
        width=validated.width,
        height=validated.height,
        format=validated.format,
        bytes=len(validated.data),
        sha256=validated.sha256,
        seed=generation.seed,
        search_prompt=generation.prompt,
        **image_fields,
    )
    if tags:
        set_tags(image, tags)
    return image


def link_input(generation, parent: Image, role="input", position=0) -> GenerationInput:
    """Records ``parent`` as an input of ``generation`` the way a submission records it (the
    lineage row, with a copy of the parent's file fields)."""
    copied = {
        name: getattr(parent, name) for name in ("file", "sha256", "format", "width", "height")
    }
    return GenerationInput.objects.create(
        generation=generation,
        image=parent,
        image_ref=parent.pk,
        role=role,
        position=position,
        **copied,
    )
