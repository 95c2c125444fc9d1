"""Consistency between storage and the rows that name files, and rebuilding thumbnails.

``check_storage`` finds orphan files (stored, but no row refers to them), rows whose files
are missing, and stray files in ``temp/``; with ``fix`` it deletes the orphans and the stale
temp files and rebuilds missing thumbnails from their originals. ``regenerate_thumbnails``
rebuilds every thumbnail at a size. Both work on the local folder and on S3.

Files are named by Image rows (original and thumbnail) and by the masks drawn for a
generation (a GenerationInput without a gallery image, ``image_ref`` empty): those are kept
exactly as ``gallery.services.discard_unreferenced`` keeps them. An input that was a gallery
image keeps no file of its own: its image's row does, until it is deleted.
"""

import io
import logging
import os
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from PIL import Image as PILImage

from gallery.models import GenerationInput, Image
from gallery.services import discard_unreferenced
from imagegen.core.imaging import make_thumbnail
from imagegen.core.storage import StoredFile, thumbnail_name

logger = logging.getLogger(__name__)

CHECKED_PREFIXES = ("images", "thumbnails")
TEMP_PREFIX = "temp"
DEFAULT_MIN_AGE = 3600


@dataclass
class StorageReport:
    """What check_storage found and, with fix, what it did."""

    orphans: list[str] = field(default_factory=list)
    recent_unreferenced: list[str] = field(default_factory=list)
    missing_originals: list[tuple[int, str]] = field(default_factory=list)
    missing_thumbnails: list[tuple[int, str]] = field(default_factory=list)
    # Drawn masks (GenerationInput id, name) whose file is gone: a retry cannot read them.
    missing_inputs: list[tuple[int, str]] = field(default_factory=list)
    stale_temp: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    regenerated: list[str] = field(default_factory=list)
    not_repairable: list[tuple[int, str]] = field(default_factory=list)

    @property
    def problems(self) -> int:
        return (
            len(self.orphans)
            + len(self.missing_originals)
            + len(self.missing_thumbnails)
            + len(self.missing_inputs)
            + len(self.stale_temp)
        )


def iter_files(storage, prefix: str) -> Iterator[StoredFile]:
    """Every file under ``prefix`` of the storage, without loading the list into memory."""
    custom = getattr(storage, "iter_files", None)
    if custom is not None:
        yield from custom(prefix)
        return
    if isinstance(storage, FileSystemStorage):
        root = storage.path("")
        for folder, _dirs, files in os.walk(storage.path(prefix)):
            for file_name in files:
                full = os.path.join(folder, file_name)
                try:
                    modified = datetime.fromtimestamp(os.stat(full).st_mtime, tz=UTC)
                except FileNotFoundError:
                    continue  # removed while we walked
                name = os.path.relpath(full, root).replace(os.sep, "/")
                yield StoredFile(name, modified)
        return
    directories, files = storage.listdir(prefix)
    for file_name in files:
        name = posixpath.join(prefix, file_name)
        yield StoredFile(name, storage.get_modified_time(name))
    for directory in directories:
        yield from iter_files(storage, posixpath.join(prefix, directory))


def _drawn_inputs():
    """The generation inputs that keep a file of their own: masks drawn for a generation."""
    return GenerationInput.objects.filter(image_ref__isnull=True)


def _referenced_names() -> set[str]:
    names = set()
    for file_name, thumbnail in Image.objects.values_list("file", "thumbnail").iterator(
        chunk_size=2000
    ):
        names.add(file_name)
        names.add(thumbnail)
    names.update(_drawn_inputs().values_list("file", flat=True).iterator(chunk_size=2000))
    return names


def _thumbnail_size(name: str) -> int:
    stem = posixpath.basename(name).rsplit(".", 1)[0]
    try:
        return int(stem.rsplit("_", 1)[1])
    except (IndexError, ValueError):
        return settings.THUMBNAIL_SIZE


def render_thumbnail(original_name: str, size: int, storage=None) -> bytes:
    """A thumbnail of the stored original, as the pipeline makes them."""
    storage = storage or default_storage
    with storage.open(original_name, "rb") as handle:
        picture = PILImage.open(io.BytesIO(handle.read()))
        picture.load()
    return make_thumbnail(picture, size)


