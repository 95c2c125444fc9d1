"""POST /api/gallery/upload against the hostile image set the hardening suite already has
(tests/reliability/payloads.py: polyglots, disguised formats, truncations, wrong magic) and
bombs (huge declared sizes): each is a 400 that names the file and says why, and nothing is
stored (no image, no generation, no usage row, no file)."""

import struct

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gallery.models import Image
from generation.models import Generation
from generation.usage.models import DailyUsage
from tests.fakes.base import make_bomb_png
from tests.reliability.payloads import HOSTILE, encode, png_of_exactly

pytestmark = pytest.mark.django_db


def jpeg_declaring(width: int, height: int) -> bytes:
    """A real JPEG whose frame header (SOF0) claims ``width``x``height``."""
    data = bytearray(encode("JPEG", (16, 16)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A real lossy WebP whose VP8 frame header claims ``width``x``height`` (14 bits each)."""
    data = bytearray(encode("WEBP", (16, 16)))
    frame = data.index(b"VP8 ") + 8 + 6  # frame tag (3) and start code (3)
    data[frame : frame + 4] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return bytes(data)


BOMBS = {
    "png-bomb": (make_bomb_png(), "pixel limit"),
    "jpeg-declaring-65000x65000": (jpeg_declaring(65000, 65000), "pixel limit"),
    "webp-declaring-16383x16383": (webp_declaring(16383, 16383), "pixel limit"),
}
PAYLOADS = {**HOSTILE, **BOMBS}


def upload(client, *files):
    parts = [SimpleUploadedFile(name, data, content_type="image/png") for name, data in files]
    return client.post("/api/gallery/upload", {"file": parts}, format="multipart")


def nothing_stored(storage) -> bool:
    return (
        not Image.objects.exists()
        and not Generation.objects.exists()
        and not DailyUsage.objects.exists()
        and not [p for p in storage.rglob("*") if p.is_file()]
    )


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_each_hostile_file_is_refused_by_name_and_nothing_is_stored(
    owner_api, isolated_storage, django_capture_on_commit_callbacks, name
):
    data, words = PAYLOADS[name]
    with django_capture_on_commit_callbacks(execute=True):
        response = upload(owner_api, (f"{name}.png", data))
    assert response.status_code == 400, response.content
    (message,) = response.json()["file"]
    assert message.startswith(f"{name}.png: "), message
    assert words in message, message
    assert nothing_stored(isolated_storage)


def test_a_batch_names_every_hostile_file_and_stores_none_of_the_good_ones(
    owner_api, isolated_storage
):
    good = ("good.png", encode("PNG", (20, 20)))
    hostile = [(f"{name}.png", PAYLOADS[name][0]) for name in ("png-then-html", "png-bomb")]
    response = upload(owner_api, good, *hostile)
    assert response.status_code == 400
    errors = response.json()["file"]
    assert [e.split(":", 1)[0] for e in errors] == ["png-then-html.png", "png-bomb.png"]
    assert nothing_stored(isolated_storage)


def test_the_size_limit_is_exact(owner_api, isolated_storage, settings):
    settings.MAX_IMAGE_SIZE = 4096
    response = upload(owner_api, ("over.png", png_of_exactly(4097)))
    assert response.status_code == 400
    assert response.json()["file"] == ["over.png: 4,097 bytes, over the 4,096-byte limit."]
    assert nothing_stored(isolated_storage)
    assert upload(owner_api, ("at.png", png_of_exactly(4096))).status_code == 201


def test_declared_pixels_are_refused_before_decoding(owner_api, isolated_storage, settings):
    settings.MAX_IMAGE_PIXELS = 64 * 64
    response = upload(owner_api, ("big.png", encode("PNG", (65, 64))))
    assert response.status_code == 400
    assert "declares 65×64 pixels, over the 4,096-pixel limit" in response.json()["file"][0]
    assert upload(owner_api, ("fits.png", encode("PNG", (64, 64)))).status_code == 201


def test_a_hostile_file_name_is_only_text(owner_api, isolated_storage):
    name = "<img src=x onerror=alert(1)>/../../etc/passwd.png"
    response = upload(owner_api, (name, HOSTILE["html-as-png"][0]))
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert nothing_stored(isolated_storage)
