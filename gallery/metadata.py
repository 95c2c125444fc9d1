"""Generation parameters written into a downloaded file, so they travel with the image.

The stored original stays byte-for-byte unchanged (its name is its hash); a download gets a
copy with the parameters added at the container level, without re-encoding any pixels:

- PNG: an iTXt chunk ``imagegen`` holding JSON, and the ``parameters`` text chunk that
  A1111-style tools read (tEXt when the text is Latin-1, iTXt otherwise), right after IHDR.
- JPEG: an XMP packet in an APP1 segment, after the leading JFIF/EXIF segments.
- WebP: an XMP packet in an ``XMP `` chunk of the extended (VP8X) format.

Chunks or segments of ours left by an earlier embedding are replaced, never duplicated.

The parameters include what made the image (docs/image-operations.md): its ``operation``,
its ``origin`` (generated or upload) and its ``inputs``, the lineage as the downloading user
may see it: ``[{image, role, state}]``, a deleted parent keeping the id it had, a parent
the user may not see (``hidden``) and a drawn mask without one.
"""

import io
import json
import re
import struct
import zlib
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from PIL import Image as PILImage

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_JSON_KEY = "imagegen"
PNG_PARAMETERS_KEY = "parameters"
XMP_NAMESPACE = "urn:imagegen:xmp:1.0#"
JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
# An APP1 segment's payload is at most 65,533 bytes (a 16-bit length that counts itself).
JPEG_SEGMENT_MAX = 65533
# Characters XML 1.0 forbids; a prompt may contain them, an XMP packet may not.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def image_metadata(image, inputs=()) -> dict:
    """The parameters a file carries: prompt, negative prompt, provider, model, seed, steps,
    CFG, size, and what made it: operation, origin and ``inputs`` (gallery.lineage's
    ``[{image, role, state}]`` for the downloading user). ``image`` is a gallery Image with
    its generation loaded."""
    generation = image.generation
    seed = image.known_seed
    return {
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "provider": generation.provider,
        "model": generation.model,
        "seed": seed,
        "steps": generation.steps,
        "cfg_scale": generation.cfg_scale,
        "width": image.width,
        "height": image.height,
        "operation": generation.operation,
        "origin": image.origin,
        "inputs": [dict(item) for item in inputs],
        "software": "imagegen",
    }


def inputs_text(inputs) -> str:
    """The lineage in words for text fields (A1111 parameters, manifest.csv): ``input 12;
    input 14 (deleted); mask (drawn)``. No commas: the parameters line is comma-separated."""
    words = []
    for item in inputs or ():
        if item.get("image") is None:
            words.append(f"{item['role']} ({item.get('state', 'unknown')})")
        elif item.get("state") == "deleted":
            words.append(f"{item['role']} {item['image']} (deleted)")
        else:
            words.append(f"{item['role']} {item['image']}")
    return "; ".join(words)


def parameters_text(meta: dict) -> str:
    """The A1111-style ``parameters`` text: prompt, ``Negative prompt:`` line, settings line
    (with the operation and its inputs when it is not a plain generation)."""
    lines = [meta["prompt"]]
    if meta.get("negative_prompt"):
        lines.append(f"Negative prompt: {meta['negative_prompt']}")
    settings = []
    if meta.get("steps") is not None:
        settings.append(f"Steps: {meta['steps']}")
    if meta.get("cfg_scale") is not None:
        settings.append(f"CFG scale: {meta['cfg_scale']:g}")
    if meta.get("seed") is not None:
        settings.append(f"Seed: {meta['seed']}")
    settings.append(f"Size: {meta['width']}x{meta['height']}")
    settings.append(f"Model: {meta['model']}")
    settings.append(f"Provider: {meta['provider']}")
    if meta.get("operation") not in (None, "generate"):
        settings.append(f"Operation: {meta['operation']}")
    if meta.get("inputs"):
        settings.append(f"Inputs: {inputs_text(meta['inputs'])}")
    lines.append(", ".join(settings))
    return "\n".join(lines)


def would_replace_metadata(data: bytes, image_format: str) -> bool:
    """Whether the file already holds metadata where ``embed_metadata`` writes (a PNG's
    ``parameters`` or ``imagegen`` text, a JPEG's or WebP's XMP packet): an upload whose
    metadata was kept carries its own there, which a download must not overwrite."""
    if image_format == "PNG" and data.startswith(PNG_SIGNATURE):
        ours = {PNG_JSON_KEY.encode(), PNG_PARAMETERS_KEY.encode()}
        return any(_png_keyword(kind, chunk) in ours for kind, chunk in _png_chunks(data))
    if image_format == "JPEG" and data.startswith(b"\xff\xd8"):
        return any(_is_xmp(marker, segment) for marker, segment in _jpeg_header(data)[0])
    if image_format == "WEBP" and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return any(kind == b"XMP " for kind, _ in _riff_chunks(data))
    return False


