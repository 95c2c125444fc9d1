"""Content-addressed file storage: names come from the SHA-256 of the bytes, never from input.

Identical bytes are stored once. Writes go to ``temp/`` first and are renamed into place, so a
crash or a full disk never leaves a half-written file under a real name.
"""

import contextlib
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from datetime import datetime

from django.core.files.storage import FileSystemStorage

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
SUBDIRS = ("images", "thumbnails", "temp")


@dataclass(frozen=True)
class StoredFile:
    """A file in storage: its storage name and when it was last written."""

    name: str
    modified: datetime


def _shard(sha256: str) -> str:
    if not _SHA256.match(sha256):
        raise ValueError("not a SHA-256 hex digest")
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


def image_name(sha256: str, extension: str) -> str:
    """Storage name of an original image: ``images/ab/cd/<sha256>.<ext>``."""
    if extension not in ("png", "jpg", "webp"):
        raise ValueError("unsupported extension")
    return f"images/{_shard(sha256)}.{extension}"


def thumbnail_name(sha256: str, size: int) -> str:
    """Storage name of a thumbnail: ``thumbnails/ab/cd/<sha256>_<size>.webp``."""
    return f"thumbnails/{_shard(sha256)}_{int(size)}.webp"


class ContentAddressedStorage(FileSystemStorage):
    """Local storage whose names are content hashes: an existing name already holds the
    same bytes, so saving it again is a no-op; new files appear atomically."""

    def get_available_name(self, name, max_length=None):
        return name

    def _makedirs(self, directory):
        """Create folders with FILE_UPLOAD_DIRECTORY_PERMISSIONS (0700, 0750 for x-accel),
        whatever the process umask; existing folders keep their mode."""
        os.makedirs(directory, exist_ok=True)
        mode = self.directory_permissions_mode
        if mode is None:
            return
        root = os.path.abspath(self.location)
        path = os.path.abspath(directory)
        while path.startswith(root) and path != os.path.dirname(path):
            if stat.S_IMODE(os.stat(path).st_mode) != mode:
                os.chmod(path, mode)
            if path == root:
                break
            path = os.path.dirname(path)

    def _save(self, name, content):
        full_path = self.path(name)
        if os.path.exists(full_path):
            return name
        directory = os.path.dirname(full_path)
        self._makedirs(directory)
        temp_dir = self.path("temp")
        self._makedirs(temp_dir)
        fd, temp_path = tempfile.mkstemp(dir=temp_dir, prefix="upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                if hasattr(content, "chunks"):
                    for chunk in content.chunks():
                        handle.write(chunk)
                else:
                    handle.write(content.read())
                handle.flush()
                os.fsync(handle.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temp_path, self.file_permissions_mode)
            os.replace(temp_path, full_path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp_path)
            raise
        return name

    def ensure_layout(self):
        """Create images/, thumbnails/ and temp/ under the storage folder."""
        for sub in SUBDIRS:
            self._makedirs(self.path(sub))
