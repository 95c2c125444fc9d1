"""Downloading one original: its name, its headers, and the parameters embedded in it."""

import hashlib
import io
import json
import struct

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from gallery.metadata import embed_metadata, read_xmp
from tests.gallery.factories import image_bytes, make_image

pytestmark = pytest.mark.django_db


def day(image) -> str:
    """The creation day that starts a download's name."""
    return f"{timezone.localtime(image.created_at):%Y-%m-%d}"


def download(client, image, **headers):
    return client.get(f"/api/gallery/{image.pk}/download", **headers)


def opened(response) -> PILImage.Image:
    picture = PILImage.open(io.BytesIO(response.content))
    picture.load()
    return picture


def test_png_download_is_an_attachment_named_after_the_prompt(owner_api, owner):
    image = make_image(owner, prompt="A red fox, in the SNOW at dawn with mountains behind it")
    response = download(owner_api, image)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == (
        f'attachment; filename="{day(image)}-a-red-fox-in-the-snow-at-dawn-{image.pk}.png"'
    )


def test_download_keeps_the_served_file_headers(owner_api, owner):
    response = download(owner_api, make_image(owner))
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "default-src 'none'" in response["Content-Security-Policy"]
    assert response["Cache-Control"].startswith("private")
    assert response["ETag"]


def test_download_is_named_after_the_title_when_there_is_one(owner_api, owner):
    image = make_image(owner, title="Sunset over the lake")
    assert download(owner_api, image)["Content-Disposition"] == (
        f'attachment; filename="{day(image)}-sunset-over-the-lake-{image.pk}.png"'
    )


def test_non_ascii_name_gets_an_rfc5987_filename_and_an_ascii_fallback(owner_api, owner):
    image = make_image(owner, fmt="JPEG", title="Café 猫")
    header = download(owner_api, image)["Content-Disposition"]
    assert header == (
        f'attachment; filename="{day(image)}-cafe-{image.pk}.jpg"; '
        f"filename*=UTF-8''{day(image)}-caf%C3%A9-%E7%8C%AB-{image.pk}.jpg"
    )


def test_name_falls_back_to_image_when_nothing_ascii_is_left(owner_api, owner):
    image = make_image(owner, prompt="猫 と 犬")
    header = download(owner_api, image)["Content-Disposition"]
    assert header.startswith(
        f'attachment; filename="{day(image)}-image-{image.pk}.png"; filename*=UTF-8'
    )


def test_name_cannot_carry_quotes_or_paths(owner_api, owner):
    image = make_image(owner, title='../../etc/passwd" ; x="y')
    header = download(owner_api, image)["Content-Disposition"]
    assert header == f'attachment; filename="{day(image)}-etcpasswd-xy-{image.pk}.png"'


def test_png_carries_parameters_and_imagegen_chunks(owner_api, owner):
    image = make_image(
        owner,
        prompt="a red fox in snow",
        negative_prompt="blurry, dark",
        seed=1234,
        steps=30,
        cfg_scale=6.5,
    )
    picture = opened(download(owner_api, image))
    assert picture.info["parameters"] == (
        "a red fox in snow\nNegative prompt: blurry, dark\n"
        "Steps: 30, CFG scale: 6.5, Seed: 1234, Size: 48x32, Model: offline-shapes, "
        "Provider: offline"
    )
    assert json.loads(picture.info["imagegen"]) == {
        "prompt": "a red fox in snow",
        "negative_prompt": "blurry, dark",
        "provider": "offline",
        "model": "offline-shapes",
        "seed": 1234,
        "steps": 30,
        "cfg_scale": 6.5,
        "width": 48,
        "height": 32,
        "operation": "generate",
        "origin": "generated",
        "inputs": [],
        "software": "imagegen",
    }


