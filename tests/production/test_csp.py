"""The page Content-Security-Policy (django-csp): every page has it, nothing in our templates
or scripts needs an exception, and the file views keep their own sandboxing policy."""

import re
from pathlib import Path

import pytest

from gallery.views import FILE_CSP
from tests.gallery.factories import make_image

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    "/generate/",
    "/gallery/",
    "/projects/",
    "/dashboard/",
    "/settings/",
    "/account/password/",
    "/api/docs/",
]


def directives(header: str) -> dict[str, str]:
    parts = (part.strip().split(None, 1) for part in header.split(";") if part.strip())
    return {part[0]: (part[1] if len(part) > 1 else "") for part in parts}


def assert_page_policy(response):
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in response["Content-Security-Policy"]
    assert "unsafe-eval" not in response["Content-Security-Policy"]


def test_login_page_has_the_strict_policy(client, db):
    response = client.get("/login/")
    assert response.status_code == 200
    assert_page_policy(response)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_has_the_strict_policy(client, owner, path):
    client.force_login(owner)
    response = client.get(path)
    assert response.status_code == 200, path
    assert_page_policy(response)


def test_swagger_ui_loads_its_script_from_a_url_not_inline(client, owner):
    client.force_login(owner)
    body = client.get("/api/docs/").content.decode()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", body)


@pytest.mark.parametrize("kind", ["images", "thumbnails"])
def test_file_views_keep_their_sandbox_policy(client, owner, kind):
    image = make_image(owner)
    client.force_login(owner)
    response = client.get(f"/files/{kind}/{image.pk}")
    assert response.status_code == 200
    assert response["Content-Security-Policy"] == FILE_CSP
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["X-Content-Type-Options"] == "nosniff"


TEMPLATES = sorted((ROOT / "templates").rglob("*.html"))
SCRIPTS = sorted((ROOT / "static").rglob("*.js"))


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_no_inline_script_handler_or_style(path):
    text = path.read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), "inline <script>"
    assert not re.search(r"\son[a-z]+\s*=", text), "on*= handler attribute"
    assert not re.search(r"\sstyle\s*=", text), "style= attribute"
    assert not re.search(r"<style[\s>]", text), "<style> element"
    assert "javascript:" not in text.lower()
    # htmx trigger filters ([...]) and hx-on need eval, which the policy forbids.
    assert not re.search(r'hx-trigger="[^"]*\[', text), "htmx trigger filter"
    assert "hx-on" not in text


@pytest.mark.parametrize("path", SCRIPTS, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_use_no_eval(path):
    text = path.read_text()
    assert not re.search(r"\beval\(|new Function\(|setTimeout\(\s*['\"]", text)


def test_htmx_is_told_not_to_inject_styles_or_eval(client, db):
    body = client.get("/login/").content.decode()
    assert '"includeIndicatorStyles":false' in body and '"allowEval":false' in body
    assert re.search(r'<script src="[^"]*htmx[^"]*\.js"', body)


def test_admin_has_the_policy_and_its_image_list_needs_no_inline_style(client, admin_user, owner):
    make_image(owner)
    client.force_login(admin_user)
    response = client.get("/admin/gallery/image/")
    assert response.status_code == 200
    assert_page_policy(response)
    body = response.content.decode()
    assert 'class="admin-thumbnail"' in body and "object-fit" not in body
