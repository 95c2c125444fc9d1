"""Downloads answer a client that asks for their type (imagegen.core.negotiation): an
``Accept`` naming the file's type, a wildcard of it or ``*/*`` gets the file; one naming
nothing the endpoint can answer is still a 406."""

import pytest

from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


@pytest.fixture
def project(owner):
    return Project.objects.create(owner=owner, name="Posters")


@pytest.mark.parametrize(
    "accept", ["application/zip", "application/*", "*/*", "application/zip, application/json;q=0.5"]
)
def test_project_zip_answers_accept_application_zip(owner_api, owner, project, accept):
    make_image(owner, project=project)
    response = owner_api.get(f"/api/projects/{project.pk}/download", HTTP_ACCEPT=accept)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"
    assert b"".join(response.streaming_content).startswith(b"PK")


def test_selection_zip_answers_accept_application_zip(owner_api, owner):
    image = make_image(owner)
    response = owner_api.post(
        "/api/gallery/download", {"ids": [image.pk]}, format="json", HTTP_ACCEPT="application/zip"
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/zip"


@pytest.mark.parametrize("fmt, media", [("PNG", "image/png"), ("JPEG", "image/jpeg")])
@pytest.mark.parametrize("how", ["exact", "wildcard"])
def test_image_download_and_file_answer_accept_of_their_type(owner_api, owner, fmt, media, how):
    image = make_image(owner, fmt=fmt)
    accept = media if how == "exact" else "image/*"
    for url in (f"/api/gallery/{image.pk}/download", f"/files/images/{image.pk}"):
        response = owner_api.get(url, HTTP_ACCEPT=accept)
        assert response.status_code == 200, (url, response.content)
        assert response["Content-Type"] == media


def test_thumbnail_answers_accept_image_webp(owner_api, owner):
    image = make_image(owner)
    response = owner_api.get(f"/files/thumbnails/{image.pk}", HTTP_ACCEPT="image/webp")
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"


def test_a_browsers_image_accept_header_still_works(owner_api, owner):
    image = make_image(owner)
    browser = "image/avif,image/webp,image/apng,image/svg+xml,image/*,*/*;q=0.8"
    assert owner_api.get(f"/files/thumbnails/{image.pk}", HTTP_ACCEPT=browser).status_code == 200


@pytest.mark.parametrize("accept", ["text/csv", "video/mp4"])
def test_an_impossible_type_is_still_406(owner_api, owner, project, accept):
    image = make_image(owner, project=project)
    for url in (
        f"/api/projects/{project.pk}/download",
        f"/api/gallery/{image.pk}/download",
        f"/files/images/{image.pk}",
        f"/files/thumbnails/{image.pk}",
    ):
        assert owner_api.get(url, HTTP_ACCEPT=accept).status_code == 406, url


def test_an_error_is_still_json_when_the_client_asked_for_the_file(owner_api, outsider, project):
    hidden = Project.objects.create(owner=outsider, name="Theirs")
    response = owner_api.get(f"/api/projects/{hidden.pk}/download", HTTP_ACCEPT="application/zip")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


def test_the_usage_csv_download_already_answers_accept_text_csv(owner_api, owner):
    # The one other download (dashboard/api.py UsageView): negotiated by its CSV renderer.
    response = owner_api.get("/api/dashboard/usage", {"by": "model"}, HTTP_ACCEPT="text/csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
