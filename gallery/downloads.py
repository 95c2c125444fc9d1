"""Downloads: an original with its parameters embedded and a meaningful name, and streamed
ZIP archives of a selection or a project with a manifest of every image's parameters.

Access is decided before anything is read or streamed (callers pass querysets already scoped
by ``for_user(user, "view")``); the streaming itself touches storage only, never the database.

Each file and manifest entry carries what made the image: its operation, origin and inputs
(the lineage as the downloading user may see it, gallery.lineage), loaded with the images.
An uploaded file that kept its own metadata where ours would go is served as stored.
"""

import csv
import hashlib
import io
import json
import logging
from urllib.parse import quote

from django.core.files.storage import default_storage
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone
from django.utils.text import slugify

from gallery.lineage import parents_by_generation
from gallery.metadata import embed_metadata, image_metadata, inputs_text, would_replace_metadata
from gallery.models import Image, Origin
from gallery.zipstream import ZipMember, stream_zip
from imagegen.core.exceptions import NotFound

logger = logging.getLogger(__name__)

NAME_WORDS = 8
NAME_MAX_CHARS = 60
# Columns of manifest.csv, and keys of each manifest.json entry, in this order.
MANIFEST_FIELDS = [
    "id",
    "file",
    "title",
    "prompt",
    "negative_prompt",
    "provider",
    "model",
    "width",
    "height",
    "seed",
    "steps",
    "cfg_scale",
    "created_at",
    "tags",
    "sha256",
    "origin",
    "operation",
    "inputs",
]
# Spreadsheets run a cell that starts with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class MissingFile(NotFound):
    """The image's row exists but its file is not in storage (404)."""

    def __init__(self, name: str):
        super().__init__("The file is missing from storage.")
        self.name = name


def _slug(text: str, *, allow_unicode: bool) -> str:
    words = " ".join(text.split()[:NAME_WORDS])
    slug = slugify(words, allow_unicode=allow_unicode)[:NAME_MAX_CHARS].strip("-_")
    return slug or "image"


def _name_source(image: Image) -> str:
    return image.title or image.generation.prompt or ""


def download_name(image: Image, *, allow_unicode: bool = False) -> str:
    """``<creation day>-<slug of the title, or of the prompt's first words>-<id>.<ext>``,
    e.g. ``2026-12-06-a-red-fox-in-snow-59.png``: sorts by date in a downloads folder."""
    day = f"{timezone.localtime(image.created_at):%Y-%m-%d}"
    slug = _slug(_name_source(image), allow_unicode=allow_unicode)
    return f"{day}-{slug}-{image.pk}.{image.extension}"


def attachment_header(ascii_name: str, unicode_name: str | None = None) -> str:
    """A Content-Disposition for a download: a plain ASCII ``filename`` every client reads,
    and an RFC 5987 ``filename*`` when the real name has other characters."""
    header = f'attachment; filename="{ascii_name}"'
    if unicode_name and unicode_name != ascii_name:
        header += f"; filename*=UTF-8''{quote(unicode_name, safe='')}"
    return header


