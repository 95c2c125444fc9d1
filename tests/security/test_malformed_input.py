"""Malformed input never answers 5xx: hostile cursors on every list endpoint, ids beyond 64
bits in the path, the body and the query, arrays where a scalar belongs, and NUL bytes. Each
is a 4xx (or, for a parameter an endpoint does not read, its normal answer) with a JSON body
in the schema's error shape; and any 5xx or 403 under /api/ and /files/ is JSON too."""

import base64

import pytest
from django.test import override_settings
from django.urls import path as route

from projects.models import Project
from tests.gallery.factories import make_image

# Every list endpoint of the API.
LISTS = [
    "/api/gallery",
    "/api/generations",
    "/api/projects",
    "/api/prompts/history",
    "/api/prompts/styles",
    "/api/dashboard/stats",
    "/api/dashboard/usage",
    "/api/dashboard/trends",
    "/api/dashboard/budget",
    "/api/settings/tokens",
    "/api/settings/api-keys",
    "/api/providers",
]
# Those that page with a cursor: a bad one is a 400 naming ``cursor``.
CURSOR_PAGED = {"/api/gallery", "/api/generations", "/api/projects"}
BEYOND_64_BITS = 2**64 + 1
HUGE = 2**70


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


HOSTILE_CURSORS = {
    "not-base64": "!!!not base64!!!",
    "truncated": _b64("o=1&r=0&p=12")[:-3],
    "forged-position": _b64("p=abc"),
    "forged-reverse": _b64("r=1&p=abc"),
    "float-position": _b64("o=1&p=1.5"),
    "nul-position": _b64("p=\x00"),
    "negative-offset": _b64("o=-1"),
    "position-beyond-64-bits": _b64(f"p={HUGE}"),
    "negative-position-beyond-64-bits": _b64(f"p=-{HUGE}"),
    "nul": "\x00",
    "huge": "A" * 100_000,
    "non-ascii": "\u00d7<%\u00b7",
}


def _assert_error_shape(response, status=None):
    """A 4xx with a JSON object body: ``{"detail": ...}`` or field errors."""
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    if status is not None:
        assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body, dict) and body
    return body


def _assert_no_5xx(response):
    assert response.status_code < 500, response.content[:300]
    if response.status_code >= 400:
        _assert_error_shape(response)


@pytest.fixture
def some_rows(owner, shared_project):
    for _ in range(3):
        make_image(owner, project=shared_project)
    Project.objects.create(owner=owner, name="Second")
    return shared_project


@pytest.mark.parametrize("cursor", HOSTILE_CURSORS.values(), ids=HOSTILE_CURSORS.keys())
@pytest.mark.parametrize("url", LISTS)
def test_a_hostile_cursor_is_a_4xx_in_the_error_shape(owner_api, some_rows, url, cursor):
    response = owner_api.get(url, {"cursor": cursor, "page_size": 1})
    if url in CURSOR_PAGED:
        body = _assert_error_shape(response, 400)
        assert "cursor" in body
    else:
        _assert_no_5xx(response)


@pytest.mark.parametrize("url", ["/api/generations", "/api/projects"])
def test_real_cursors_still_page_forwards_and_back(owner_api, some_rows, url):
    first = owner_api.get(url, {"page_size": 1}).json()
    second = owner_api.get(first["next"]).json()
    back = owner_api.get(second["previous"]).json()
    assert second["results"] and second["results"] != first["results"]
    assert back["results"] == first["results"]


@pytest.mark.parametrize(
    "query",
    [
        {"page_size": ["1", "2"]},
        {"page_size": "\x00"},
        {"page_size": str(HUGE)},
        {"project": str(BEYOND_64_BITS)},
        {"project": f"-{BEYOND_64_BITS}"},
        {"project": "\x00"},
        {"project": ["1", "2"]},
        {"user": str(BEYOND_64_BITS)},
        {"status": "\x00"},
        {"q": "\x00"},
        {"tag": "\x00"},
        {"limit": str(HUGE)},
        {"limit": "\x00"},
        {"from": "\x00", "to": "9" * 30},
        {"cursor": ["a", "b"]},
    ],
    ids=lambda query: "&".join(f"{k}={str(v)[:12]!r}" for k, v in query.items()),
)
@pytest.mark.parametrize("url", LISTS)
def test_hostile_query_parameters_never_5xx(owner_api, some_rows, url, query):
    _assert_no_5xx(owner_api.get(url, query))


ITEM_PATHS = [
    ("get", "/api/gallery/{id}"),
    ("patch", "/api/gallery/{id}"),
    ("get", "/api/gallery/{id}/remix"),
    ("post", "/api/gallery/{id}/favorite"),
    ("get", "/api/generations/{id}"),
    ("post", "/api/generations/{id}/cancel"),
    ("get", "/api/projects/{id}"),
    ("get", "/api/prompts/styles/{id}"),
    ("delete", "/api/settings/tokens/{id}"),
    ("get", "/files/images/{id}"),
    ("get", "/files/thumbnails/{id}"),
]


