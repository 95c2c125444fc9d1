"""Images in, on the gallery side (issue #16): the action bar's "Edit and more" menu (links to
the Generate page, runs with the provider and model ui-contract.md chooses, or the reason they
cannot run), the details panel's lineage ("Made from" with present, deleted, hidden and drawn
parents; "Used in"), what made an image in words, the Origin filter and its chip, and the
"Uploaded" mark on tiles."""

import html
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from gallery.models import Image
from imagegen.providers import get_provider
from imagegen.providers.base import ModelSpec
from settings_app.models import Preferences
from tests.gallery.factories import image_bytes, make_image
from tests.groups.helpers import policy_for
from tests.operations.helpers import left_half_mask_uri

pytestmark = pytest.mark.django_db


def upload(api, name="cat.png", size=(40, 30), **fields) -> Image:
    part = SimpleUploadedFile(name, image_bytes("PNG", size))
    response = api.post("/api/gallery/upload", {"file": [part], **fields}, format="multipart")
    assert response.status_code == 201, response.content
    return Image.objects.get(pk=response.json()["images"][0]["id"])


def run(run_jobs, api, **body) -> Image:
    """Submit an operation on the offline provider; the image it made."""
    response = run_jobs(api, {"provider": "offline", **body})
    generation = response.json()["id"]
    return Image.objects.get(generation_id=generation)


def panel(client, image) -> str:
    response = client.get(f"/gallery/images/{image.pk}/panel/")
    assert response.status_code == 200
    return html.unescape(response.content.decode())


def section(page: str, title: str) -> str:
    """The lineage group headed ``title`` (empty when the panel has none)."""
    match = re.search(rf"<h3[^>]*>{title}</h3>(.*?)</section>", page, re.S)
    return match.group(1) if match else ""


# --- lineage in the details panel -------------------------------------------------------------


def test_made_from_the_upload_and_the_upload_used_in_the_result(owner, owner_api, client, run_jobs):
    uploaded = upload(owner_api, "cat photo.png")
    bigger = run(run_jobs, owner_api, operation="upscale", input_images=[uploaded.pk], scale=2)
    assert (bigger.width, bigger.height) == (80, 60)
    client.force_login(owner)

    result = panel(client, bigger)
    made_from = section(result, "Made from")
    assert f'data-open-image="{uploaded.pk}"' in made_from
    assert f'href="/gallery/#image-{uploaded.pk}"' in made_from
    assert f"/files/thumbnails/{uploaded.pk}" in made_from
    assert "cat photo" in made_from and "uploaded" in made_from
    assert section(result, "Used in") == ""
    assert re.search(r"<dt>Made by</dt><dd[^>]*>Upscaled ×2</dd>", result)
    assert "<dt>Prompt</dt>" not in result  # an upscale has none

    source = panel(client, uploaded)
    used_in = section(source, "Used in")
    assert f'data-open-image="{bigger.pk}"' in used_in and "Upscaled ×2" in used_in
    assert section(source, "Made from") == ""
    assert re.search(r"<dt>Origin</dt><dd[^>]*><span[^>]*>Uploaded</span>", source)
    assert "cat photo.png" in source  # the file name it came with
    # An upload has no settings to reuse or prompt to copy, and no generation page.
    assert 'data-action="remix"' not in source and 'data-action="copy"' not in source
    assert "Generation details" not in source
    assert 'data-action="tools"' in source


def test_a_chain_lists_each_step(owner, owner_api, client, run_jobs):
    uploaded = upload(owner_api)
    twice = run(run_jobs, owner_api, operation="upscale", input_images=[uploaded.pk], scale=2)
    edited = run(
        run_jobs, owner_api, operation="edit", input_images=[twice.pk], prompt="make it blue"
    )
    client.force_login(owner)
    middle = panel(client, twice)
    assert f'data-open-image="{uploaded.pk}"' in section(middle, "Made from")
    assert f'data-open-image="{edited.pk}"' in section(middle, "Used in")
    assert "Edited" in section(middle, "Used in")
    last = panel(client, edited)
    assert re.search(r"<dt>Made by</dt><dd[^>]*>Edited</dd>", last)
    assert f'data-open-image="{twice.pk}"' in section(last, "Made from")
    assert f'data-open-image="{uploaded.pk}"' not in last  # parents, not ancestors


def test_another_users_parent_is_hidden(owner, owner_api, viewer, shared_project, client, run_jobs):
    private = upload(owner_api, "private.png")  # in no project: the viewer cannot see it
    shared = run(
        run_jobs,
        owner_api,
        operation="upscale",
        input_images=[private.pk],
        scale=2,
        project=shared_project.pk,
    )
    client.force_login(viewer)
    made_from = section(panel(client, shared), "Made from")
    assert "Not shared with you" in made_from
    # Neither its id, its name nor its pixels.
    assert f"#image-{private.pk}" not in made_from and f"Image {private.pk}" not in made_from
    assert f"/files/thumbnails/{private.pk}" not in made_from
    assert "private" not in made_from and "data-open-image" not in made_from
    # The owner sees it.
    client.force_login(owner)
    assert f'data-open-image="{private.pk}"' in section(panel(client, shared), "Made from")
    # And the viewer's view of the parent itself is a 404, as everywhere.
    client.force_login(viewer)
    assert client.get(f"/gallery/images/{private.pk}/panel/").status_code == 404


