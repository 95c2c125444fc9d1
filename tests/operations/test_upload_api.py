"""POST /api/gallery/upload: uploads become gallery images (origin "upload"), validated like
a provider's result, upright, without metadata unless kept; all or nothing."""

import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage

from gallery.models import Image
from generation.models import Generation
from tests.gallery.factories import image_bytes, make_image

pytestmark = pytest.mark.django_db


def _jpeg_with_exif(orientation=1, gps=True) -> bytes:
    picture = PILImage.new("RGB", (40, 20), (200, 30, 30))
    picture.paste((0, 0, 255), (0, 0, 10, 20))  # a blue band on the left
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "CameraMaker"
    if gps:
        exif[0x8825] = {1: "N", 2: (52.0, 31.0, 12.0)}
    out = io.BytesIO()
    picture.save(out, format="JPEG", exif=exif.tobytes(), quality=95)
    return out.getvalue()


def _upload(client, *files, **fields):
    parts = [SimpleUploadedFile(name, data) for name, data in files]
    return client.post("/api/gallery/upload", {"file": parts, **fields}, format="multipart")


def test_upload_makes_gallery_images(owner, owner_api):
    response = _upload(
        owner_api, ("cat.png", image_bytes()), ("dog photo.webp", image_bytes("WEBP"))
    )
    assert response.status_code == 201, response.content
    images = response.json()["images"]
    assert [i["origin"] for i in images] == ["upload", "upload"]
    assert [i["title"] for i in images] == ["cat", "dog photo"]
    assert [i["operation"] for i in images] == ["upload", "upload"]
    assert Image.objects.filter(owner=owner, origin="upload").count() == 2
    # Uploads are not generations in the generation list.
    assert owner_api.get("/api/generations").json()["results"] == []
    make_image(owner)
    listed = owner_api.get("/api/gallery?origin=upload").json()["results"]
    assert sorted(i["id"] for i in listed) == sorted(i["id"] for i in images)
    generated = owner_api.get("/api/gallery?origin=generated").json()["results"]
    assert [i["origin"] for i in generated] == ["generated"]
    assert owner_api.get("/api/gallery?origin=stolen").status_code == 400


def test_gps_is_stripped_unless_kept(owner_api):
    data = _jpeg_with_exif()
    stripped = _upload(owner_api, ("a.jpg", data)).json()["images"][0]
    image = Image.objects.get(pk=stripped["id"])
    from django.core.files.storage import default_storage

    with default_storage.open(image.file, "rb") as handle:
        stored = handle.read()
    assert b"CameraMaker" not in stored and not PILImage.open(io.BytesIO(stored)).getexif()
    kept = _upload(owner_api, ("b.jpg", data), keep_metadata="true").json()["images"][0]
    with default_storage.open(Image.objects.get(pk=kept["id"]).file, "rb") as handle:
        assert handle.read() == data


def test_orientation_is_applied(owner_api):
    data = _jpeg_with_exif(orientation=6)  # rotate 90° clockwise to view
    body = _upload(owner_api, ("r.jpg", data)).json()["images"][0]
    assert (body["width"], body["height"]) == (20, 40)


def test_one_bad_file_refuses_all(owner_api):
    import hashlib

    from django.core.files.storage import default_storage

    from imagegen.core.storage import image_name

    good = image_bytes()
    response = _upload(owner_api, ("good.png", good), ("evil.png", b"<html>not an image</html>"))
    assert response.status_code == 400
    assert response.json()["file"] == ["evil.png: the file is not a PNG, JPEG or WebP image."]
    assert not Image.objects.exists() and not Generation.objects.exists()
    # The good file was stored before the bad one was read, and removed again.
    assert not default_storage.exists(image_name(hashlib.sha256(good).hexdigest(), "png"))


def test_trailing_data_and_oversize_are_refused(owner_api, settings):
    response = _upload(owner_api, ("poly.png", image_bytes() + b"<script>"))
    assert response.status_code == 400 and "polyglot" in response.json()["file"][0]
    settings.MAX_IMAGE_SIZE = 2048
    response = _upload(owner_api, ("big.png", image_bytes(size=(400, 400)) + b"x" * 4096))
    assert response.status_code == 400 and "over the 2,048-byte limit" in response.json()["file"][0]


def test_no_file_and_other_project(owner_api, outsider):
    from projects.models import Project

    assert _upload(owner_api).status_code == 400
    theirs = Project.objects.create(owner=outsider, name="theirs")
    response = _upload(owner_api, ("a.png", image_bytes()), project=theirs.pk)
    assert response.status_code == 400 and response.json() == {"project": ["No such project."]}


def test_upload_then_upscale(owner_api, run_jobs):
    uploaded = _upload(owner_api, ("a.png", image_bytes(size=(30, 20)))).json()["images"][0]
    response = run_jobs(
        owner_api, {"operation": "upscale", "input_images": [uploaded["id"]], "scale": 2}
    )
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == "succeeded", generation.error
    child = generation.images.get()
    detail = owner_api.get(f"/api/gallery/{child.pk}").json()
    assert detail["parents"] == [{"image": uploaded["id"], "role": "input", "state": "present"}]
    parent = owner_api.get(f"/api/gallery/{uploaded['id']}").json()
    assert parent["children"] == [{"image": child.pk, "role": "input", "operation": "upscale"}]
    owner_api.delete(f"/api/gallery/{uploaded['id']}")
    detail = owner_api.get(f"/api/gallery/{child.pk}").json()
    assert detail["parents"] == [{"image": uploaded["id"], "role": "input", "state": "deleted"}]


def test_uploads_are_announced_as_images_not_as_generations(owner_api):
    from datetime import timedelta

    from django.utils import timezone

    from gallery.live import new_images
    from generation.live import _rows_since

    _, marker = new_images(None)
    before = timezone.now() - timedelta(seconds=1)
    uploaded = _upload(owner_api, ("a.png", image_bytes())).json()["images"][0]
    events, _ = new_images(marker)
    assert [payload["id"] for _, _, payload in events] == [uploaded["id"]]
    assert _rows_since(before) == []


def test_an_uploads_generation_has_no_page_of_its_own(owner_api, owner_client):
    uploaded = _upload(owner_api, ("a.png", image_bytes())).json()["images"][0]
    assert owner_client.get(f"/generations/{uploaded['generation']}/").status_code == 404
    assert owner_api.get(f"/api/generations/{uploaded['generation']}").status_code == 404
