"""Hostile text: stored faithfully through the API, refused with a 400 where it breaks a rule
(NUL, too long, a tag's character set), and escaped on every page that shows it.

Decisions, the same for every text field:
- NUL (\\x00) is refused with a 400 naming the field (PostgreSQL cannot store it).
- Other C0 controls, DEL, tab and newline inside the text are stored as sent.
- HTML, template syntax, ``javascript:`` URLs, right-to-left overrides and emoji are stored as
  sent and escaped when shown.
- Tags are names, not text: letters of any script, digits, space, ``-``, ``_`` and ``.``;
  anything else (markup, controls, emoji) is a 400.
"""

import csv
import io
import json
import zipfile

import pytest
from django.test import Client

from gallery.models import Image
from generation.models import Generation
from settings_app.models import NamedToken
from tests.security.hostile import CONTROLS, escaped_marker, hostile, raw_markup

FIELDS = ("prompt", "neg", "title", "notes", "project", "pdesc", "style", "token")


@pytest.fixture
def hostile_world(owner, owner_api, run_jobs):
    """One of everything, each text field holding hostile(field), created through the API."""
    style = owner_api.post(
        "/api/prompts/styles",
        {"name": hostile("style"), "template": "{prompt}, " + hostile("tpl")},
        format="json",
    )
    assert style.status_code == 201, style.content
    project = owner_api.post(
        "/api/projects",
        {"name": hostile("project"), "description": hostile("pdesc")},
        format="json",
    )
    assert project.status_code == 201, project.content
    run_jobs(
        owner_api,
        {
            "prompt": hostile("prompt"),
            "negative_prompt": hostile("neg"),
            "provider": "offline",
            "model": "offline-shapes",
            "width": 64,
            "height": 64,
            "num_images": 1,
            "style": style.json()["id"],
            "project": project.json()["id"],
        },
    )
    generation = Generation.objects.get(owner=owner)
    image = Image.objects.get(owner=owner)
    changed = owner_api.patch(
        f"/api/gallery/{image.pk}",
        {"title": hostile("title"), "notes": hostile("notes"), "tags": ["fox", "שלום", "café_2.0"]},
        format="json",
    )
    assert changed.status_code == 200, changed.content
    token = owner_api.post("/api/settings/tokens", {"name": hostile("token")}, format="json")
    assert token.status_code == 201, token.content
    return {
        "generation": generation,
        "image": image,
        "project_id": project.json()["id"],
        "style_id": style.json()["id"],
        "token_id": token.json()["id"],
    }


def test_hostile_text_round_trips_through_the_api_unchanged(owner_api, hostile_world):
    w = hostile_world
    generation = owner_api.get(f"/api/generation/{w['generation'].pk}").json()
    assert generation["prompt"].startswith(hostile("prompt"))
    assert hostile("tpl") in generation["prompt"]
    assert generation["negative_prompt"] == hostile("neg")
    image = owner_api.get(f"/api/gallery/{w['image'].pk}").json()
    assert (image["title"], image["notes"]) == (hostile("title"), hostile("notes"))
    assert sorted(image["tags"]) == sorted(["fox", "שלום", "café_2.0"])
    project = owner_api.get(f"/api/projects/{w['project_id']}").json()
    assert (project["name"], project["description"]) == (hostile("project"), hostile("pdesc"))
    style = owner_api.get(f"/api/prompts/styles/{w['style_id']}").json()
    assert style["name"] == hostile("style")
    tokens = owner_api.get("/api/settings/tokens").json()
    assert hostile("token") in [t["name"] for t in tokens]


