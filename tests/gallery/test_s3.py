"""S3-compatible storage against moto's S3 server on 127.0.0.1: the pipeline stores images
and thumbnails in the bucket, the access-checked views serve them (streamed or by a signed
redirect), and storage_check works on it."""

import hashlib
import io
import runpy
import urllib.request
import uuid
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from PIL import Image as PILImage

from gallery.models import Image

pytestmark = pytest.mark.django_db

KEYS = {"access_key": "test-access-key", "secret_key": "test-secret-key-never-shown"}
PREFIX = "imagegen"


@pytest.fixture(scope="module")
def moto_endpoint():
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(settings, moto_endpoint):
    """A fresh bucket, made the default storage (under a prefix) for this test."""
    name = f"test-{uuid.uuid4().hex[:12]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEYS["access_key"],
        aws_secret_access_key=KEYS["secret_key"],
    )
    client.create_bucket(Bucket=name)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "imagegen.core.storage_s3.ContentAddressedS3Storage",
            "OPTIONS": {
                "bucket_name": name,
                "endpoint_url": moto_endpoint,
                "region_name": "us-east-1",
                "location": PREFIX,
                "addressing_style": "path",
                "querystring_expire": 60,
                "signature_version": "s3v4",
                **KEYS,
            },
        },
    }
    settings.S3_SIGNED_REDIRECT = False
    settings.S3_SIGNED_URL_TTL = 60

    def keys():
        pages = client.get_paginator("list_objects_v2").paginate(Bucket=name)
        return {obj["Key"] for page in pages for obj in page.get("Contents", [])}

    client.keys = keys
    client.bucket_name = name
    return client


@pytest.fixture
def stored_image(owner_api, run_jobs, bucket):
    body = run_jobs(owner_api, {"prompt": "a fox on s3", "width": 96, "height": 64}).json()
    return Image.objects.get(generation_id=body["id"])


def get_object(bucket, name) -> bytes:
    return bucket.get_object(Bucket=bucket.bucket_name, Key=f"{PREFIX}/{name}")["Body"].read()


def test_pipeline_stores_image_and_thumbnail_in_the_bucket(stored_image, bucket, isolated_storage):
    assert bucket.keys() == {f"{PREFIX}/{stored_image.file}", f"{PREFIX}/{stored_image.thumbnail}"}
    data = get_object(bucket, stored_image.file)
    assert hashlib.sha256(data).hexdigest() == stored_image.sha256
    assert get_object(bucket, stored_image.thumbnail)[8:12] == b"WEBP"
    assert not (isolated_storage / "images").exists()


def test_same_content_keeps_its_name_and_is_not_written_twice(bucket):
    name = "images/aa/bb/" + "aabb" + "0" * 60 + ".png"
    assert default_storage.save(name, ContentFile(b"first")) == name
    assert default_storage.save(name, ContentFile(b"other")) == name
    assert get_object(bucket, name) == b"first"


def test_file_views_stream_from_the_bucket(owner_api, stored_image):
    original = owner_api.get(f"/files/images/{stored_image.pk}")
    assert original.status_code == 200 and original["Content-Type"] == "image/png"
    assert original["X-Content-Type-Options"] == "nosniff"
    data = b"".join(original.streaming_content)
    assert hashlib.sha256(data).hexdigest() == stored_image.sha256
    thumb = owner_api.get(f"/files/thumbnails/{stored_image.pk}")
    assert b"".join(thumb.streaming_content)[8:12] == b"WEBP"


def test_download_and_zip_read_from_the_bucket(owner_api, stored_image):
    picture = PILImage.open(
        io.BytesIO(owner_api.get(f"/api/gallery/{stored_image.pk}/download").content)
    )
    assert picture.info["parameters"].startswith("a fox on s3\n")
    response = owner_api.post("/api/gallery/download", {"ids": [stored_image.pk]}, format="json")
    assert response.status_code == 200 and b"".join(response.streaming_content)[:2] == b"PK"