@pytest.mark.parametrize("value", [BEYOND_64_BITS, HUGE, 2**63])
@pytest.mark.parametrize(("method", "template"), ITEM_PATHS)
def test_an_id_beyond_64_bits_in_the_path_is_a_json_404(owner_api, method, template, value):
    response = getattr(owner_api, method)(template.format(id=value), {}, format="json")
    _assert_error_shape(response, 404)


BODIES = [
    ("patch", "/api/gallery/{image}", {"project": BEYOND_64_BITS}),
    ("patch", "/api/gallery/{image}", {"project": [1]}),
    ("patch", "/api/gallery/{image}", {"project": "\x00"}),
    ("patch", "/api/gallery/{image}", {"rating": HUGE}),
    ("post", "/api/gallery/bulk", {"ids": [BEYOND_64_BITS], "action": "favorite"}),
    ("post", "/api/gallery/bulk", {"ids": "{image}", "action": "favorite"}),
    ("post", "/api/gallery/bulk", {"ids": ["{image}"], "action": ["favorite"]}),
    ("post", "/api/gallery/bulk", {"ids": ["{image}"], "action": "move", "project": HUGE}),
    ("post", "/api/gallery/bulk", {"ids": ["{image}"], "action": "move", "project": [1]}),
    ("post", "/api/gallery/bulk", {"ids": ["{image}"], "action": "set_rating", "rating": HUGE}),
    ("post", "/api/generate", {"prompt": "x", "project": BEYOND_64_BITS}),
    ("post", "/api/generate", {"prompt": "x", "project": [1]}),
    ("post", "/api/generate", {"prompt": "x", "style": HUGE}),
    ("post", "/api/generate", {"prompt": "x", "seed": HUGE}),
    ("post", "/api/generate", {"prompt": "x\x00"}),
    ("post", "/api/prompts/styles", {"name": "s", "template": "{prompt}", "project": HUGE}),
    ("post", "/api/prompts/styles", {"name": "s", "template": "{prompt}", "project": [1]}),
    ("patch", "/api/projects/{project}", {"cover_image": BEYOND_64_BITS}),
    ("patch", "/api/projects/{project}", {"name": ["a"]}),
    ("post", "/api/projects", {"name": "\x00"}),
    ("patch", "/api/settings", {"default_project": HUGE}),
]


@pytest.mark.parametrize(("method", "template", "body"), BODIES)
def test_hostile_bodies_are_a_4xx_in_the_error_shape(
    owner_api, owner, some_rows, method, template, body
):
    image = make_image(owner)
    fill = {"image": image.pk, "project": some_rows.pk}

    def substitute(value):
        if isinstance(value, str):
            return int(value.format(**fill)) if value in ("{image}", "{project}") else value
        if isinstance(value, list):
            return [substitute(item) for item in value]
        return value

    data = {key: substitute(value) for key, value in body.items()}
    response = getattr(owner_api, method)(template.format(**fill), data, format="json")
    _assert_error_shape(response)


# --- Error pages: JSON under /api/ and /files/ -----------------------------------------------


def _boom(request, *args, **kwargs):
    raise RuntimeError("boom")


def _denied(request, *args, **kwargs):
    from django.core.exceptions import PermissionDenied

    raise PermissionDenied


urlpatterns = [
    route("api/boom", _boom),
    route("files/boom", _boom),
    route("page/boom", _boom),
    route("api/denied", _denied),
    route("files/denied", _denied),
    route("page/denied", _denied),
]


@pytest.fixture
def failing_routes(settings):
    """The project's URLconf plus views that fail (the handlers come from imagegen.urls)."""
    import imagegen.urls

    module = type(imagegen.urls)("failing_routes")
    module.urlpatterns = urlpatterns + imagegen.urls.urlpatterns
    for name in ("handler400", "handler403", "handler404", "handler500"):
        if hasattr(imagegen.urls, name):
            setattr(module, name, getattr(imagegen.urls, name))
    settings.ROOT_URLCONF = module


@pytest.mark.parametrize("prefix", ["api", "files"])
def test_an_unexpected_error_under_api_or_files_is_a_json_500(client, failing_routes, prefix):
    client.raise_request_exception = False
    with override_settings(DEBUG=False):
        response = client.get(f"/{prefix}/boom")
    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Server error."}


def test_an_unexpected_error_on_a_page_is_still_the_html_500(client, failing_routes):
    client.raise_request_exception = False
    response = client.get("/page/boom")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("prefix", ["api", "files"])
def test_a_permission_denied_under_api_or_files_is_a_json_403(client, failing_routes, prefix):
    response = client.get(f"/{prefix}/denied")
    assert response.status_code == 403
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "You do not have permission to perform this action."}


def test_a_permission_denied_on_a_page_is_still_the_html_403(client, failing_routes):
    response = client.get("/page/denied")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