def test_png_with_a_non_latin_prompt_uses_an_itxt_chunk(owner_api, owner):
    image = make_image(owner, prompt="雪の中の赤い狐")
    picture = opened(download(owner_api, image))
    assert picture.info["parameters"].startswith("雪の中の赤い狐\n")
    assert json.loads(picture.info["imagegen"])["prompt"] == "雪の中の赤い狐"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_carry_the_parameters_in_xmp(owner_api, owner, fmt):
    image = make_image(
        owner,
        fmt=fmt,
        prompt="a <lighthouse> & the sea",
        seed=77,
        steps=12,
        cfg_scale=4.0,
        negative_prompt="",
    )
    response = download(owner_api, image)
    assert response["Content-Type"] == ("image/jpeg" if fmt == "JPEG" else "image/webp")
    picture = opened(response)
    assert picture.format == fmt
    found = read_xmp(picture.info["xmp"])
    assert found["prompt"] == "a <lighthouse> & the sea"
    assert "negativePrompt" not in found
    assert (found["provider"], found["model"]) == ("offline", "offline-shapes")
    assert (found["seed"], found["steps"], found["cfgScale"]) == ("77", "12", "4.0")
    assert (found["width"], found["height"]) == ("48", "32")
    assert found["parameters"].startswith("a <lighthouse> & the sea\nSteps: 12, CFG scale: 4,")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_embedding_leaves_pixels_and_the_stored_file_unchanged(owner_api, owner, fmt):
    original = image_bytes(fmt, size=(40, 24))
    image = make_image(owner, data=original)
    downloaded = download(owner_api, image).content
    assert downloaded != original
    assert opened_bytes(downloaded).tobytes() == opened_bytes(original).tobytes()
    with default_storage.open(image.file) as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == image.sha256


def opened_bytes(data: bytes) -> PILImage.Image:
    picture = PILImage.open(io.BytesIO(data))
    picture.load()
    return picture


def test_webp_with_alpha_keeps_its_alpha_when_promoted_to_the_extended_format():
    out = io.BytesIO()
    PILImage.new("RGBA", (20, 10), (1, 2, 3, 100)).save(out, format="WEBP", lossless=True)
    meta = {"prompt": "p", "provider": "x", "model": "m", "width": 20, "height": 10}
    data = embed_metadata(out.getvalue(), "WEBP", meta)
    assert data[12:16] == b"VP8X" and data[20] & 0x14 == 0x14  # alpha and XMP flags
    assert struct.unpack("<I", data[4:8])[0] == len(data) - 8
    picture = opened_bytes(data)
    assert picture.mode == "RGBA" and picture.getpixel((0, 0)) == (1, 2, 3, 100)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_embedding_twice_replaces_rather_than_duplicates(fmt):
    meta = {"prompt": "first", "provider": "x", "model": "m", "width": 48, "height": 32}
    once = embed_metadata(image_bytes(fmt), fmt, meta)
    twice = embed_metadata(once, fmt, {**meta, "prompt": "second"})
    assert b"first" not in twice and twice.count(b"second") == once.count(b"first")


def test_a_very_long_jpeg_prompt_still_fits_one_segment(owner_api, owner):
    image = make_image(owner, fmt="JPEG", prompt="雪" * 10_000)
    picture = opened(download(owner_api, image))
    assert read_xmp(picture.info["xmp"])["prompt"].startswith("雪雪雪")


def test_unchanged_download_answers_304_to_its_etag(owner_api, owner):
    image = make_image(owner)
    etag = download(owner_api, image)["ETag"]
    assert download(owner_api, image, HTTP_IF_NONE_MATCH=etag).status_code == 304
    image.title = "renamed"
    image.save(update_fields=["title"])
    assert download(owner_api, image, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_outsider_gets_404(outsider_api, owner):
    assert download(outsider_api, make_image(owner)).status_code == 404


def test_anonymous_is_refused(api, owner):
    assert download(api, make_image(owner)).status_code in (401, 403)


def test_unknown_id_is_404(owner_api, owner):
    assert owner_api.get("/api/gallery/999999/download").status_code == 404


def test_missing_file_is_404(owner_api, owner):
    image = make_image(owner)
    default_storage.delete(image.file)
    assert download(owner_api, image).status_code == 404