def embed_metadata(data: bytes, image_format: str, meta: dict) -> bytes:
    """A copy of the file's bytes with ``meta`` embedded; unknown formats come back as-is."""
    if image_format == "PNG":
        return _embed_png(data, meta)
    if image_format == "JPEG":
        return _embed_jpeg(data, meta)
    if image_format == "WEBP":
        return _embed_webp(data, meta)
    return data


# --- PNG ------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def _png_text_chunk(keyword: str, text: str) -> bytes:
    try:
        return _png_chunk(b"tEXt", keyword.encode("latin-1") + b"\x00" + text.encode("latin-1"))
    except UnicodeEncodeError:
        return _png_itxt_chunk(keyword, text)


def _png_itxt_chunk(keyword: str, text: str) -> bytes:
    # keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated
    # keyword, NUL, then UTF-8 text.
    payload = keyword.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8")
    return _png_chunk(b"iTXt", payload)


def _png_chunks(data: bytes):
    """(type, whole chunk bytes) for each chunk after the signature."""
    offset = len(PNG_SIGNATURE)
    while offset + 12 <= len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        end = offset + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        yield kind, data[offset:end]
        offset = end
        if kind == b"IEND":
            return


def _png_keyword(kind: bytes, chunk: bytes) -> bytes | None:
    if kind not in (b"tEXt", b"iTXt", b"zTXt"):
        return None
    return chunk[8:-4].split(b"\x00", 1)[0]


def _embed_png(data: bytes, meta: dict) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise ValueError("not a PNG")
    ours = {PNG_JSON_KEY.encode(), PNG_PARAMETERS_KEY.encode()}
    text = _png_itxt_chunk(PNG_JSON_KEY, json.dumps(meta, ensure_ascii=False)) + _png_text_chunk(
        PNG_PARAMETERS_KEY, parameters_text(meta)
    )
    out = [PNG_SIGNATURE]
    for kind, chunk in _png_chunks(data):
        if _png_keyword(kind, chunk) in ours:
            continue
        out.append(chunk)
        if kind == b"IHDR":
            # Before IDAT, so readers that stop at the pixels (Pillow's open) see it.
            out.append(text)
    return b"".join(out)


# --- XMP (JPEG and WebP) --------------------------------------------------------------------

_XMP_FIELDS = (
    ("prompt", "prompt"),
    ("negative_prompt", "negativePrompt"),
    ("provider", "provider"),
    ("model", "model"),
    ("seed", "seed"),
    ("steps", "steps"),
    ("cfg_scale", "cfgScale"),
    ("width", "width"),
    ("height", "height"),
    ("operation", "operation"),
    ("origin", "origin"),
)


def _xml_text(value) -> str:
    return escape(_XML_INVALID.sub("", str(value)))


def xmp_packet(meta: dict, *, with_parameters: bool = True) -> bytes:
    """An XMP packet with each parameter as an ``imagegen:`` property, the prompt also as
    ``dc:description``, and (optionally) the A1111-style text as ``imagegen:parameters``."""
    props = []
    for key, name in _XMP_FIELDS:
        value = meta.get(key)
        if value is None or value == "":
            continue
        props.append(f"<imagegen:{name}>{_xml_text(value)}</imagegen:{name}>")
    if meta.get("inputs"):
        # JSON, as in the PNG's imagegen chunk: [{"image": 12, "role": "input", ...}].
        inputs = json.dumps(meta["inputs"], ensure_ascii=False, separators=(",", ":"))
        props.append(f"<imagegen:inputs>{_xml_text(inputs)}</imagegen:inputs>")
    if with_parameters:
        props.append(
            f"<imagegen:parameters>{_xml_text(parameters_text(meta))}</imagegen:parameters>"
        )
    description = _xml_text(meta.get("prompt", ""))
    body = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        '<rdf:Description rdf:about=""'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/"'
        ' xmlns:xmp="http://ns.adobe.com/xap/1.0/"'
        f' xmlns:imagegen="{XMP_NAMESPACE}">'
        "<xmp:CreatorTool>imagegen</xmp:CreatorTool>"
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">{description}</rdf:li>'
        "</rdf:Alt></dc:description>" + "".join(props) + "</rdf:Description></rdf:RDF></x:xmpmeta>"
        '<?xpacket end="w"?>'
    )
    return body.encode("utf-8")