def test_a_deleted_parent_and_a_drawn_mask(owner, owner_api, client, run_jobs):
    uploaded = upload(owner_api, size=(32, 24))
    fixed = run(
        run_jobs,
        owner_api,
        operation="inpaint",
        input_images=[uploaded.pk],
        mask=left_half_mask_uri(32, 24),
        prompt="a red door",
    )
    parent_id = uploaded.pk
    assert owner_api.delete(f"/api/gallery/{parent_id}").status_code == 204
    client.force_login(owner)
    page = panel(client, fixed)
    made_from = section(page, "Made from")
    assert re.search(rf"Image {parent_id}</span>\s*<span[^>]*>deleted</span>", made_from)
    assert "Mask (drawn)" in made_from
    assert "data-open-image" not in made_from  # nothing left to open
    assert f"/files/thumbnails/{parent_id}" not in made_from
    assert re.search(r"<dt>Made by</dt><dd[^>]*>Part repainted \(inpaint\)</dd>", page)


def test_a_plain_generation_shows_no_lineage(owner, client):
    image = make_image(owner, prompt="a red fox")
    client.force_login(owner)
    page = panel(client, image)
    assert "Made from" not in page and "Used in" not in page and "Made by" not in page
    assert "<dt>Prompt</dt>" in page and 'data-action="remix"' in page


# --- the "Edit and more" menu -------------------------------------------------------------------


def tools(client, image, status=200) -> str:
    response = client.get(f"/gallery/images/{image.pk}/tools/")
    assert response.status_code == status
    return html.unescape(response.content.decode())


def run_item(menu: str, label: str) -> str:
    match = re.search(rf'<button[^>]*class="ia-item ia-run"[^>]*data-label="{label}"[^>]*>', menu)
    assert match, f"no run item {label!r}"
    return match.group(0)


def test_the_menu_links_to_the_generate_page_with_the_image_as_input(owner, client):
    image = make_image(owner)
    client.force_login(owner)
    menu = tools(client, image)
    for operation in ("edit", "inpaint", "outpaint"):
        assert f'href="/generate/?operation={operation}&input={image.pk}"' in menu
    assert ">Edit<" in menu and "Use as reference" in menu and "Fix a part" in menu
    assert ">Outpaint<" in menu


