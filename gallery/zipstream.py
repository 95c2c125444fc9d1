"""A ZIP archive written as a stream of byte chunks, never held whole in memory or on disk.

``zipfile`` writes to any object with ``write``; given one that cannot seek, it puts each
member's sizes and CRC in a data descriptor after the member. ``stream_zip`` hands it such a
sink and yields whatever has been written after every slice, so the archive leaves the
process as it is made: at most one member's bytes are held at a time.
"""

import io
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

CHUNK_SIZE = 64 * 1024


class _Sink(io.RawIOBase):
    """A write-only, unseekable buffer that is emptied every time it is read."""

    def __init__(self):
        super().__init__()
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


@dataclass
class ZipMember:
    """One file of the archive. ``content`` is called only when the member's turn comes, so
    files are read one at a time while the archive streams; it may return None to skip."""

    name: str
    content: Callable[[], bytes | None]
    modified: datetime | None = None
    compress: bool = False  # images are compressed already; text manifests are not


def stream_zip(members: Iterable[ZipMember]) -> Iterator[bytes]:
    """Yield the bytes of a ZIP archive of ``members``, in order, chunk by chunk."""
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", allowZip64=True) as archive:
        for member in members:
            data = member.content()
            if data is None:
                continue
            when = member.modified or datetime.now()
            info = zipfile.ZipInfo(member.name, date_time=_zip_time(when))
            info.compress_type = zipfile.ZIP_DEFLATED if member.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            info.file_size = len(data)
            with archive.open(info, "w") as handle:
                for start in range(0, len(data), CHUNK_SIZE):
                    handle.write(data[start : start + CHUNK_SIZE])
                    chunk = sink.take()
                    if chunk:
                        yield chunk
            del data
            chunk = sink.take()
            if chunk:
                yield chunk
    chunk = sink.take()
    if chunk:
        yield chunk


def _zip_time(when: datetime) -> tuple[int, int, int, int, int, int]:
    # ZIP dates start in 1980 and have no time zone; store local wall-clock time.
    if when.tzinfo is not None:
        when = timezone.localtime(when)
    if when.year < 1980:
        return (1980, 1, 1, 0, 0, 0)
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)
