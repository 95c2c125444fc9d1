"""The HTML error pages are the studio's own (styled, with a way back), never Django's
bare defaults; API and file URLs keep answering JSON (tests/system)."""

import pytest
from django.template.loader import render_to_string

pytestmark = pytest.mark.django_db


def test_a_missing_page_is_the_studios_404_with_a_way_back(owner_client):
    response = owner_client.get("/no/such/page/")
    html = response.content.decode()
    assert response.status_code == 404
    assert '<h1 id="error-title">Page not found</h1>' in html
    assert "/static/css/app.css" in html or "css/app." in html
    assert 'href="/gallery/"' in html and "Log out" in html  # the nav and the way back


def test_signed_out_the_404_offers_sign_in(client):
    html = client.get("/no/such/page/").content.decode()
    assert "Page not found" in html and 'href="/login/"' in html and "Log out" not in html


def test_the_500_page_renders_without_a_request_and_loses_nothing(settings):
    html = render_to_string("500.html")
    assert "Something went wrong" in html and "css/app." in html
    assert "{%" not in html and "Traceback" not in html


def test_a_server_error_answers_the_styled_page(owner_client, monkeypatch):
    from generation import views

    def boom(*args, **kwargs):
        raise RuntimeError("secret detail")

    monkeypatch.setattr(views, "render", boom)
    owner_client.raise_request_exception = False
    response = owner_client.get("/generate/")
    assert response.status_code == 500
    body = response.content.decode()
    assert "Something went wrong" in body and "secret detail" not in body


def test_api_urls_still_answer_json(owner_api):
    response = owner_api.get("/api/no-such-thing")
    assert response.status_code == 404 and response.json() == {"detail": "Not found."}
