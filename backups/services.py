"""Backups: one ``.tar.gz`` holding a consistent database dump and every stored file, and the
restore of such an archive onto an empty install.

Archive layout (see docs/deploy.md, "Backups")::

    database.sqlite3 | database.json   the database (SQLite: a page-level copy made with the
                                        online backup API; PostgreSQL: dumpdata JSON read in
                                        one REPEATABLE READ transaction)
    files/<storage name>               every file of default_storage except temp/
    manifest.json                      format, engine, applied migrations, database hash, and
                                        each file's name, size and sha256 (written last)

The database is read first, then the files: files are content-addressed and written before
the rows that name them, so every row of the snapshot finds its file unless that file was
deleted during the backup; such files are listed under ``missing_files`` and reported. The
rows that name files are the images (original and thumbnail) and the masks drawn for a
generation (gallery.GenerationInput without a gallery image: the lineage, read again when a
generation is retried); an uploaded image is an image like any other.
Encrypted provider keys and two-factor secrets stay encrypted
(``imagegen.core.crypto.EncryptedSecretField``), so a backup never holds a plaintext key or
TOTP secret, and restoring needs the same ENCRYPTION_KEY.
"""

import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import tarfile
import tempfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.color import no_style
from django.db import connection, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from gallery.models import GenerationInput, Image
from generation.models import Generation
from projects.models import Project
from settings_app.models import ApiKey, TeamKey

FORMAT = "imagegen-backup"
VERSION = 1
MANIFEST = "manifest.json"
FILES = "files/"
SQLITE_DUMP = "database.sqlite3"
JSON_DUMP = "database.json"
# Storage folders that hold nothing worth keeping (half-written uploads).
SKIP_FOLDERS = {"temp"}
# Not in a JSON dump: recreated by migrate (content types, permissions), or transient (the
# job queue's rows, login failures, sessions). Foreign keys to content types and permissions
# are written as natural keys, so they resolve on the new install.
JSON_EXCLUDE = ["contenttypes", "auth.permission", "sessions", "django_q", "axes"]
# Emptied in the SQLite snapshot too: sessions are bearer credentials (a session key signs
# its owner in) and login failures name people and their addresses. (django_q stays there:
# its recovery schedule comes from a migration that a restore does not run again.)
SQLITE_EMPTIED_APPS = ("sessions", "axes")
CHUNK = 1024 * 1024


class BackupError(Exception):
    """The backup or restore cannot go on; the message says why."""


@dataclass
class BackupReport:
    """What a backup wrote or a restore put back."""

    path: Path
    engine: str
    database_bytes: int = 0
    files: int = 0
    file_bytes: int = 0
    skipped_existing: int = 0
    missing_files: list[str] = field(default_factory=list)


def _engine() -> str:
    """The database engine's short name: sqlite or postgresql."""
    return "sqlite" if connection.vendor == "sqlite" else connection.vendor


def _sha256(handle) -> str:
    """SHA-256 hex digest of an open binary file, read in chunks."""
    digest = hashlib.sha256()
    while chunk := handle.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def _applied_migrations() -> list[str]:
    """The applied migrations as sorted ``app.name`` strings."""
    recorder = MigrationRecorder(connection)
    return sorted(f"{app}.{name}" for app, name in recorder.applied_migrations())


def _image_names(image_rows) -> set[str]:
    """The storage names in (file, thumbnail) rows, or (file,) rows of drawn masks."""
    return {name for row in image_rows for name in row if name}


# The drawn masks' files (an input that was a gallery image is named by the image's row).
INPUTS_TABLE = GenerationInput._meta.db_table
DRAWN_INPUTS = f'SELECT "file" FROM "{INPUTS_TABLE}" WHERE "image_ref" IS NULL'  # noqa: S608


def _dump_sqlite(folder: Path) -> tuple[Path, set[str]]:
    """A consistent copy of the live SQLite database (online backup API), and the file names
    its images refer to."""
    target = folder / SQLITE_DUMP
    connection.ensure_connection()
    copy = sqlite3.connect(target)
    try:
        connection.connection.backup(copy)
        copy.execute("PRAGMA secure_delete = ON")  # deleted rows are zeroed, not left in pages
        for model in apps.get_models():
            if model._meta.app_label in SQLITE_EMPTIED_APPS:
                copy.execute(f'DELETE FROM "{model._meta.db_table}"')  # noqa: S608
        copy.commit()
        table = Image._meta.db_table
        rows = copy.execute(f'SELECT "file", "thumbnail" FROM "{table}"').fetchall()
        rows += copy.execute(DRAWN_INPUTS).fetchall()
    finally:
        copy.close()
    return target, _image_names(rows)


