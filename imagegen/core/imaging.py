"""Validation and thumbnails for image bytes that come back from a provider."""

import hashlib
import io
import threading
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageOps

FORMATS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}


# Files at least this large are hashed on a second thread while Pillow decodes them (both
# release the GIL); smaller ones are hashed inline, where a thread would cost more than it saves.
PARALLEL_HASH_BYTES = 256 * 1024


class InvalidImage(Exception):
    """The bytes are not an image we accept; the message says why, in words."""


@dataclass
class ValidatedImage:
    data: bytes
    format: str  # PNG, JPEG or WEBP
    width: int
    height: int
    sha256: str
    decoded: PILImage.Image  # fully decoded, reused for the thumbnail

    @property
    def extension(self) -> str:
        return FORMATS[self.format]


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's magic bytes, or None when it is none we accept."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def check_container(data: bytes, sniffed: str) -> None:
    """The file must end exactly where its format says it ends: a truncated file or one with
    bytes appended (an image-and-HTML polyglot) is refused before any decoding."""
    if sniffed == "PNG":
        offset = 8
        while True:
            if offset + 12 > len(data):
                raise InvalidImage("the PNG is truncated (it has no IEND chunk)")
            length = int.from_bytes(data[offset : offset + 4], "big")
            kind = data[offset + 4 : offset + 8]
            offset += 12 + length
            if kind == b"IEND":
                break
        end = offset
    elif sniffed == "JPEG":
        if not data.endswith(b"\xff\xd9"):
            raise InvalidImage(
                "the JPEG does not end with its end-of-image marker (it is "
                "truncated or has data appended)"
            )
        return
    else:  # WEBP: the RIFF header states the size of the rest
        size = int.from_bytes(data[4:8], "little")
        end = 8 + size + (size & 1)
    if end > len(data):
        raise InvalidImage(f"the {sniffed} is truncated")
    if end < len(data):
        raise InvalidImage(
            f"the file has {len(data) - end:,} bytes of other data after the "
            f"{sniffed} image (a polyglot)"
        )


def validate_image(data: bytes) -> ValidatedImage:
    """Check size, magic bytes, declared dimensions and a full decode; raise InvalidImage."""
    limit = settings.MAX_IMAGE_SIZE
    if len(data) > limit:
        raise InvalidImage(f"the image is {len(data):,} bytes, over the {limit:,}-byte limit")
    if not data:
        raise InvalidImage("the image is empty")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise InvalidImage("the file is not a PNG, JPEG or WebP image")
    check_container(data, sniffed)
    digest = _Sha256(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PILImage.DecompressionBombWarning)
        try:
            image = PILImage.open(io.BytesIO(data))
            if image.format != sniffed:
                raise InvalidImage("the file's contents do not match its image type")
            width, height = image.size
            # Checked on the header, before any pixel is decoded.
            if width * height > settings.MAX_IMAGE_PIXELS or width < 1 or height < 1:
                raise InvalidImage(
                    f"the image declares {width}×{height} pixels, over the "
                    f"{settings.MAX_IMAGE_PIXELS:,}-pixel limit"
                )
            image.load()
        except InvalidImage:
            raise
        except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
            raise InvalidImage(
                f"the image declares more pixels than the {settings.MAX_IMAGE_PIXELS:,}-pixel "
                "limit allows (a decompression bomb)"
            ) from None
        except PILImage.UnidentifiedImageError:
            # Its message names a Python object address: no use to the user.
            raise InvalidImage("the image could not be decoded (unrecognised image data)") from None
        except (OSError, SyntaxError, ValueError) as exc:
            raise InvalidImage(f"the image could not be decoded ({exc})") from None
    return ValidatedImage(
        data=data,
        format=sniffed,
        width=width,
        height=height,
        sha256=digest.hexdigest(),
        decoded=image,
    )


class _Sha256:
    """The SHA-256 of ``data``, computed on a thread of its own when the data is large, so
    that it overlaps the decode instead of following it (bench figure 1)."""

    def __init__(self, data: bytes):
        self._hex: str | None = None
        self._thread: threading.Thread | None = None
        if len(data) >= PARALLEL_HASH_BYTES:
            self._thread = threading.Thread(
                target=self._run, args=(data,), daemon=True, name="ingest-sha256"
            )
            self._thread.start()
        else:
            self._run(data)

    def _run(self, data: bytes) -> None:
        self._hex = hashlib.sha256(data).hexdigest()

    def hexdigest(self) -> str:
        if self._thread is not None:
            self._thread.join()
        if self._hex is None:  # pragma: no cover (hashlib does not fail on bytes)
            raise RuntimeError("hashing the image failed")
        return self._hex


