"""Images made through /v1 in the studio's pages: marked as such, with the client named, and
the client's own ``user`` field shown to the image's owner only."""

import pytest
from django.test import Client

from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def api_image(owner, shared_project):
    image = make_image(
        owner,
        project=shared_project,
        origin="api",
        client_user="alice@example.com",
        user_agent="OpenWebUI/0.12 aiohttp/3.11",
    )
    image.origin = "api"  # the factory gives ``origin`` to the generation
    image.save(update_fields=["origin"])
    return image


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_gallery_marks_api_images_and_filters_on_them(owner, api_image):
    make_image(owner, title="from the studio")
    client = signed_in(owner)
    page = client.get("/gallery/").content.decode()
    assert '<span class="tile-origin">API</span>' in page
    assert "(from an API client)" in page
    assert '<option value="api"' in page
    filtered = client.get("/api/gallery?origin=api").json()["results"]
    assert [item["id"] for item in filtered] == [api_image.pk]


def test_the_details_name_the_client_and_its_user_only_for_the_owner(owner, viewer, api_image):
    url = f"/gallery/images/{api_image.pk}/panel/"
    mine = signed_in(owner).get(url).content.decode()
    assert "API client" in mine and "OpenWebUI/0.12" in mine and "alice@example.com" in mine
    theirs = signed_in(viewer).get(url).content.decode()
    assert "OpenWebUI/0.12" in theirs and "alice@example.com" not in theirs


def test_the_tokens_section_gives_the_v1_base_url(owner):
    page = signed_in(owner).get("/settings/").content.decode()
    assert "http://testserver/v1" in page