def _dump_json(folder: Path) -> tuple[Path, set[str]]:
    """dumpdata of every table, read in one snapshot, and the file names its images refer to.

    Primary keys are kept (no --natural-primary), so ids in URLs, bookmarks and the admin
    history stay the same after a restore; foreign keys use natural keys where they exist.
    """
    target = folder / JSON_DUMP
    # Only a transaction's first statement may set its isolation (a caller's open
    # transaction, as in tests, already gives one snapshot).
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if connection.vendor == "postgresql" and outermost:
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        call_command(
            "dumpdata", natural_foreign=True, exclude=JSON_EXCLUDE, output=str(target), verbosity=0
        )
        rows = Image.objects.values_list("file", "thumbnail")
        masks = GenerationInput.objects.filter(image_ref__isnull=True).values_list("file")
        names = _image_names(rows) | _image_names(masks)
    return target, names


def _walk(storage, folder: str = ""):
    """Every file name under ``folder`` of ``storage``, sorted, skipping SKIP_FOLDERS."""
    try:
        dirs, files = storage.listdir(folder)
    except FileNotFoundError:
        return
    for name in sorted(files):
        yield f"{folder}/{name}" if folder else name
    for name in sorted(dirs):
        if not folder and name in SKIP_FOLDERS:
            continue
        yield from _walk(storage, f"{folder}/{name}" if folder else name)


class _HashingReader:
    """Reads through to ``handle`` while hashing and counting what was read."""

    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def read(self, size=-1):
        data = self.handle.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    """Add an in-memory member to the archive."""
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(timezone.now().timestamp()), 0o600
    tar.addfile(info, io.BytesIO(data))


def _add_storage_file(tar: tarfile.TarFile, name: str) -> dict | None:
    """Copy one stored file into the archive; its manifest entry, or None if it vanished."""
    try:
        size = default_storage.size(name)
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        return None
    with handle:
        info = tarfile.TarInfo(FILES + name)
        info.size, info.mode = size, 0o600
        info.mtime = int(timezone.now().timestamp())
        reader = _HashingReader(handle)
        tar.addfile(info, reader)
    if reader.size != size:
        raise BackupError(f"{name}: changed size while it was copied")
    return {"name": name, "size": size, "sha256": reader.digest.hexdigest()}


def create_backup(path) -> BackupReport:
    """Write a backup archive at ``path`` while the server runs: the database snapshot first,
    then every stored file with its hash; the archive appears only when complete."""
    path = Path(path)
    if path.is_dir():
        raise BackupError(f"{path} is a folder; give the archive's file name (….tar.gz)")
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = _engine()
    report = BackupReport(path=path, engine=engine)
    partial = path.with_name(f".{path.name}.partial")
    with tempfile.TemporaryDirectory(prefix="imagegen-backup-") as folder:
        dump, referenced = (_dump_sqlite if engine == "sqlite" else _dump_json)(Path(folder))
        report.database_bytes = dump.stat().st_size
        with dump.open("rb") as handle:
            dump_sha256 = _sha256(handle)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "created_at": timezone.now().isoformat(),
            "engine": engine,
            "database": {"name": dump.name, "size": report.database_bytes, "sha256": dump_sha256},
            "migrations": _applied_migrations(),
            "files": [],
        }
        try:
            with tarfile.open(partial, "w:gz") as tar:
                tar.add(dump, arcname=dump.name)
                for name in _walk(default_storage):
                    if entry := _add_storage_file(tar, name):
                        manifest["files"].append(entry)
                        report.files += 1
                        report.file_bytes += entry["size"]
                stored = {entry["name"] for entry in manifest["files"]}
                report.missing_files = sorted(referenced - stored)
                manifest["missing_files"] = report.missing_files
                _add_bytes(tar, MANIFEST, json.dumps(manifest, indent=1).encode())
            os.chmod(partial, 0o600)  # everyone's images and prompts: the owner's eyes only
            os.replace(partial, path)
        finally:
            partial.unlink(missing_ok=True)
    return report


# --- Restore ----------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"^[A-Za-z0-9._\-/]+$")


def _check_name(name: str) -> str:
    """``name`` if it is a plain relative storage path outside temp/; BackupError otherwise."""
    parts = PurePosixPath(name).parts
    if (
        not _SAFE_NAME.match(name)
        or name.startswith("/")
        or ".." in parts
        or not parts
        or parts[0] in SKIP_FOLDERS
    ):
        raise BackupError(f"the archive names an unsafe file: {name!r}")
    return name


def database_is_empty() -> bool:
    """True when no user, generation, image, project or key exists (a fresh `migrate`)."""
    models = (get_user_model(), Generation, Image, Project, ApiKey, TeamKey)
    return not any(model.objects.exists() for model in models)


def read_manifest(tar: tarfile.TarFile) -> dict:
    """The archive's manifest, checked to be one of ours."""
    try:
        member = tar.getmember(MANIFEST)
        manifest = json.load(tar.extractfile(member))
    except (KeyError, ValueError) as exc:
        raise BackupError(f"not an imagegen backup (no readable {MANIFEST})") from exc
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise BackupError("not an imagegen backup of a version this install can read")
    return manifest


