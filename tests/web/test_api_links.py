"""One rule for every link the API writes: absolute, like DRF's ``next``/``previous``
(imagegen.core.links). A client follows an image's ``url`` as it follows ``next``."""

import pytest

from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

BASE = "http://testserver/"


def assert_image_links(item, pk):
    assert item["url"] == f"{BASE}files/images/{pk}"
    assert item["thumbnail_url"] == f"{BASE}files/thumbnails/{pk}"


def test_gallery_list_links_are_absolute_like_next(owner, owner_api):
    images = [make_image(owner) for _ in range(3)]
    body = owner_api.get("/api/gallery", {"page_size": 2}).json()
    assert body["next"].startswith(f"{BASE}api/gallery?")
    for item in body["results"]:
        assert_image_links(item, item["id"])
    # the next page's items too, followed by the link as given
    rest = owner_api.get(body["next"]).json()["results"]
    assert [item["id"] for item in rest] == [images[0].pk]
    assert_image_links(rest[0], images[0].pk)


def test_gallery_detail_links_are_absolute(owner, owner_api):
    image = make_image(owner)
    assert_image_links(owner_api.get(f"/api/gallery/{image.pk}").json(), image.pk)
    changed = owner_api.patch(f"/api/gallery/{image.pk}", {"title": "t"}, format="json").json()
    assert_image_links(changed, image.pk)


def test_generation_images_links_are_absolute(owner, owner_api, run_jobs):
    submitted = run_jobs(owner_api, {"prompt": "a lighthouse", "provider": "offline"}).json()
    assert submitted["images"] == []  # answered before the job ran
    generation = owner_api.get(f"/api/generations/{submitted['id']}").json()
    (image,) = generation["images"]
    assert_image_links(image, image["id"])
    listed = owner_api.get("/api/generations").json()
    assert listed["results"][0]["images"] == generation["images"]
    # the link works as given
    assert owner_api.get(image["url"]).status_code == 200


def test_project_cover_link_is_absolute(owner, owner_api, shared_project):
    image = make_image(owner, project=shared_project)
    body = owner_api.get(f"/api/projects/{shared_project.pk}").json()
    assert body["cover_thumbnail_url"] == f"{BASE}files/thumbnails/{image.pk}"
    (listed,) = owner_api.get("/api/projects").json()["results"]
    assert listed["cover_thumbnail_url"] == body["cover_thumbnail_url"]


def test_links_follow_the_host_the_request_used(owner, owner_api, settings):
    settings.ALLOWED_HOSTS = ["studio.example"]
    image = make_image(owner)
    body = owner_api.get("/api/gallery", HTTP_HOST="studio.example").json()
    assert body["results"][0]["url"] == f"http://studio.example/files/images/{image.pk}"