def read_xmp(xmp: bytes | str) -> dict:
    """The ``imagegen:`` properties of an XMP packet, as text (used by tests and tools)."""
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8")
    start = xmp.index("<x:xmpmeta")
    end = xmp.index("</x:xmpmeta>") + len("</x:xmpmeta>")
    root = ElementTree.fromstring(xmp[start:end])  # noqa: S314 - our own packet
    found = {}
    for element in root.iter():
        if element.tag.startswith("{" + XMP_NAMESPACE + "}"):
            found[element.tag[len(XMP_NAMESPACE) + 2 :]] = element.text or ""
    return found


# --- JPEG -----------------------------------------------------------------------------------


def _jpeg_xmp_segment(meta: dict) -> bytes:
    packet = xmp_packet(meta)
    if len(JPEG_XMP_HEADER) + len(packet) + 2 > JPEG_SEGMENT_MAX:
        packet = xmp_packet(meta, with_parameters=False)
    if len(JPEG_XMP_HEADER) + len(packet) + 2 > JPEG_SEGMENT_MAX:
        # A very long prompt: keep what fits (the JSON in PNGs has no such limit).
        budget = (JPEG_SEGMENT_MAX - len(JPEG_XMP_HEADER) - 2 - 2048) // 4 // 2
        meta = {
            **meta,
            "prompt": meta["prompt"][:budget] + "…",
            "negative_prompt": (meta.get("negative_prompt") or "")[:budget],
        }
        packet = xmp_packet(meta, with_parameters=False)
    payload = JPEG_XMP_HEADER + packet
    return b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload


def _jpeg_header(data: bytes) -> tuple[list[tuple[int, bytes]], int]:
    """The (marker, whole segment) pairs before the scan, and the offset where the rest (the
    scan, or a marker without a length) starts."""
    segments = []
    offset = 2
    while offset + 4 <= len(data) and data[offset] == 0xFF:
        marker = data[offset + 1]
        if marker == 0xFF:  # fill byte
            offset += 1
            continue
        if marker in (0xDA, 0xD9) or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            break  # start of scan (or a marker without a length): the rest is copied as-is
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        segments.append((marker, data[offset : offset + 2 + length]))
        offset += 2 + length
    return segments, offset


def _is_xmp(marker: int, segment: bytes) -> bool:
    return marker == 0xE1 and segment[4:].startswith(JPEG_XMP_HEADER)


def _embed_jpeg(data: bytes, meta: dict) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    leading = []  # APP0 (JFIF) and EXIF APP1 that must stay first
    others = []  # the other segments before the scan, in their order
    segments, offset = _jpeg_header(data)
    for marker, segment in segments:
        if _is_xmp(marker, segment):
            continue  # an old XMP packet: replaced by ours
        if not others and (marker == 0xE0 or (marker == 0xE1 and segment[4:].startswith(b"Exif"))):
            leading.append(segment)
        else:
            others.append(segment)
    return b"".join([b"\xff\xd8", *leading, _jpeg_xmp_segment(meta), *others, data[offset:]])


# --- WebP -----------------------------------------------------------------------------------

_VP8X_XMP = 0x04
_VP8X_ALPHA = 0x10


def _riff_chunks(data: bytes):
    offset = 12
    while offset + 8 <= len(data):
        kind = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        payload = data[offset + 8 : offset + 8 + size]
        if len(payload) != size:
            raise ValueError("truncated WebP chunk")
        yield kind, payload
        offset += 8 + size + (size & 1)


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def _embed_webp(data: bytes, meta: dict) -> bytes:
    if not (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        raise ValueError("not a WebP")
    chunks = [(kind, payload) for kind, payload in _riff_chunks(data) if kind != b"XMP "]
    if chunks and chunks[0][0] == b"VP8X":
        header = bytearray(chunks[0][1])
        header[0] |= _VP8X_XMP
        chunks[0] = (b"VP8X", bytes(header))
    else:
        # The simple format cannot hold metadata: promote it to the extended one.
        width, height = PILImage.open(io.BytesIO(data)).size
        flags = _VP8X_XMP
        for kind, payload in chunks:
            # VP8L: 0x2f, then 14+14 bits of size and one bit saying alpha is used.
            if kind == b"VP8L" and len(payload) >= 5:
                (bits,) = struct.unpack("<I", payload[1:5])
                if (bits >> 28) & 1:
                    flags |= _VP8X_ALPHA
            elif kind == b"ALPH":
                flags |= _VP8X_ALPHA
        vp8x = (
            bytes([flags, 0, 0, 0])
            + (width - 1).to_bytes(3, "little")
            + (height - 1).to_bytes(3, "little")
        )
        chunks.insert(0, (b"VP8X", vp8x))
    chunks.append((b"XMP ", xmp_packet(meta)))
    body = b"WEBP" + b"".join(_riff_chunk(kind, payload) for kind, payload in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
