"""The model catalog: built-in rows, admin edits, custom models, the providers API. (The
refresh from the providers' listings: tests/generation/test_catalog_refresh*.py.)"""

import pytest

from generation.models import CatalogModel, Generation
from imagegen.providers.catalog import sync_builtin_catalog
from tests.providers.helpers import generate

pytestmark = pytest.mark.django_db

REQUIRED = {
    "openai": {"gpt-image-2", "gpt-image-1.5", "gpt-image-1", "gpt-image-1-mini", "dall-e-3"},
    "replicate": {
        "black-forest-labs/flux-schnell",
        "black-forest-labs/flux-dev",
        "black-forest-labs/flux-1.1-pro",
        "stability-ai/sdxl",
    },
    "fal": {"fal-ai/flux/schnell", "fal-ai/flux/dev", "fal-ai/flux-pro/v1.1", "fal-ai/fast-sdxl"},
    "openrouter": {"google/gemini-3.1-flash-image", "google/gemini-2.5-flash-image"},
}


def test_builtin_catalog_is_loaded_with_prices():
    for provider, models in REQUIRED.items():
        rows = CatalogModel.objects.filter(provider=provider, builtin=True)
        assert models <= {r.model_id for r in rows}
    sdxl = CatalogModel.objects.get(model_id="stability-ai/sdxl")
    assert sdxl.spec["version"] and sdxl.price_unit == "second" and sdxl.price_date


def test_resync_keeps_admin_edits():
    row = CatalogModel.objects.get(model_id="dall-e-2")
    row.enabled, row.display_name, row.price_override_usd = False, "Old faithful", 1
    row.save()
    sync_builtin_catalog()
    row.refresh_from_db()
    assert (row.enabled, row.display_name, str(row.price_override_usd)) == (
        False,
        "Old faithful",
        "1.000000",
    )


def test_migrating_back_past_the_catalog_skips_the_sync(monkeypatch):
    """post_migrate after ``migrate generation 0003`` has no catalog table to fill."""
    from django.apps import apps as global_apps
    from django.db.migrations.state import ProjectState

    from generation import signals
    from imagegen.providers import catalog

    monkeypatch.setattr(catalog, "sync_builtin_catalog", lambda: pytest.fail("synced"))
    before = ProjectState.from_apps(global_apps)
    before.remove_model("generation", "catalogmodel")
    signals.sync_catalog_after_migrate(sender=None, apps=before.apps)


