"""Hostile image bytes: polyglots, disguised formats, truncations, wrong magic, exact sizes."""

import io
import struct
import zlib

from PIL import Image


def encode(fmt: str, size=(64, 64), **options) -> bytes:
    """A small real image in ``fmt`` (any format Pillow writes)."""
    image = Image.new("RGB", size, (30, 120, 200))
    out = io.BytesIO()
    image.save(out, format=fmt, **options)
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def png_of_exactly(total: int) -> bytes:
    """A valid PNG of exactly ``total`` bytes, padded by a private ancillary chunk."""
    png = encode("PNG", (16, 16))
    end = len(png) - 12  # the IEND chunk
    padding = total - len(png) - 12
    assert padding >= 0, "total too small"
    return png[:end] + png_chunk(b"prVt", b"\x00" * padding) + png[end:]


SCRIPT = b"<html><body><script>alert(document.cookie)</script></body></html>"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
PNG, JPEG, WEBP = encode("PNG"), encode("JPEG"), encode("WEBP")

# name: (bytes, words the failure reason must contain)
HOSTILE = {
    "png-magic-then-html": (b"\x89PNG\r\n\x1a\n" + SCRIPT, "truncated"),
    "png-then-html": (PNG + SCRIPT, "after the PNG image (a polyglot)"),
    "jpeg-then-html": (JPEG + SCRIPT, "end-of-image marker"),
    "webp-then-html": (WEBP + SCRIPT, "after the WEBP image (a polyglot)"),
    "html-as-png": (SCRIPT, "not a PNG, JPEG or WebP"),
    "svg-as-png": (SVG, "not a PNG, JPEG or WebP"),
    "gif-as-png": (encode("GIF"), "not a PNG, JPEG or WebP"),
    "gif-with-script-as-png": (encode("GIF") + SCRIPT, "not a PNG, JPEG or WebP"),
    "bmp-as-png": (encode("BMP"), "not a PNG, JPEG or WebP"),
    "tiff-as-png": (encode("TIFF"), "not a PNG, JPEG or WebP"),
    "ico-as-png": (encode("ICO", (32, 32)), "not a PNG, JPEG or WebP"),
    "png-truncated-in-header": (PNG[:20], "truncated"),
    "png-truncated-in-data": (PNG[: len(PNG) // 2], "truncated"),
    "png-without-iend": (PNG[:-12], "truncated"),
    "jpeg-truncated-in-header": (JPEG[:30], "end-of-image marker"),
    "jpeg-truncated-in-data": (JPEG[: len(JPEG) // 2], "end-of-image marker"),
    "jpeg-without-eoi": (JPEG[:-2], "end-of-image marker"),
    "webp-truncated-in-header": (WEBP[:14], "truncated"),
    "webp-truncated-in-data": (WEBP[: len(WEBP) // 2], "truncated"),
    "png-wrong-magic": (b"\x89PNX" + PNG[4:], "not a PNG, JPEG or WebP"),
    "jpeg-magic-on-a-png": (b"\xff\xd8\xff" + PNG + b"\xff\xd9", "could not be decoded"),
    "png-magic-on-a-jpeg": (PNG[:8] + JPEG, "truncated"),
    "riff-wave-as-webp": (b"RIFF" + struct.pack("<I", 4) + b"WAVE", "not a PNG, JPEG or WebP"),
    "empty": (b"", "empty"),
}
