"""Image-operation test helpers (plain functions, no fixtures): noise pictures, masks as PNG
bytes or data URIs, and the succeeded generation (or its one image) a submission made."""

import base64
import io
import random

from PIL import Image as PILImage

from gallery.models import Image
from generation.models import Generation, Status


def noise_png(width=40, height=30, seed=1) -> bytes:
    """A PNG of noise: every pixel differs from its neighbours, so any shift or resample
    shows; the same seed gives the same bytes."""
    rng = random.Random(seed)
    out = io.BytesIO()
    PILImage.frombytes("RGB", (width, height), rng.randbytes(width * height * 3)).save(
        out, format="PNG"
    )
    return out.getvalue()


def mask_png(width, height, box=None) -> bytes:
    """A greyscale mask PNG, white (change) on ``box``, by default the top-left quarter."""
    mask = PILImage.new("L", (width, height), 0)
    mask.paste(255, box or (0, 0, width // 2, height // 2))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode()


def mask_uri(width, height, box=None) -> str:
    """``mask_png`` as the data URI the API takes for a drawn mask."""
    return data_uri(mask_png(width, height, box))


def left_half_mask_uri(width, height) -> str:
    return mask_uri(width, height, (0, 0, width // 2, height))


def succeeded(response) -> Generation:
    """The generation a submission's response names, which must have succeeded."""
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == Status.SUCCEEDED, generation.error
    return generation


def made_image(response) -> Image:
    """The one image of the succeeded generation a submission's response names."""
    return succeeded(response).images.get()
