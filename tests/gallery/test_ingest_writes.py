"""store_image_files writes the original on a second thread (local storage) while it makes the
thumbnail: both files land under their content names, and when either write fails the other
is removed and the error is the caller's. The SHA-256 computed beside the decode is the
SHA-256 of the bytes."""

import errno
import hashlib
import io
import os

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gallery.services import store_image_files
from imagegen.core.imaging import PARALLEL_HASH_BYTES, validate_image
from imagegen.core.storage import ContentAddressedStorage


def big_png() -> bytes:
    """A PNG over PARALLEL_HASH_BYTES, so the hash runs on its own thread."""
    picture = PILImage.frombytes("RGB", (512, 512), os.urandom(512 * 512 * 3))
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=0)
    data = out.getvalue()
    assert len(data) >= PARALLEL_HASH_BYTES
    return data


def test_parallel_hash_is_the_sha256_of_the_bytes():
    data = big_png()
    assert validate_image(data).sha256 == hashlib.sha256(data).hexdigest()


@pytest.mark.django_db
def test_both_files_are_stored_under_their_content_names():
    image = validate_image(big_png())
    stored = store_image_files(image)
    assert stored.created == [stored.file, stored.thumbnail]
    with default_storage.open(stored.file) as handle:
        assert handle.read() == image.data
    assert default_storage.exists(stored.thumbnail)
    assert os.listdir(default_storage.path("temp")) == []
    assert store_image_files(image).created == []  # the same content again writes nothing


@pytest.mark.django_db
@pytest.mark.parametrize("failing", ["images/", "thumbnails/"])
def test_a_failed_write_removes_the_other_file_and_raises(monkeypatch, failing):
    real_save = ContentAddressedStorage._save

    def save(self, name, content):
        if name.startswith(failing):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, name, content)

    monkeypatch.setattr(ContentAddressedStorage, "_save", save)
    image = validate_image(big_png())
    with pytest.raises(OSError) as raised:
        store_image_files(image)
    assert raised.value.errno == errno.ENOSPC
    for sub in ("images", "thumbnails"):
        folder = default_storage.path(sub)
        left = [files for _, _, files in os.walk(folder) if files]
        assert left == [], f"{sub}/ still holds {left}"
