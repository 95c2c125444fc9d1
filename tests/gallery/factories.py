"""Fast test images: a real tiny PNG stored through the same service as the pipeline."""

import io
import itertools
from decimal import Decimal

from PIL import Image as PILImage

from gallery.imaging import validate_image
from gallery.models import Image
from gallery.services import set_tags, store_image_files
from generation.models import Generation, Status

_colors = itertools.count(1)


def png_bytes(width=8, height=8, color: int | None = None) -> bytes:
    """A PNG whose colour differs on every call unless ``color`` is given."""
    value = next(_colors) if color is None else color
    rgb = (value % 256, (value // 256) % 256, (value // 65536) % 256)
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def make_image(owner, *, prompt="a test image", project=None, provider="offline",
               model="offline-shapes", width=8, height=8, color=None, tags=(),
               cost_usd=Decimal("0.040000"), generation=None, **fields) -> Image:
    """A succeeded generation with one stored image (real files, real hash)."""
    if generation is None:
        generation = Generation.objects.create(
            owner=owner, project=project, provider=provider, model=model, prompt=prompt,
            width=width, height=height, num_images=1, seed=42, steps=20, cfg_scale=7.5,
            status=Status.SUCCEEDED, cost_usd=cost_usd, cost_is_estimate=False,
            provider_request_id="req-1",
            provider_metadata={"revised_prompt": prompt + ", revised", "timings": {"total": 1},
                               "raw_log": "not for users"},
        )
    validated = validate_image(png_bytes(width, height, color))
    stored = store_image_files(validated)
    image = Image.objects.create(
        generation=generation, owner=owner, project=project, file=stored.file,
        thumbnail=stored.thumbnail, width=validated.width, height=validated.height,
        format=validated.format, bytes=len(validated.data), sha256=validated.sha256,
        seed=generation.seed, **fields,
    )
    if tags:
        set_tags(image, tags)
    return image