def test_signed_redirect_is_short_lived_and_only_after_the_access_check(
    settings, owner_api, outsider_api, stored_image
):
    settings.S3_SIGNED_REDIRECT = True
    assert outsider_api.get(f"/files/images/{stored_image.pk}").status_code == 404
    response = owner_api.get(f"/files/images/{stored_image.pk}")
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    location = response["Location"]
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    assert KEYS["secret_key"] not in location
    with urllib.request.urlopen(location) as fetched:  # moto on 127.0.0.1
        assert fetched.headers["Content-Type"] == "image/png"
        assert hashlib.sha256(fetched.read()).hexdigest() == stored_image.sha256


def test_missing_object_is_404(owner_api, stored_image, bucket):
    bucket.delete_object(Bucket=bucket.bucket_name, Key=f"{PREFIX}/{stored_image.file}")
    assert owner_api.get(f"/files/images/{stored_image.pk}").status_code == 404
    assert owner_api.get(f"/api/gallery/{stored_image.pk}/download").status_code == 404


def test_storage_check_finds_and_repairs_on_s3(stored_image, bucket):
    orphan = "images/ab/cd/" + "abcd" + "0" * 60 + ".png"
    bucket.put_object(Bucket=bucket.bucket_name, Key=f"{PREFIX}/{orphan}", Body=b"x")
    bucket.delete_object(Bucket=bucket.bucket_name, Key=f"{PREFIX}/{stored_image.thumbnail}")

    out = io.StringIO()
    call_command("storage_check", "--min-age", "0", stdout=out)
    assert f"Orphan files (no row refers to them): 1\n  {orphan}" in out.getvalue()
    assert f"Rows whose thumbnail is missing: 1\n  image {stored_image.pk}:" in out.getvalue()

    call_command("storage_check", "--fix", "--min-age", "0", stdout=io.StringIO())
    assert bucket.keys() == {f"{PREFIX}/{stored_image.file}", f"{PREFIX}/{stored_image.thumbnail}"}
    out = io.StringIO()
    call_command("storage_check", "--min-age", "0", stdout=out)
    assert "Storage and database agree." in out.getvalue()


# --- settings -------------------------------------------------------------------------------

S3_ENV = {
    "STORAGE_BACKEND": "s3",
    "S3_BUCKET": "pictures",
    "S3_ACCESS_KEY_ID": "id",
    "S3_SECRET_ACCESS_KEY": "secret",
    "S3_ENDPOINT_URL": "http://127.0.0.1:9000",
    "S3_REGION": "eu-west-1",
    "S3_PREFIX": "/team/",
}


def load_settings(monkeypatch, **env):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    import imagegen.settings

    return runpy.run_path(imagegen.settings.__file__)


def test_storage_backend_defaults_to_local(monkeypatch):
    monkeypatch.delenv("STORAGE_BACKEND", raising=False)
    loaded = load_settings(monkeypatch)
    assert loaded["STORAGE_BACKEND"] == "local"
    backend = loaded["STORAGES"]["default"]["BACKEND"]
    assert backend == "imagegen.core.storage.ContentAddressedStorage"


def test_s3_backend_is_configured_from_the_environment(monkeypatch):
    loaded = load_settings(monkeypatch, **S3_ENV)
    default = loaded["STORAGES"]["default"]
    assert default["BACKEND"] == "imagegen.core.storage_s3.ContentAddressedS3Storage"
    assert default["OPTIONS"] == {
        **default["OPTIONS"],
        "bucket_name": "pictures",
        "endpoint_url": "http://127.0.0.1:9000",
        "location": "team",
        "region_name": "eu-west-1",
        "addressing_style": "path",
        "querystring_expire": 60,
    }


def test_bad_storage_backend_stops_start_up_naming_the_variable(monkeypatch):
    with pytest.raises(ImproperlyConfigured, match="STORAGE_BACKEND"):
        load_settings(monkeypatch, STORAGE_BACKEND="ftp")


def test_s3_without_a_bucket_stops_start_up_naming_the_variable(monkeypatch):
    monkeypatch.delenv("S3_BUCKET", raising=False)
    env = {k: v for k, v in S3_ENV.items() if k != "S3_BUCKET"}
    with pytest.raises(ImproperlyConfigured, match="S3_BUCKET") as caught:
        load_settings(monkeypatch, **env)
    assert "secret" not in str(caught.value)