def test_upscale_runs_on_the_offline_provider_and_background_removal_says_why_not(
    owner, client, monkeypatch
):
    for variable in ("OPENAI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    image = make_image(owner)
    client.force_login(owner)
    menu = tools(client, image)
    for label, scale in (("Upscale ×2", 2), ("Upscale ×4", 4)):
        item = run_item(menu, label)
        assert 'data-provider="offline"' in item and 'data-model="offline-shapes"' in item
        assert f'data-scale="{scale}"' in item and 'data-operation="upscale"' in item
        assert 'aria-disabled="true"' in item  # until the script has its price
    # The catalog's background removers are on Replicate and fal: without a key, the reason
    # names them.
    removal = run_item(menu, "Remove background")
    assert "data-provider" not in removal
    assert 'data-reason="Needs an API key for fal.ai or Replicate (Settings → Provider keys)."' in (
        removal
    )
    # With a key it runs there, and the key never reaches the page.
    monkeypatch.setenv("FAL_KEY", "fal-test-key")
    menu = tools(client, image)
    removal = run_item(menu, "Remove background")
    assert 'data-provider="fal"' in removal and 'data-model="fal-ai/birefnet/v2"' in removal
    assert "data-reason" not in removal and "fal-test-key" not in menu
    # The offline provider still upscales (the user's default, free).
    assert 'data-provider="offline"' in run_item(menu, "Upscale ×2")

    # No provider offers it at all: say so.
    plain = [ModelSpec(id="just-generates", label="Generates")]
    for name in ("fal", "replicate"):
        monkeypatch.setattr(get_provider(name), "models", lambda: plain)
    removal = run_item(tools(client, image), "Remove background")
    assert 'data-reason="No model here does this yet."' in removal


def test_the_users_default_provider_comes_first_when_it_does_the_operation(
    owner, client, monkeypatch
):
    replicate = get_provider("replicate")
    upscaler = ModelSpec(
        id="nightmareai/real-esrgan", label="Real-ESRGAN", operations=("upscale",), scales=(2,)
    )
    monkeypatch.setattr(replicate, "models", lambda: [upscaler])
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_test")
    Preferences.objects.update_or_create(user=owner, defaults={"default_provider": "replicate"})
    image = make_image(owner)
    client.force_login(owner)
    menu = tools(client, image)
    assert 'data-provider="replicate"' in run_item(menu, "Upscale ×2")
    # Its model has no ×4: the first other provider that does (offline) takes it.
    assert 'data-provider="offline"' in run_item(menu, "Upscale ×4")
    # Without a usable key the default provider is passed over.
    monkeypatch.delenv("REPLICATE_API_TOKEN")
    assert 'data-provider="offline"' in run_item(tools(client, image), "Upscale ×2")


def test_the_menu_is_for_whoever_sees_the_image_and_results_stay_in_its_project(
    owner, viewer, editor, outsider, shared_project, client
):
    image = make_image(owner, project=shared_project)
    client.force_login(outsider)
    tools(client, image, status=404)
    client.force_login(viewer)  # may use it as an input, not add to the project
    menu = tools(client, image)
    assert "project=" not in menu and "data-project" not in menu
    client.force_login(editor)
    menu = tools(client, image)
    assert f"&project={shared_project.pk}" in menu
    assert f'data-project="{shared_project.pk}"' in run_item(menu, "Upscale ×2")


def test_the_estimate_the_menu_asks_for_prices_an_offline_upscale(owner, owner_api):
    """The body image_actions.js sends (runBody) is one the API takes."""
    image = make_image(owner, width=48, height=32)
    body = {
        "operation": "upscale",
        "input_images": [image.pk],
        "provider": "offline",
        "model": "offline-shapes",
        "scale": 4,
    }
    response = owner_api.post("/api/generate/estimate", body, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["provider"] == "offline"
    assert (response.json()["width"], response.json()["height"]) == (192, 128)


def test_the_bar_loads_the_menu_and_carries_the_api_urls(owner, client):
    image = make_image(owner)
    client.force_login(owner)
    page = client.get("/gallery/").content.decode()
    assert f'data-lazy="/gallery/images/{image.pk}/tools/"' in page
    assert 'data-action="tools"' in page and 'aria-label="Edit and more"' in page
    assert 'data-estimate-url="/api/generate/estimate"' in page
    assert 'data-generate-url="/api/generate"' in page
    assert 'data-generation-url="/api/generations/0"' in page
    assert 'data-upload-url="/api/gallery/upload"' in page


# --- origin: the filter, its chip, the mark ------------------------------------------------------


def test_origin_filter_chip_and_uploaded_mark(owner, owner_api, client):
    made = make_image(owner, prompt="a generated fox")
    uploaded = upload(owner_api, "holiday.png")
    client.force_login(owner)

    page = client.get("/gallery/").content.decode()
    tile = re.search(rf'<li class="tile[^"]*" data-id="{uploaded.pk}".*?</li>', page, re.S).group(0)
    assert '<span class="tile-origin">Uploaded</span>' in tile
    assert 'aria-label="Open: holiday (uploaded)"' in tile
    other = re.search(rf'<li class="tile[^"]*" data-id="{made.pk}".*?</li>', page, re.S).group(0)
    assert "tile-origin" not in other
    assert '<option value="upload" >Uploaded</option>' in page

    page = client.get("/gallery/?origin=upload").content.decode()
    assert f'data-id="{uploaded.pk}"' in page and f'data-id="{made.pk}"' not in page
    assert '<option value="upload" selected>Uploaded</option>' in page
    assert re.search(r'<li class="chip">Uploaded<button[^>]*data-remove-filter="origin"', page)
    assert '<span class="count-badge">1</span>' in page

    page = client.get("/gallery/?origin=generated", HTTP_HX_REQUEST="true").content.decode()
    assert f'data-id="{made.pk}"' in page and f'data-id="{uploaded.pk}"' not in page
    assert re.search(r'<li class="chip">Generated<button', page)

    response = client.get("/gallery/?origin=stolen")
    assert response.status_code == 400


def test_a_result_without_title_or_prompt_is_named_by_what_made_it(
    owner, owner_api, client, run_jobs
):
    source = make_image(owner, prompt="a lighthouse", width=32, height=32)
    bigger = run(run_jobs, owner_api, operation="upscale", input_images=[source.pk], scale=2)
    client.force_login(owner)
    page = client.get("/gallery/").content.decode()
    assert f'aria-label="Open: Upscaled ×2, image {bigger.pk}"' in html.unescape(page)


def test_the_menu_offers_only_models_the_users_groups_allow(owner, client, monkeypatch):
    for variable in ("OPENAI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("FAL_KEY", "fal-test-key")
    image = make_image(owner)
    client.force_login(owner)
    policy_for("Illustrators", owner, allowed_models="fal/fal-ai/flux/schnell")
    menu = tools(client, image)
    for label in ("Upscale ×2", "Remove background"):
        item = run_item(menu, label)
        assert "data-provider" not in item  # not offline's upscaler, not fal's remover
        assert 'data-reason="Your groups (Illustrators) don\'t allow a model that does this."' in (
            item
        )