def test_disabled_model_is_refused(owner_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-good")
    CatalogModel.objects.filter(model_id="gpt-image-1.5").update(enabled=False)
    response = owner_api.post(
        "/api/generate",
        {"prompt": "x", "provider": "openai", "model": "gpt-image-1.5"},
        format="json",
    )
    assert (
        response.json()["model"]
        == ["gpt-image-1.5 was disabled by an admin; choose another model."]
        and response.status_code == 400
    )


def test_providers_api_lists_models_prices_and_key_status(owner_api, monkeypatch):
    CatalogModel.objects.filter(model_id="dall-e-3").update(enabled=True)
    monkeypatch.setenv("FAL_KEY", "a:b")
    body = owner_api.get("/api/providers").json()
    providers = {p["name"]: p for p in body["providers"]}
    assert set(providers) == {"offline", "openai", "openrouter", "replicate", "fal"}
    assert providers["offline"]["has_usable_key"] is True
    assert providers["fal"]["has_usable_key"] is True
    assert providers["openai"]["has_usable_key"] is False
    dalle = next(m for m in providers["openai"]["models"] if m["id"] == "dall-e-3")
    assert dalle["sizes"] == ["1024x1024", "1792x1024", "1024x1792"]
    assert dalle["options"]["style"] == ["vivid", "natural"]
    assert dalle["price"]["unit"] == "image" and dalle["price"]["date"] == "2023-12-25"


@pytest.mark.parametrize(
    ("payload", "estimate"),
    [
        (
            {
                "provider": "openai",
                "model": "gpt-image-1.5",
                "width": 1024,
                "height": 1536,
                "params": {"quality": "high"},
            },
            "0.200000",
        ),
        (
            {
                "provider": "openai",
                "model": "gpt-image-2",
                "width": 1024,
                "height": 1024,
                "num_images": 2,
            },
            "0.106000",
        ),
        (
            {
                "provider": "fal",
                "model": "fal-ai/flux/dev",
                "width": 1536,
                "height": 1024,
                "num_images": 2,
            },
            "0.100000",
        ),
        (
            {
                "provider": "replicate",
                "model": "black-forest-labs/flux-dev",
                "width": 1024,
                "height": 1024,
                "num_images": 3,
            },
            "0.075000",
        ),
        ({"provider": "offline"}, "0.000000"),
    ],
)
def test_estimate_prices_without_running(owner_api, monkeypatch, payload, estimate):
    # Prices, not the models' lifecycle: every row offered whatever catalog.json says of it.
    CatalogModel.objects.update(enabled=True, available=True, shutdown_date=None)
    for variable in ("OPENAI_API_KEY", "FAL_KEY", "REPLICATE_API_TOKEN"):
        monkeypatch.setenv(variable, "x:y")
    response = owner_api.post("/api/generate/estimate", {"prompt": "x", **payload}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["estimate_usd"] == estimate
    assert not Generation.objects.exists()


def test_price_override_is_used_in_estimates(owner_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    CatalogModel.objects.filter(model_id="gpt-image-2").update(price_override_usd="0.5")
    response = owner_api.post(
        "/api/generate/estimate",
        {"prompt": "x", "provider": "openai", "model": "gpt-image-2", "num_images": 2},
        format="json",
    )
    assert response.json()["estimate_usd"] == "1.000000"


def test_estimate_validates_like_generate(owner_api):
    response = owner_api.post(
        "/api/generate/estimate", {"prompt": "x", "width": 5000, "height": 10}, format="json"
    )
    assert response.status_code == 400 and "width" in response.json()


def test_admin_custom_replicate_model_works_without_code(
    owner_api, run_jobs, fake_replicate, client, admin_user
):
    client.force_login(admin_user)
    # Replicate publishes the model (the fake refuses models it does not know, as the API does).
    fake_replicate.add_listed_model(
        "acme/painter",
        {
            "required": ["prompt"],
            "properties": {
                "prompt": {"type": "string"},
                "width": {"type": "integer", "minimum": 256, "maximum": 1440},
                "height": {"type": "integer", "minimum": 256, "maximum": 1440},
                "num_outputs": {"type": "integer", "minimum": 1, "maximum": 2},
                "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 50},
                "guidance": {"type": "number", "minimum": 1, "maximum": 10},
                "seed": {"type": "integer"},
                "lora": {"type": "string"},
            },
        },
    )
    spec = (
        '{"min_size": 256, "max_size": 1440, "size_multiple": 32, "max_images": 2, '
        '"steps": [1, 50], "default_steps": 28, "cfg_scale": [1, 10], '
        '"default_cfg_scale": 3.5, "negative_prompt": false, "seed": true, "inputs": '
        '{"width": "width", "height": "height", "num_images": "num_outputs", '
        '"steps": "num_inference_steps", "cfg_scale": "guidance", "seed": "seed"}, '
        '"any_params": true}'
    )
    response = client.post(
        "/admin/generation/catalogmodel/add/",
        {
            "provider": "replicate",
            "model_id": "acme/painter",
            "display_name": "Acme painter",
            "enabled": "on",
            "sort_order": 200,
            "spec": spec,
            "price_unit": "image",
            "price_usd": "0.01",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model="acme/painter",
        prompt="x",
        width=512,
        height=768,
        steps=10,
        cfg_scale=2,
        params={"lora": "watercolor"},
    )
    assert result["status"] == "succeeded", result["error"]
    sent = fake_replicate.requests[0]
    assert sent["path"] == "/v1/models/acme/painter/predictions"
    assert sent["json"]["input"] == {
        "prompt": "x",
        "width": 512,
        "height": 768,
        "num_outputs": 1,
        "num_inference_steps": 10,
        "guidance": 2.0,
        "seed": result["seed"],
        "lora": "watercolor",
    }


def test_admin_rejects_a_spec_that_is_not_an_object(client, admin_user):
    client.force_login(admin_user)
    response = client.post(
        "/admin/generation/catalogmodel/add/",
        {
            "provider": "fal",
            "model_id": "fal-ai/x",
            "display_name": "X",
            "sort_order": 1,
            "spec": "[1, 2]",
        },
    )
    assert response.status_code == 200 and "must be a JSON object" in response.content.decode()


def test_catalog_admin_pages(client, admin_user):
    client.force_login(admin_user)
    assert client.get("/admin/generation/catalogmodel/").status_code == 200
    row = CatalogModel.objects.get(model_id="dall-e-3")
    assert client.get(f"/admin/generation/catalogmodel/{row.pk}/change/").status_code == 200