def _extract_verified(tar, member_name: str, expected: dict, into) -> None:
    """Copy one archive member into the open file ``into``; BackupError if size or hash differ."""
    try:
        source = tar.extractfile(member_name)
    except KeyError:
        raise BackupError(f"{member_name}: listed in the manifest but not in the archive") from None
    reader = _HashingReader(source)
    shutil.copyfileobj(reader, into, CHUNK)
    if reader.size != expected["size"] or reader.digest.hexdigest() != expected["sha256"]:
        raise BackupError(f"{member_name}: its content does not match the manifest's hash")


def _stored_hash(name: str) -> str | None:
    """SHA-256 of the stored file ``name``, or None when storage does not have it."""
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        return None
    with handle:
        return _sha256(handle)


def _restore_files(tar, manifest: dict, report: BackupReport, force: bool) -> None:
    """Put every manifest file into default_storage, verified before and after writing."""
    for entry in manifest["files"]:
        name = entry["name"]
        current = _stored_hash(name)
        if current == entry["sha256"]:
            report.skipped_existing += 1
            continue
        if current is not None:
            if not force:
                raise BackupError(
                    f"{name}: storage already holds different bytes under this "
                    "name; use --force to replace it"
                )
            default_storage.delete(name)
        with tempfile.TemporaryFile() as spool:
            _extract_verified(tar, FILES + name, entry, spool)
            spool.seek(0)
            saved = default_storage.save(name, File(spool, name=name))
        if saved != name or _stored_hash(name) != entry["sha256"]:
            raise BackupError(f"{name}: the stored copy does not match the manifest's hash")
        report.files += 1
        report.file_bytes += entry["size"]


def _restore_sqlite(dump: Path) -> None:
    """Replace the whole database with the snapshot (sqlite3 online backup API)."""
    connection.ensure_connection()
    source = sqlite3.connect(dump)
    try:
        source.backup(connection.connection)
    finally:
        source.close()
    connection.close()


def _restore_json(dump: Path) -> None:
    """Empty every table the dump covers, then load it, in one transaction."""
    excluded_apps = {label for label in JSON_EXCLUDE if "." not in label}
    excluded_models = {label.lower() for label in JSON_EXCLUDE if "." in label}
    tables = [
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label not in excluded_apps
        and model._meta.label_lower not in excluded_models
        and model._meta.managed
        and not model._meta.proxy
    ]
    with transaction.atomic():
        statements = connection.ops.sql_flush(no_style(), tables, allow_cascade=True)
        connection.ops.execute_sql_flush(statements)
        call_command("loaddata", str(dump), verbosity=0)


def restore_backup(path, *, force: bool = False) -> BackupReport:
    """Restore an archive written by ``create_backup`` onto an empty install: check it, put
    back the files (verifying each hash), then the database. Refuses a database that holds
    data unless ``force``."""
    path = Path(path)
    if not path.is_file():
        raise BackupError(f"{path}: no such backup file")
    if not force and not database_is_empty():
        raise BackupError(
            "the database is not empty (it has users or images); restore onto "
            "a fresh install, or pass --force to replace its contents"
        )
    try:
        with (
            tarfile.open(path, "r:gz") as tar,
            tempfile.TemporaryDirectory(prefix="imagegen-restore-") as folder,
        ):
            return _restore_from(tar, Path(folder), path, force)
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackupError(f"{path}: not a readable .tar.gz archive ({exc})") from exc


def _restore_from(tar, folder: Path, path: Path, force: bool) -> BackupReport:
    """The restore itself, on an open archive: check, files, then the database."""
    manifest = read_manifest(tar)
    engine = _engine()
    if manifest["engine"] != engine:
        raise BackupError(
            f"this is a {manifest['engine']} backup; this install uses "
            f"{engine} (restore onto the same database engine)"
        )
    database = manifest["database"]
    if database["name"] not in (SQLITE_DUMP, JSON_DUMP):
        raise BackupError("the manifest names an unknown database dump")
    # Everything the manifest alone can refuse is refused before anything is written.
    if engine != "sqlite" and manifest["migrations"] != _applied_migrations():
        raise BackupError(
            "the backup was made with other migrations than this install has: install the "
            "version of imagegen that made it, restore, then upgrade"
        )
    for entry in manifest["files"]:
        _check_name(entry["name"])
    dump = folder / database["name"]
    with open(dump, "wb") as handle:
        _extract_verified(tar, database["name"], database, handle)
    report = BackupReport(
        path=path,
        engine=engine,
        database_bytes=database["size"],
        missing_files=manifest.get("missing_files", []),
    )
    _restore_files(tar, manifest, report, force)
    if engine == "sqlite":
        _restore_sqlite(dump)
    else:
        _restore_json(dump)
    return report