def read_original(image: Image) -> bytes:
    """The stored original's bytes; MissingFile when storage no longer has them."""
    try:
        with default_storage.open(image.file, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        raise MissingFile(image.file) from None


def with_lineage(user, images: list[Image]) -> list[Image]:
    """Load the inputs of each image's generation as ``user`` may see them (``[{image, role,
    state}]``, gallery.lineage) onto the images, in a fixed number of queries."""
    found = parents_by_generation(user, [image.generation_id for image in images])
    for image in images:
        image.download_inputs = found.get(image.generation_id, [])
    return images


def _metadata(image: Image, user) -> dict:
    if not hasattr(image, "download_inputs"):
        with_lineage(user, [image])
    return image_metadata(image, image.download_inputs)


def file_with_metadata(image: Image, user) -> bytes:
    """The original's bytes with its generation parameters and lineage (as ``user`` sees it)
    embedded (the stored file is not changed). A file whose container cannot be parsed is
    served unchanged, and so is an upload that kept metadata of its own where ours goes."""
    data = read_original(image)
    try:
        if image.origin == Origin.UPLOAD and would_replace_metadata(data, image.format):
            return data
        return embed_metadata(data, image.format, _metadata(image, user))
    except (ValueError, OSError, SyntaxError):
        logger.warning(
            "could not embed metadata into image %s; serving it unchanged", image.pk, exc_info=True
        )
        return data


def download_etag(image: Image, user) -> str:
    """Changes whenever the downloaded bytes or their name would change (for this user: the
    lineage they may see is part of the bytes)."""
    source = json.dumps(
        [
            image.sha256,
            _metadata(image, user),
            download_name(image),
            download_name(image, allow_unicode=True),
        ],
        cls=DjangoJSONEncoder,
    )
    return '"d-' + hashlib.sha256(source.encode()).hexdigest()[:32] + '"'


# --- Archives -------------------------------------------------------------------------------


def archive_queryset(queryset):
    """The rows an archive needs, loaded in a fixed number of queries."""
    return queryset.select_related("generation").prefetch_related("tags")


def manifest_entry(image: Image, file_name: str | None) -> dict:
    """One image's line of the manifest; ``file`` is its name in the archive (None when the
    file was missing from storage). The image's lineage is loaded (``with_lineage``)."""
    generation = image.generation
    entry = {
        "id": image.pk,
        "file": file_name,
        "title": image.title,
        "prompt": generation.prompt,
        "negative_prompt": generation.negative_prompt,
        "provider": generation.provider,
        "model": generation.model,
        "width": image.width,
        "height": image.height,
        "seed": image.known_seed,
        "steps": generation.steps,
        "cfg_scale": generation.cfg_scale,
        "created_at": image.created_at.isoformat(),
        "tags": [tag.name for tag in image.tags.all()],
        "sha256": image.sha256,
        "origin": image.origin,
        "operation": generation.operation,
        "inputs": list(image.download_inputs),
    }
    if file_name is None:
        entry["missing"] = True
    return entry


def csv_cell(value) -> str:
    """A value as CSV text that a spreadsheet shows rather than runs as a formula."""
    if value is None:
        return ""
    if isinstance(value, list):
        value = ", ".join(value)
    text = str(value)
    if text.startswith(FORMULA_PREFIXES):
        return "'" + text
    return text


def manifest_csv(entries: list[dict]) -> bytes:
    """The manifest as CSV (UTF-8 with a BOM so spreadsheets pick the encoding)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(MANIFEST_FIELDS)
    for entry in entries:
        cells = {**entry, "inputs": inputs_text(entry.get("inputs"))}
        writer.writerow([csv_cell(cells.get(name)) for name in MANIFEST_FIELDS])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def manifest_json(entries: list[dict], extra: dict | None = None) -> bytes:
    """The manifest as JSON: ``{"created_at", "count", ..extra, "images": [...]}``."""
    document = {
        "created_at": timezone.now().isoformat(),
        "count": len(entries),
        **(extra or {}),
        "images": entries,
    }
    return json.dumps(document, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder).encode()


def stream_archive(images: list[Image], extra: dict | None = None, *, user):
    """Chunks of a ZIP of ``images`` (already access-checked and loaded) with their parameters
    and lineage (as ``user`` sees it) embedded, then ``manifest.json`` and ``manifest.csv``. A
    file missing from storage is left out and marked ``missing`` in the manifest rather than
    breaking the stream. The lineage is read here, before the first chunk."""
    with_lineage(user, images)
    entries: list[dict] = []

    def member(image: Image) -> ZipMember:
        name = download_name(image)

        def content():
            try:
                data = file_with_metadata(image, user)
            except MissingFile:
                logger.warning(
                    "image %s is missing from storage; left out of the archive", image.pk
                )
                entries.append(manifest_entry(image, None))
                return None
            entries.append(manifest_entry(image, name))
            return data

        return ZipMember(name=name, content=content, modified=image.created_at)

    def members():
        for image in images:
            yield member(image)
        # Written last, so they can say which files were missing.
        yield ZipMember("manifest.json", lambda: manifest_json(entries, extra), compress=True)
        yield ZipMember("manifest.csv", lambda: manifest_csv(entries), compress=True)

    return stream_zip(members())


def archive_name(label: str) -> tuple[str, str]:
    """(ASCII, Unicode) file names of an archive named after ``label``."""
    return (f"{_slug(label, allow_unicode=False)}.zip", f"{_slug(label, allow_unicode=True)}.zip")
