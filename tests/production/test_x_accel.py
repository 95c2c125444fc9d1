"""FILE_SERVING=x-accel: after the access check the file views answer with an empty body and
X-Accel-Redirect for nginx, keeping every security header; outsiders still get 404."""

import pytest

from gallery.views import FILE_CSP
from tests.gallery.factories import make_image


@pytest.fixture
def x_accel(settings):
    settings.FILE_SERVING = "x-accel"
    settings.X_ACCEL_PREFIX = "/protected/"
    return settings


def test_original_is_handed_to_nginx_with_its_headers(client, owner, x_accel):
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/images/{image.pk}")
    assert response.status_code == 200
    assert response["X-Accel-Redirect"] == f"/protected/{image.file}"
    assert image.file.startswith("images/")
    assert response.content == b""
    assert response["Content-Type"] == "image/png"
    assert response["Content-Disposition"] == f'inline; filename="image-{image.pk}.png"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == FILE_CSP
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert response["ETag"] == f'"{image.sha256}"'
    assert response["Cross-Origin-Resource-Policy"] == "same-origin"


def test_thumbnail_is_handed_to_nginx(client, owner, x_accel):
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/thumbnails/{image.pk}")
    assert response["X-Accel-Redirect"] == f"/protected/{image.thumbnail}"
    assert response["Content-Type"] == "image/webp" and response.content == b""


def test_prefix_comes_from_the_setting(client, owner, x_accel):
    x_accel.X_ACCEL_PREFIX = "/internal/imagegen/"
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/images/{image.pk}")
    assert response["X-Accel-Redirect"] == f"/internal/imagegen/{image.file}"


def test_outsider_gets_404_and_no_redirect_header(client, owner, outsider, x_accel):
    image = make_image(owner)
    client.force_login(outsider)
    response = client.get(f"/files/images/{image.pk}")
    assert response.status_code == 404
    assert "X-Accel-Redirect" not in response


def test_anonymous_gets_no_redirect_header(client, owner, x_accel):
    image = make_image(owner)
    response = client.get(f"/files/images/{image.pk}")
    assert response.status_code in (401, 403, 404)
    assert "X-Accel-Redirect" not in response


def test_a_matching_etag_is_still_a_304_without_redirect(client, owner, x_accel):
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/images/{image.pk}", HTTP_IF_NONE_MATCH=f'"{image.sha256}"')
    assert response.status_code == 304 and "X-Accel-Redirect" not in response


def test_default_streams_the_file_through_django(client, owner, settings):
    assert settings.FILE_SERVING == "django"
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/images/{image.pk}")
    assert "X-Accel-Redirect" not in response
    assert b"".join(response.streaming_content)[:8] == b"\x89PNG\r\n\x1a\n"
