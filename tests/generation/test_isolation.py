"""Another user's generation, image and thumbnail are a 404; anonymous callers get 401/403."""

import pytest

from gallery.models import Image

pytestmark = pytest.mark.django_db


@pytest.fixture
def owners_generation(owner_api, run_jobs):
    body = run_jobs(owner_api, {"prompt": "mine", "width": 64, "height": 64}).json()
    image = Image.objects.get(generation_id=body["id"])
    return body["id"], image


def test_outsider_gets_404_for_generation_image_and_thumbnail(outsider_api, owners_generation):
    generation_id, image = owners_generation
    assert outsider_api.get(f"/api/generation/{generation_id}").status_code == 404
    assert outsider_api.post(f"/api/generation/cancel/{generation_id}").status_code == 404
    assert outsider_api.get(f"/files/images/{image.pk}").status_code == 404
    assert outsider_api.get(f"/files/thumbnails/{image.pk}").status_code == 404
    assert outsider_api.get("/api/generations").json()["results"] == []


def test_outsider_gets_404_for_html_pages(client, outsider, owners_generation):
    generation_id, _ = owners_generation
    client.force_login(outsider)
    assert client.get(f"/generations/{generation_id}/").status_code == 404
    assert client.get(f"/generations/{generation_id}/status/").status_code == 404
    assert client.post(f"/generations/{generation_id}/cancel/").status_code == 404


def test_owner_gets_200(owner_api, owners_generation):
    generation_id, image = owners_generation
    assert owner_api.get(f"/api/generation/{generation_id}").status_code == 200
    assert owner_api.get(f"/files/images/{image.pk}").status_code == 200


def test_staff_with_view_permission_sees_files_for_the_admin(admin_user, owners_generation):
    from tests.users import client_for

    _, image = owners_generation
    assert client_for(admin_user).get(f"/files/thumbnails/{image.pk}").status_code == 200


@pytest.mark.parametrize(
    "url", ["/api/generations", "/api/generation/1", "/files/images/1", "/files/thumbnails/1"]
)
def test_anonymous_is_refused(api, url):
    assert api.get(url).status_code in (401, 403)


def test_anonymous_cannot_generate(api):
    assert api.post("/api/generate", {"prompt": "x"}, format="json").status_code in (401, 403)
