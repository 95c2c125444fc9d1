"""Small helpers of the gateway tests (fixtures live in conftest.py)."""

import base64
import io

from PIL import Image as PILImage


def decoded(b64: str) -> PILImage.Image:
    image = PILImage.open(io.BytesIO(base64.b64decode(b64)))
    image.load()
    return image


def png(width: int, height: int, color=(200, 40, 40, 255), mode="RGBA") -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, (width, height), color if mode == "RGBA" else color[:3]).save(
        out, format="PNG"
    )
    return out.getvalue()


def mask_png(width: int, height: int, hole: tuple[int, int, int, int]) -> bytes:
    """OpenAI's mask: opaque everywhere but ``hole`` (left, top, right, bottom), transparent."""
    mask = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), hole)
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()