def make_thumbnail(image: PILImage.Image, size: int) -> bytes:
    """A WebP no larger than ``size`` on its longer side, keeping the aspect ratio."""
    thumb = (
        image.copy()
        if image.mode in ("RGB", "RGBA")
        else image.convert("RGBA" if "A" in image.getbands() or image.mode == "P" else "RGB")
    )
    # reducing_gap=1.0: an area-averaging reduce() does most of the shrink (a 4x box filter
    # is already anti-aliased), LANCZOS only the last fractional step; WebP method 2 encodes
    # about 3x faster than 4 at the same quality setting. Together they take a 1024² ingest
    # from ~2.3x to ~1.5x of the bare decode (bench/bench_ingest.py, docs/benchmarks.md).
    thumb.thumbnail((size, size), PILImage.Resampling.LANCZOS, reducing_gap=1.0)
    out = io.BytesIO()
    thumb.save(out, format="WEBP", quality=80, method=2)
    return out.getvalue()


# --- Uploads: orientation and metadata --------------------------------------------------------

EXIF_ORIENTATION = 0x0112
# PNG chunks that carry metadata (text, EXIF, time), never pixels or colour.
PNG_METADATA_CHUNKS = {b"tEXt", b"zTXt", b"iTXt", b"eXIf", b"tIME"}
# JPEG segments that carry metadata: APP1 (EXIF, XMP), APP13 (IPTC), COM. APP0 (JFIF), APP2
# (the ICC colour profile) and APP14 (Adobe colour transform) change how pixels look: kept.
JPEG_METADATA_MARKERS = {0xE1, 0xED, 0xFE}
WEBP_METADATA_CHUNKS = {b"EXIF", b"XMP "}


def prepare_upload(data: bytes, *, keep_metadata: bool = False) -> ValidatedImage:
    """An uploaded file as it is stored: validated exactly like a provider's result
    (``validate_image``: size, magic, container, declared pixels, a full decode), turned
    upright when its EXIF orientation says so, and without its metadata (EXIF with GPS, XMP,
    IPTC, text chunks, comments) unless ``keep_metadata``. Stripping is lossless (the
    metadata blocks are cut out); only a rotation re-encodes the pixels. The colour profile
    is kept either way. Raises InvalidImage."""
    checked = validate_image(data)
    orientation = checked.decoded.getexif().get(EXIF_ORIENTATION, 1)
    if orientation not in (None, 1):
        return validate_image(_upright(checked, keep_metadata))
    if keep_metadata:
        return checked
    stripped = strip_metadata(data, checked.format)
    return checked if stripped == data else validate_image(stripped)


def _upright(checked: ValidatedImage, keep_metadata: bool) -> bytes:
    source = checked.decoded
    exif = source.getexif()
    upright = ImageOps.exif_transpose(source)
    options: dict = {}
    if source.info.get("icc_profile"):
        options["icc_profile"] = source.info["icc_profile"]
    if keep_metadata:
        exif[EXIF_ORIENTATION] = 1
        options["exif"] = exif.tobytes()
    if checked.format == "JPEG":
        options.update(quality=95, subsampling=0)
        upright = upright.convert("RGB") if upright.mode not in ("RGB", "L", "CMYK") else upright
    elif checked.format == "WEBP":
        options.update(quality=95)
    out = io.BytesIO()
    upright.save(out, format=checked.format, **options)
    return out.getvalue()


def strip_metadata(data: bytes, fmt: str) -> bytes:
    """``data`` without its metadata blocks (see the constants above), pixels untouched."""
    if fmt == "PNG":
        return _strip_png(data)
    if fmt == "JPEG":
        return _strip_jpeg(data)
    return _strip_webp(data)


def _strip_png(data: bytes) -> bytes:
    out = [data[:8]]
    offset = 8
    while offset + 12 <= len(data):
        length = int.from_bytes(data[offset : offset + 4], "big")
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if kind not in PNG_METADATA_CHUNKS:
            out.append(data[offset:end])
        offset = end
        if kind == b"IEND":
            break
    return b"".join(out)


def _strip_jpeg(data: bytes) -> bytes:
    out = [data[:2]]  # SOI
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            break  # not a marker: leave the rest as it is
        marker = data[offset + 1]
        if marker == 0xDA:  # start of scan: the compressed data follows to the end
            out.append(data[offset:])
            return b"".join(out)
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            out.append(data[offset : offset + 2])
            offset += 2
            continue
        length = int.from_bytes(data[offset + 2 : offset + 4], "big")
        end = offset + 2 + length
        if marker not in JPEG_METADATA_MARKERS:
            out.append(data[offset:end])
        offset = end
    out.append(data[offset:])
    return b"".join(out)


def _strip_webp(data: bytes) -> bytes:
    chunks = []
    offset = 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        size = int.from_bytes(data[offset + 4 : offset + 8], "little")
        end = offset + 8 + size + (size & 1)
        chunk = data[offset:end]
        if kind == b"VP8X":  # clear the "has EXIF" (0x08) and "has XMP" (0x04) flags
            chunk = chunk[:8] + bytes([chunk[8] & ~0x0C]) + chunk[9:]
        if kind not in WEBP_METADATA_CHUNKS:
            chunks.append(chunk)
        offset = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + len(body).to_bytes(4, "little") + body
