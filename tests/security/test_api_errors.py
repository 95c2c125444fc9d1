"""API errors found by the fuzzer: JSON bodies, 400 for bad input, documented shapes."""

import pytest

from tests.gallery.factories import make_image


@pytest.mark.parametrize("path", ["/api/gallery/abc", "/api/nothing-here", "/files/images/abc"])
def test_an_unrouted_api_or_file_url_answers_json_404(owner_api, path):
    response = owner_api.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found."}


def test_an_unrouted_page_still_answers_the_html_404(client, owner):
    client.force_login(owner)
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_too_many_form_fields_on_the_api_answer_json_400(owner_api, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    response = owner_api.post("/api/gallery/bulk", {"ids": list(range(1, 20))}, format="multipart")
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/api/generations", "/api/projects"])
@pytest.mark.parametrize("cursor", ["total_cost_usd", "\u00d7<%\u00b7", "bz0tMQ=="])  # o=-1
def test_an_unreadable_cursor_is_a_400_naming_the_field(owner_api, path, cursor):
    response = owner_api.get(path, {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()


@pytest.mark.parametrize("path", ["/api/generations", "/api/projects"])
@pytest.mark.parametrize("size", ["null", "0", "101", "-3", "2.5"])
def test_a_bad_page_size_is_a_400_naming_the_field(owner_api, path, size):
    response = owner_api.get(path, {"page_size": size})
    assert response.status_code == 400
    assert "page_size" in response.json()


def test_a_good_page_size_still_pages(owner_api, owner):
    for _ in range(3):
        make_image(owner)
    response = owner_api.get("/api/generations", {"page_size": "2"})
    assert response.status_code == 200
    assert len(response.json()["results"]) == 2 and response.json()["next"]


def test_an_empty_usage_csv_keeps_its_header_and_content_type(owner_api):
    response = owner_api.get("/api/dashboard/usage", {"format": "csv", "by": "project"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.content.decode().splitlines() == [
        "project_id,project,generations,succeeded,failures,canceled,images,avg_latency_ms,"
        "spend_usd,spend_reported_usd,spend_estimated_usd,gpu_seconds"
    ]