# Which pages show which fields (each page must show its fields escaped, and nothing raw).
def _pages(w):
    image, gen = w["image"].pk, w["generation"].pk
    return {
        "/generate/": ["prompt", "style", "project"],
        f"/generations/{gen}/": ["prompt", "neg", "style"],
        "/gallery/": ["title", "project"],
        f"/gallery/images/{image}/panel/": ["title", "notes", "prompt", "neg", "project"],
        "/projects/": ["project", "pdesc"],
        f"/projects/{w['project_id']}/": ["project", "pdesc"],
        "/settings/": ["token"],
        # The browsable API.
        f"/api/generation/{gen}?format=api": ["prompt", "neg"],
        f"/api/gallery/{image}?format=api": ["title", "notes", "prompt"],
        "/api/gallery?format=api": ["title"],
        f"/api/projects/{w['project_id']}?format=api": ["project", "pdesc"],
        "/api/prompts/styles?format=api": ["style"],
        "/api/settings/tokens?format=api": ["token"],
    }


def _admin_pages(w):
    token = NamedToken.objects.get(pk=w["token_id"])
    return {
        "/admin/generation/generation/": [],  # lists a thumbnail, not the prompt
        f"/admin/generation/generation/{w['generation'].pk}/change/": ["prompt", "neg"],
        "/admin/gallery/image/": ["title"],
        f"/admin/gallery/image/{w['image'].pk}/change/": ["title", "notes"],
        "/admin/projects/project/": ["project"],
        f"/admin/projects/project/{w['project_id']}/change/": ["project", "pdesc"],
        "/admin/generation/stylepreset/": ["style"],
        f"/admin/generation/stylepreset/{w['style_id']}/change/": ["style"],
        "/admin/settings_app/namedtoken/": ["token"],
        f"/admin/settings_app/namedtoken/{token.pk}/change/": ["token"],
        # The dashboard's per-project table is on the team view, for staff.
        "/dashboard/?scope=team": ["project"],
    }


def _check_page(client, url, fields):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    html = response.content.decode()
    assert not raw_markup(html), (url, raw_markup(html))
    missing = [f for f in fields if escaped_marker(f) not in html]
    assert not missing, f"{url} does not show {missing} (escaped)"
    if fields:  # the template expression is shown, never evaluated
        assert "{{7*7}}" in html, url


def test_every_page_shows_hostile_text_escaped(owner, admin_user, hostile_world):
    client = Client()
    client.force_login(owner)
    for url, fields in _pages(hostile_world).items():
        _check_page(client, url, fields)


def test_every_admin_and_staff_page_shows_hostile_text_escaped(admin_user, hostile_world):
    client = Client()
    client.force_login(admin_user)
    for url, fields in _admin_pages(hostile_world).items():
        _check_page(client, url, fields)


# --- Input rules: NUL, controls, lengths, tags ------------------------------------------------


# (how to send one text field, the field's limit or None). Each sender answers the response.
def _senders(owner_api, w):
    image, project = w["image"].pk, w["project_id"]

    def generate(field):
        def send(value):
            body = {
                "prompt": "a fox",
                "provider": "offline",
                "model": "offline-shapes",
                "width": 64,
                "height": 64,
                "num_images": 1,
                field: value,
            }
            return owner_api.post("/api/generate", body, format="json")

        return send

    def patch(url, field):
        return lambda value: owner_api.patch(url, {field: value}, format="json")

    def post(url, field, **extra):
        return lambda value: owner_api.post(url, {**extra, field: value}, format="json")

    return {
        "prompt": (generate("prompt"), 10_000),
        "negative_prompt": (generate("negative_prompt"), 10_000),
        "title": (patch(f"/api/gallery/{image}", "title"), 200),
        "notes": (patch(f"/api/gallery/{image}", "notes"), 10_000),
        "name": (patch(f"/api/projects/{project}", "name"), 200),
        "description": (patch(f"/api/projects/{project}", "description"), 10_000),
        "style name": (post("/api/prompts/styles", "name", template="{prompt}"), 100),
        "token name": (post("/api/settings/tokens", "name"), 100),
    }


def _field(label):
    return label.split()[-1]


@pytest.mark.parametrize(
    "label",
    [
        "prompt",
        "negative_prompt",
        "title",
        "notes",
        "name",
        "description",
        "style name",
        "token name",
    ],
)
def test_nul_is_refused_with_a_field_error(owner_api, hostile_world, label):
    send, _ = _senders(owner_api, hostile_world)[label]
    response = send("before\x00after")
    assert response.status_code == 400, response.content
    assert _field(label) in response.json()


