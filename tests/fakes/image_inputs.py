"""Image inputs as the fal and Replicate fakes receive them: an https URL (which the fake
cannot fetch, so its pixels are unknown), or a ``data:image/...;base64,`` URI that must decode
to a real image, as the providers' runners decode it before the model runs.

The fakes never fetch a URL: a test must not touch the internet, and the real services cannot
reach a URL of the site's own server either (the providers send data URIs or the provider's
own upload URL, never one of the site's)."""

from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

DATA_URI = re.compile(
    r"data:(?P<mime>[\w.+-]+/[\w.+-]+)(?P<params>(;[^;,]*)*?);base64,(?P<data>.*)", re.S
)
IMAGE_MIMES = ("image/png", "image/jpeg", "image/webp", "image/gif", "image/avif")
# The most pixels a fake decodes (a decompression bomb sent as a data URI is refused).
MAX_PIXELS = 64_000_000


class BadImage(ValueError):
    """The value is not an image the provider could use; ``kind`` says how (``url`` for a
    value that is no fetchable URL, ``load`` for bytes that are no image)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass
class DecodedImage:
    """What a fake learns of an input image: its bytes and size (None for an https URL)."""

    source: str  # "data" or "url" (or "file" for an upload of the provider's own)
    data: bytes | None = None
    width: int | None = None
    height: int | None = None
    mode: str = ""
    mime: str = ""

    @property
    def size(self) -> tuple[int, int] | None:
        return (self.width, self.height) if self.width else None


def decode_bytes(data: bytes, source: str = "data", mime: str = "") -> DecodedImage:
    """The image in ``data``, fully decoded; BadImage(kind="load") when it is none."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                size = f"{image.width}x{image.height}"
                raise BadImage("load", f"the image has too many pixels ({size})")
            image.load()
            return DecodedImage(source, data, image.width, image.height, image.mode, mime)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        if isinstance(exc, BadImage):
            raise
        raise BadImage("load", f"cannot identify image file ({type(exc).__name__})") from None


def decode_image_input(value) -> DecodedImage:
    """An image input given as an https URL or a base64 image data URI."""
    if not isinstance(value, str):
        raise BadImage("url", "the value is not a string")
    if value.startswith("https://"):
        return DecodedImage("url")
    match = DATA_URI.fullmatch(value)
    if value.startswith("data:") and match is None:
        raise BadImage("load", "the data URI is not base64-encoded")
    if match is None:
        raise BadImage("url", "the value is neither an https URL nor a data URI")
    mime = match["mime"].lower()
    if mime not in IMAGE_MIMES:
        raise BadImage("load", f"the data URI is {mime}, not an image")
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        raise BadImage("load", "the data URI's base64 does not decode") from None
    return decode_bytes(data, "data", mime)


def data_uri_size(value) -> int:
    """The decoded size in bytes of a base64 data URI (0 for anything else)."""
    if not isinstance(value, str) or not value.startswith("data:"):
        return 0
    _, _, payload = value.partition(",")
    return len(payload) * 3 // 4


def png(width: int, height: int, color: tuple, mode: str = "RGB") -> bytes:
    """A solid image as PNG (RGBA for a cut-out: the fake's background removal)."""
    image = Image.new(mode, (max(1, int(width)), max(1, int(height))), color)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
