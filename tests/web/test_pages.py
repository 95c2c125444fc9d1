"""HTML pages: login, the Generate page and its cards, gallery, projects, settings."""

import pytest

from gallery.models import Image
from generation.models import Generation, Status
from projects.models import Project
from settings_app.models import Preferences

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
SCRIPT = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}


@pytest.mark.parametrize(
    "url", ["/generate/", "/gallery/", "/projects/", "/dashboard/", "/settings/"]
)
def test_pages_require_login(client, url):
    response = client.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_login_page_and_login(client, owner):
    assert client.get("/login/").status_code == 200
    from tests.users import PASSWORD

    bad = client.post("/login/", {"username": "owner", "password": "nope"})
    assert b"Wrong username or password" in bad.content
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == "/generate/"


def test_generate_page_shows_the_form_with_defaults(owner_client):
    response = owner_client.get("/generate/")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'name="prompt"' in body and "Offline (built-in, no network)" in body
    assert 'placeholder="model default"' in body
    assert 'data-theme="dark"' in body
    assert "htmx" in body and "cdn" not in body.lower()


def test_script_submit_answers_the_new_card_and_the_card_follows_the_generation(
    owner_client, django_capture_on_commit_callbacks
):
    form = {
        "prompt": "a paper boat",
        "provider": "offline",
        "model": "offline-shapes",
        "width": 96,
        "height": 96,
        "num_images": 1,
        "steps": 20,
        "cfg_scale": 7.5,
    }
    response = owner_client.post("/generate/", form, **SCRIPT)
    generation = Generation.objects.get()
    assert response.status_code == 201
    assert response.json()["ids"] == [generation.pk]
    card = response.json()["cards"]
    assert f'id="generation-{generation.pk}"' in card and 'data-status="queued"' in card

    with django_capture_on_commit_callbacks(execute=True):
        pass
    from generation import runner

    runner.execute(generation.pk)
    status = owner_client.get(f"/generations/{generation.pk}/status/").content.decode()
    image = Image.objects.get()
    assert 'data-status="succeeded"' in status and "Succeeded" in status
    assert f"/files/thumbnails/{image.pk}" in status


def test_invalid_submit_answers_the_field_errors(owner_client):
    form = {
        "prompt": "x",
        "provider": "offline",
        "model": "offline-shapes",
        "width": 9000,
        "height": 96,
        "num_images": 1,
    }
    response = owner_client.post("/generate/", form, **SCRIPT)
    assert response.status_code == 200
    assert "64 to 2048" in " ".join(response.json()["errors"]["width"])
    assert not Generation.objects.exists()
    plain = owner_client.post("/generate/", form)
    assert plain.status_code == 400
    assert 'data-field="width"' in plain.content.decode()


def test_plain_submit_redirects_to_the_generation(owner_client):
    form = {
        "prompt": "x",
        "provider": "offline",
        "model": "offline-shapes",
        "width": 64,
        "height": 64,
        "num_images": 1,
    }
    response = owner_client.post("/generate/", form)
    generation = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/generations/{generation.pk}/"
    assert owner_client.get(response["Location"]).status_code == 200


def test_cancel_from_the_page(owner_client, owner):
    from tests.generation.helpers import make_generation

    generation = make_generation(owner)
    response = owner_client.post(f"/generations/{generation.pk}/cancel/", **HTMX)
    assert response.status_code == 200 and "Canceled" in response.content.decode()
    assert Generation.objects.get(pk=generation.pk).status == Status.CANCELED


def test_model_options_follow_the_provider(owner_client):
    response = owner_client.get("/generate/models/?provider=offline")
    assert 'value="offline-shapes"' in response.content.decode()


def test_gallery_lists_own_images_newest_first(owner_client, owner, outsider, run_jobs):
    from tests.users import client_for

    run_jobs(client_for(owner), {"prompt": "first", "width": 64, "height": 64})
    run_jobs(client_for(owner), {"prompt": "second", "width": 64, "height": 64})
    run_jobs(client_for(outsider), {"prompt": "not yours", "width": 64, "height": 64})
    body = owner_client.get("/gallery/").content.decode()
    grid = body[body.index('id="grid"') :]  # the sort menu says "Newest first" above it
    assert grid.index("second") < grid.index("first")
    assert "not yours" not in body