@pytest.mark.parametrize(
    "label",
    [
        "prompt",
        "negative_prompt",
        "title",
        "notes",
        "name",
        "description",
        "style name",
        "token name",
    ],
)
def test_other_control_characters_are_stored_as_sent(owner_api, hostile_world, label):
    send, _ = _senders(owner_api, hostile_world)[label]
    response = send(CONTROLS)
    assert response.status_code in (200, 201, 202), response.content
    assert response.json()[_field(label)] == CONTROLS


@pytest.mark.parametrize(
    "label",
    [
        "prompt",
        "negative_prompt",
        "title",
        "notes",
        "name",
        "description",
        "style name",
        "token name",
    ],
)
def test_text_at_its_limit_is_kept_and_beyond_it_is_a_400(owner_api, hostile_world, label):
    send, limit = _senders(owner_api, hostile_world)[label]
    at_limit = ("🦊<b>" * limit)[:limit]
    response = send(at_limit)
    assert response.status_code in (200, 201, 202), response.content
    assert response.json()[_field(label)] == at_limit
    beyond = send(at_limit + "x")
    assert beyond.status_code == 400
    assert _field(label) in beyond.json()


@pytest.mark.parametrize(
    "tag", ["<script>", 'a"b', "emoji 🦊", "rtl\u202eoverride", "bell\x07", "x" * 51]
)
def test_a_tag_outside_the_tag_rules_is_a_400(owner_api, hostile_world, tag):
    response = owner_api.patch(
        f"/api/gallery/{hostile_world['image'].pk}", {"tags": [tag]}, format="json"
    )
    assert response.status_code == 400
    assert "tags" in response.json()


@pytest.mark.parametrize(
    "query",
    [
        {"q": '"unbalanced'},
        {"q": "a* OR NEAR(b c) NOT :col ^x"},
        {"q": "x\x00y"},
        {"q": "<script>alert(1)</script>"},
        {"q": "🦊 \u202e"},
        {"tag": "x\x00"},
        {"owner": "x\x00"},
        {"model": "'; DROP TABLE gallery_image; --"},
        {"provider": "x\x00"},
    ],
)
def test_hostile_search_and_filters_never_fail(owner_api, hostile_world, query):
    response = owner_api.get("/api/gallery", query)
    assert response.status_code in (200, 400), (query, response.status_code)


def test_a_body_beyond_the_upload_limit_is_a_400(owner_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    response = owner_api.post("/api/generate", {"prompt": "x" * 20_000}, format="json")
    assert response.status_code == 400


# --- Files and exports ------------------------------------------------------------------------


def test_download_embeds_hostile_text_and_serves_inert(owner_api, hostile_world):
    owner_api.patch(f"/api/gallery/{hostile_world['image'].pk}", {"notes": CONTROLS}, format="json")
    response = owner_api.get(f"/api/gallery/{hostile_world['image'].pk}/download")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert response["Content-Disposition"].startswith("attachment;")
    assert "<" not in response["Content-Disposition"].split("filename*=")[0]
    assert "\u202e" not in response["Content-Disposition"]


@pytest.mark.parametrize("path", ["images", "thumbnails"])
def test_served_files_are_inert(owner_api, hostile_world, path):
    response = owner_api.get(f"/files/{path}/{hostile_world['image'].pk}")
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in response["Content-Security-Policy"]
    assert "Content-Disposition" in response


def _zip(response) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


FORMULAS = ['=HYPERLINK("http://evil.example","x")', "+1+2", "-2+3", "@SUM(A1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("formula", FORMULAS)
def test_zip_manifests_keep_hostile_text_and_neutralise_formulas(owner_api, hostile_world, formula):
    image = hostile_world["image"].pk
    owner_api.patch(f"/api/gallery/{image}", {"title": formula}, format="json")
    for response in (
        owner_api.post("/api/gallery/download", {"ids": [image]}, format="json"),
        owner_api.get(f"/api/projects/{hostile_world['project_id']}/download"),
    ):
        assert response.status_code == 200
        archive = _zip(response)
        entry = json.loads(archive.read("manifest.json"))["images"][0]
        # Titles are trimmed like every text field; JSON keeps the rest as it is.
        assert entry["title"] == formula.strip()
        assert entry["prompt"].startswith(hostile("prompt"))
        assert entry["negative_prompt"] == hostile("neg")
        rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode("utf-8-sig"))))
        # A spreadsheet shows the formula, never runs it.
        assert rows[0]["title"] == "'" + formula.strip()
        assert rows[0]["negative_prompt"] == hostile("neg")
        for row in rows:
            for value in row.values():
                assert not value or value[0] not in "=+-@\t\r" or _is_number(value), value