def check_storage(
    *, fix: bool = False, min_age: int = DEFAULT_MIN_AGE, storage=None
) -> StorageReport:
    """Compare storage with the Image rows; with ``fix``, delete orphans and stale temp files
    and rebuild missing thumbnails. Files younger than ``min_age`` seconds are left alone:
    a generation stores its files a moment before it creates their rows."""
    storage = storage or default_storage
    report = StorageReport()
    cutoff = datetime.now(UTC) - timedelta(seconds=min_age)
    # Rows first, then files: a file stored meanwhile looks unreferenced but is young.
    referenced = _referenced_names()
    existing = set()
    for prefix in CHECKED_PREFIXES:
        for stored in iter_files(storage, prefix):
            existing.add(stored.name)
            if stored.name in referenced:
                continue
            if stored.modified <= cutoff:
                report.orphans.append(stored.name)
            else:
                report.recent_unreferenced.append(stored.name)
    for stored in iter_files(storage, TEMP_PREFIX):
        if stored.modified <= cutoff:
            report.stale_temp.append(stored.name)

    rows = Image.objects.values_list("pk", "file", "thumbnail").order_by("pk")
    for pk, file_name, thumbnail in rows.iterator(chunk_size=2000):
        if file_name in existing and thumbnail in existing:
            continue
        # Checked again one by one: a row created after the listing has files by now.
        original_ok = file_name in existing or storage.exists(file_name)
        if not original_ok:
            report.missing_originals.append((pk, file_name))
        if thumbnail not in existing and not storage.exists(thumbnail):
            report.missing_thumbnails.append((pk, thumbnail))
            if fix and not original_ok:
                report.not_repairable.append((pk, thumbnail))

    inputs = _drawn_inputs().values_list("pk", "file").order_by("pk")
    for pk, file_name in inputs.iterator(chunk_size=2000):
        if file_name not in existing and not storage.exists(file_name):
            report.missing_inputs.append((pk, file_name))

    if fix:
        _repair(storage, report)
    return report


def _repair(storage, report: StorageReport) -> None:
    unrepairable = {name for _pk, name in report.not_repairable}
    for _pk, name in report.missing_thumbnails:
        if name in unrepairable or name in report.regenerated:
            continue
        original = Image.objects.filter(thumbnail=name).values_list("file", flat=True).first()
        if original is None:
            continue  # the row went away meanwhile
        try:
            data = render_thumbnail(original, _thumbnail_size(name), storage)
        except (OSError, ValueError, SyntaxError):
            logger.warning("could not rebuild thumbnail %s", name, exc_info=True)
            continue
        storage.save(name, ContentFile(data))
        report.regenerated.append(name)
    # discard_unreferenced checks the rows again, so a file claimed meanwhile is kept.
    before = set(report.orphans)
    discard_unreferenced(report.orphans)
    report.deleted.extend(name for name in before if not storage.exists(name))
    for name in report.stale_temp:
        try:
            storage.delete(name)
            report.deleted.append(name)
        except OSError:
            logger.warning("could not delete temp file %s", name, exc_info=True)


@dataclass
class ThumbnailRun:
    """What regenerate_thumbnails did."""

    written: int = 0
    rows_updated: int = 0
    failed: list[str] = field(default_factory=list)
    discarded: list[str] = field(default_factory=list)


def regenerate_thumbnails(
    size: int | None = None, *, missing_only: bool = False, storage=None
) -> ThumbnailRun:
    """Rebuild each distinct original's thumbnail at ``size`` (default THUMBNAIL_SIZE), point
    its rows at it, and delete the old thumbnails no row uses any more."""
    storage = storage or default_storage
    size = size or settings.THUMBNAIL_SIZE
    run = ThumbnailRun()
    originals = (
        Image.objects.order_by().values_list("sha256", "file").distinct().iterator(chunk_size=500)
    )
    for sha256, file_name in originals:
        name = thumbnail_name(sha256, size)
        exists = storage.exists(name)
        if not (missing_only and exists):
            try:
                data = render_thumbnail(file_name, size, storage)
            except (OSError, ValueError, SyntaxError):
                logger.warning("could not rebuild the thumbnail of %s", file_name, exc_info=True)
                run.failed.append(file_name)
                continue
            if exists:
                storage.delete(name)  # content-addressed storage never overwrites a name
            storage.save(name, ContentFile(data))
            run.written += 1
        old = list(
            Image.objects.filter(file=file_name)
            .exclude(thumbnail=name)
            .values_list("thumbnail", flat=True)
            .distinct()
        )
        run.rows_updated += (
            Image.objects.filter(file=file_name).exclude(thumbnail=name).update(thumbnail=name)
        )
        discard_unreferenced(old)
        run.discarded.extend(old)
    return run