def test_projects_create_and_list(owner_client, owner):
    response = owner_client.post("/projects/", {"name": "Posters", "description": "Q3"})
    project = Project.objects.get()
    assert response.status_code == 302 and project.owner == owner
    assert "Posters" in owner_client.get("/projects/").content.decode()
    duplicate = owner_client.post("/projects/", {"name": "Posters"})
    assert duplicate.status_code == 400
    assert owner_client.get(f"/projects/{project.pk}/").status_code == 200


def test_outsider_cannot_see_a_project(client, owner, outsider):
    project = Project.objects.create(owner=owner, name="Secret")
    client.force_login(outsider)
    assert client.get(f"/projects/{project.pk}/").status_code == 404
    assert "Secret" not in client.get("/projects/").content.decode()


def test_theme_is_remembered_per_user(owner_client, owner):
    owner_client.post("/settings/theme/", {"next": "/gallery/"})
    assert Preferences.objects.get(user=owner).theme == "light"
    assert 'data-theme="light"' in owner_client.get("/gallery/").content.decode()
    owner_client.post("/settings/", {"theme": "system"})
    assert Preferences.objects.get(user=owner).theme == "system"
    assert owner_client.post("/settings/", {"theme": "neon"}).status_code == 400
    assert owner_client.get("/account/password/").status_code == 200


def test_dashboard_shows_own_figures(owner_client, owner, run_jobs):
    from tests.users import client_for

    run_jobs(client_for(owner), {"prompt": "x", "width": 64, "height": 64})
    body = owner_client.get("/dashboard/").content.decode()
    assert "Generations" in body and "Storage used" in body


def test_admin_lists_and_actions(client, admin_user, owner, run_jobs):
    from tests.generation.helpers import make_generation
    from tests.users import client_for

    run_jobs(client_for(owner), {"prompt": "for the admin", "width": 64, "height": 64})
    queued = make_generation(owner, prompt="stuck in line")
    client.force_login(admin_user)
    for url in [
        "/admin/generation/generation/",
        "/admin/gallery/image/",
        "/admin/projects/project/",
        "/admin/generation/generation/?status=succeeded",
        "/admin/generation/generation/?q=admin",
    ]:
        assert client.get(url).status_code == 200, url
    assert "/files/thumbnails/" in client.get("/admin/generation/generation/").content.decode()

    client.post(
        "/admin/generation/generation/",
        {"action": "cancel_selected", "_selected_action": [queued.pk]},
    )
    assert Generation.objects.get(pk=queued.pk).status == Status.CANCELED
    before = Generation.objects.count()
    client.post(
        "/admin/generation/generation/",
        {"action": "retry_selected", "_selected_action": [queued.pk]},
    )
    assert Generation.objects.count() == before + 1
    retry = Generation.objects.order_by("-id").first()
    assert retry.prompt == "stuck in line" and retry.owner == owner


def test_admin_cannot_add_or_rewrite_a_generation(client, admin_user, owner, outsider, run_jobs):
    """A generation records what was asked and answered: made by a submission (queue,
    budgets), changed only by its lifecycle. The admin may look, cancel, retry, delete."""
    from tests.users import client_for

    run_jobs(client_for(owner), {"prompt": "as asked", "width": 64, "height": 64})
    generation = Generation.objects.get()
    client.force_login(admin_user)
    assert client.get("/admin/generation/generation/add/").status_code == 403
    listing = client.get("/admin/generation/generation/").content.decode()
    assert "/admin/generation/generation/add/" not in listing
    url = f"/admin/generation/generation/{generation.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200 and not page.context["adminform"].form.fields
    client.post(url, {"prompt": "rewritten", "provider": "openai", "owner": outsider.pk})
    generation.refresh_from_db()
    assert (generation.prompt, generation.provider, generation.owner) == (
        "as asked",
        "offline",
        owner,
    )


def test_the_api_root_links_every_area_and_is_browsable(owner_client, owner_api, api):
    body = owner_api.get("/api/").json()
    assert body["generations"].endswith("/api/generations")
    assert body["gallery"].endswith("/api/gallery") and body["docs"].endswith("/api/docs/")
    for name, url in body.items():  # every link answers (generate takes only POST)
        assert owner_api.get(url).status_code == (405 if name == "generate" else 200), url
    html = owner_client.get("/api/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and b"/api/generations" in html.content
    assert api.get("/api/").status_code in (401, 403)  # signed out: no map of the API


def test_api_schema_and_docs_are_served_without_a_cdn(owner_client):
    schema = owner_client.get("/api/schema/")
    assert schema.status_code == 200 and b"/api/generate" in schema.content
    docs = owner_client.get("/api/docs/").content.decode()
    assert "swagger" in docs.lower() and "cdn" not in docs.lower()