def _is_number(value) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("formula", FORMULAS)
def test_dashboard_csv_neutralises_formulas_in_names(
    owner, owner_api, admin_user, formula, hostile_world
):
    owner_api.patch(
        f"/api/projects/{hostile_world['project_id']}", {"name": formula}, format="json"
    )
    staff = Client()
    staff.force_login(admin_user)
    response = staff.get(
        "/api/dashboard/usage", {"format": "csv", "by": "project", "scope": "team"}
    )
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["project"] for r in rows] == ["'" + formula.strip()]
    assert "attachment" in response["Content-Disposition"]


# --- The HTML forms take the same rules -------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x" * 201},
        {"name": "bad\x00name"},
        {"description": "bad\x00text"},
        {"name": "ok", "description": "y" * 10_001},
    ],
)
def test_project_edit_page_refuses_what_the_api_refuses(client, owner, hostile_world, data):
    from projects.models import Project

    client.force_login(owner)
    before = Project.objects.values("name", "description").get(pk=hostile_world["project_id"])
    response = client.post(
        f"/projects/{hostile_world['project_id']}/edit/",
        {"name": before["name"], "description": "", **data},
    )
    assert response.status_code == 302
    after = Project.objects.values("name", "description").get(pk=hostile_world["project_id"])
    assert after == before


@pytest.mark.parametrize("username", ["ghost\x00", "<script>alert(1)</script>", "🦊" * 200])
def test_project_members_page_refuses_unknown_hostile_usernames(
    client, owner, hostile_world, username
):
    from projects.models import ProjectMembership

    client.force_login(owner)
    response = client.post(
        f"/projects/{hostile_world['project_id']}/members/",
        {"username": username, "role": "viewer"},
    )
    assert response.status_code == 302
    assert not ProjectMembership.objects.exists()
    page = client.get(f"/projects/{hostile_world['project_id']}/").content.decode()
    assert not raw_markup(page)


# --- NUL in every query parameter -------------------------------------------------------------


def _query_parameters():
    """(path, parameter) for every GET operation's query parameter in the API schema."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        operation = operations.get("get")
        if operation is None or "{" in path:
            continue
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query":
                yield path, parameter["name"]


def test_nul_in_any_query_parameter_is_never_a_server_error(owner_api, hostile_world):
    """PostgreSQL refuses NUL in any text it is asked to compare: caught, it is a 400."""
    tried = []
    for path, name in _query_parameters():
        response = owner_api.get(path, {name: "x\x00y"})
        assert response.status_code == 400, (path, name, response.status_code)
        assert name in response.json(), (path, name)
        tried.append((path, name))
    assert len(tried) > 20


def test_nul_in_a_page_query_is_a_400(client, owner):
    client.force_login(owner)
    assert client.get("/gallery/", {"q": "fox\x00"}).status_code == 400


@pytest.mark.parametrize(
    "params", [{"style": "vivid\x00"}, {"x\x00": 1}, {"nested": {"deep": ["\x00"]}}]
)
def test_nul_inside_generation_params_is_never_a_server_error(owner_api, params):
    response = owner_api.post(
        "/api/generate",
        {
            "prompt": "a fox",
            "provider": "offline",
            "model": "offline-shapes",
            "width": 64,
            "height": 64,
            "num_images": 1,
            "params": params,
        },
        format="json",
    )
    assert response.status_code in (202, 400), response.content
