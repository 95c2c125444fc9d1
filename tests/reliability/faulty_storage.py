"""A storage whose disk "fills up": used by the real-worker disk-full test through
``tests.reliability.settings_diskfull``. While the file named by ``DISK_FULL_MARKER`` exists,
every save of a name starting with the marker's text (``images/``, ``thumbnails/``, or empty
for all) writes part of the file into temp/ and then fails with ENOSPC, as a full disk does."""

import errno
import os

from imagegen.core.storage import ContentAddressedStorage


class _FillsUp:
    """File content that yields half its bytes, then fails like a full disk."""

    def __init__(self, content):
        self.data = content.read()

    def chunks(self):
        yield self.data[: len(self.data) // 2]
        raise OSError(errno.ENOSPC, "No space left on device")


class DiskFullStorage(ContentAddressedStorage):
    """ContentAddressedStorage that fails its writes while the marker file exists."""

    def _save(self, name, content):
        marker = os.environ.get("DISK_FULL_MARKER", "")
        if marker and os.path.exists(marker):
            with open(marker) as handle:
                prefix = handle.read().strip()
            if name.startswith(prefix):
                content = _FillsUp(content)
        return super()._save(name, content)
