"""Gallery test data: images of any format stored the way the pipeline stores them."""

import io
import itertools

from PIL import Image as PILImage

from gallery.imaging import validate_image
from gallery.models import Image
from gallery.services import store_image_files
from generation.models import Generation, Status

_colours = itertools.count(1)


def image_bytes(fmt: str = "PNG", size=(48, 32), colour=None) -> bytes:
    """Fresh bytes of a small image; each call differs unless ``colour`` is given."""
    if colour is None:
        n = next(_colours)
        colour = (n * 37 % 256, n * 91 % 256, n * 53 % 256)
    out = io.BytesIO()
    PILImage.new("RGB", size, colour).save(out, format=fmt)
    return out.getvalue()


def make_image(owner, *, fmt: str = "PNG", data: bytes | None = None, project=None,
               title: str = "", **generation_fields) -> Image:
    """A succeeded generation with one image whose files are in storage."""
    validated = validate_image(data if data is not None else image_bytes(fmt))
    values = {"provider": "offline", "model": "offline-shapes", "prompt": "a red fox in snow",
              "negative_prompt": "blurry", "width": validated.width,
              "height": validated.height, "num_images": 1, "seed": 42, "steps": 20,
              "cfg_scale": 7.5, "status": Status.SUCCEEDED}
    values.update(generation_fields)
    generation = Generation.objects.create(owner=owner, project=project, **values)
    stored = store_image_files(validated)
    return Image.objects.create(
        generation=generation, owner=owner, project=project, file=stored.file,
        thumbnail=stored.thumbnail, width=validated.width, height=validated.height,
        format=validated.format, bytes=len(validated.data), sha256=validated.sha256,
        seed=generation.seed, title=title,
    )
