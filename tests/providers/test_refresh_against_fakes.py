"""refresh_catalog against the strict fakes (#14 "Done when"): each provider's own listing
adds a model it newly lists (disabled, with parameters derived from its schema), retires one
it stops listing, records deprecation and shutdown dates where the provider publishes them,
and never touches an admin's edits. An admin then enables the new model and it generates,
without a code change."""

from datetime import date
from decimal import Decimal

import pytest

from generation.models import CatalogModel
from generation.tasks import refresh_catalog
from imagegen.providers import get_provider
from tests.providers.helpers import generate

pytestmark = pytest.mark.django_db

NEW_REPLICATE_SCHEMA = {
    "type": "object",
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "x-order": 0},
        "aspect_ratio": {
            "allOf": [{"$ref": "#/components/schemas/aspect_ratio"}],
            "default": "1:1",
            "x-order": 1,
        },
        "num_inference_steps": {
            "type": "integer",
            "minimum": 1,
            "maximum": 8,
            "default": 4,
            "x-order": 2,
        },
        "seed": {"type": "integer", "x-order": 3},
        "output_format": {
            "allOf": [{"$ref": "#/components/schemas/output_format"}],
            "default": "webp",
            "x-order": 4,
        },
    },
}
NEW_REPLICATE_COMPONENTS = {
    "aspect_ratio": {"type": "string", "enum": ["1:1", "16:9", "9:16"]},
    "output_format": {"type": "string", "enum": ["webp", "png"]},
}


def row(provider, model_id) -> CatalogModel:
    return CatalogModel.objects.get(provider=provider, model_id=model_id)


def offered(provider) -> set[str]:
    return {spec.id for spec in get_provider(provider).models()}


def admin_edits(provider, model_id):
    """What an admin changes on a row: the refresh must keep every one of them."""
    CatalogModel.objects.filter(provider=provider, model_id=model_id).update(
        display_name="Our house model", price_override_usd=Decimal("0.5")
    )


def assert_admin_edits_kept(provider, model_id):
    kept = row(provider, model_id)
    assert (kept.display_name, kept.price_override_usd) == ("Our house model", Decimal("0.5"))


def line_for(lines, label) -> str:
    return next(line for line in lines if line.startswith(label + ":"))


def test_openrouter(fake_openrouter):
    fake_openrouter.add_listed_model("acme/painter-image")
    fake_openrouter.remove_listed_model("google/gemini-2.5-flash-image")
    fake_openrouter.set_model_shutdown("google/gemini-3.1-flash-image", "2027-02-01")
    admin_edits("openrouter", "google/gemini-3.1-flash-image")

    line = line_for(refresh_catalog(), "OpenRouter")

    assert "acme/painter-image" in line.split("added")[1], line
    new = row("openrouter", "acme/painter-image")
    assert (new.source, new.enabled, new.available) == ("listed", False, True)
    assert new.spec["sizes"] and new.spec["inputs"]["size"] == "aspect_ratio"
    gemini = row("openrouter", "google/gemini-3.1-flash-image")
    assert gemini.shutdown_date == date(2027, 2, 1) and gemini.available
    assert_admin_edits_kept("openrouter", "google/gemini-3.1-flash-image")
    assert row("openrouter", "google/gemini-2.5-flash-image").available is False
    assert "acme/painter-image" not in offered("openrouter")  # until an admin enables it
    spec = get_provider("openrouter").get_model("google/gemini-3.1-flash-image")
    assert spec.shutdown_date == "2027-02-01"


def test_openrouter_stops_listing_the_default(fake_openrouter):
    fake_openrouter.remove_listed_model("google/gemini-3.1-flash-image")
    fake_openrouter.add_listed_model("acme/painter-image")
    # Its only available model gone at once looks like a broken listing: nothing retired.
    line = line_for(refresh_catalog(), "OpenRouter")
    assert "would retire 1 of 1: not applied" in line, line
    assert row("openrouter", "google/gemini-3.1-flash-image").available is True
    # With the newly listed model in the catalog it is one of two: retired.
    line = line_for(refresh_catalog(), "OpenRouter")
    assert "retired 1: google/gemini-3.1-flash-image" in line, line
    assert row("openrouter", "google/gemini-3.1-flash-image").available is False
    assert "google/gemini-3.1-flash-image" not in offered("openrouter")


def test_openai(fake_openai):
    fake_openai.add_listed_model("gpt-image-3")
    fake_openai.remove_listed_model("gpt-image-1.5")
    admin_edits("openai", "gpt-image-2")

    line = line_for(refresh_catalog(), "OpenAI")

    assert "gpt-image-3" in line.split("added")[1] and "retired 1: gpt-image-1.5" in line, line
    new = row("openai", "gpt-image-3")
    assert (new.source, new.enabled, new.display_name) == ("listed", False, "GPT Image 3")
    assert new.spec["options"]["quality"] == ["low", "medium", "high", "auto"]
    assert row("openai", "gpt-image-1.5").available is False
    assert_admin_edits_kept("openai", "gpt-image-2")
    assert row("openai", "gpt-image-2").available
    # Retired by OpenAI (catalog.json): a listing cannot bring DALL·E back.
    assert row("openai", "dall-e-3").available is False


def test_replicate_new_model_is_derived_from_its_schema_and_runs_once_enabled(
    fake_replicate, owner_api, run_jobs
):
    fake_replicate.add_listed_model(
        "acme/quick-flux", NEW_REPLICATE_SCHEMA, components=NEW_REPLICATE_COMPONENTS
    )
    fake_replicate.remove_listed_model("black-forest-labs/flux-dev")
    admin_edits("replicate", "black-forest-labs/flux-schnell")

    line = line_for(refresh_catalog(), "Replicate")

    assert "acme/quick-flux" in line and "black-forest-labs/flux-dev" in line, line
    new = row("replicate", "acme/quick-flux")
    assert (new.source, new.enabled) == ("listed", False)
    assert new.spec["steps"] == [1, 8] and new.spec["default_steps"] == 4
    assert set(dict(new.spec["sizes"]).values()) == {"1:1", "16:9", "9:16"}
    assert new.spec["inputs"]["size"] == "aspect_ratio"
    assert row("replicate", "black-forest-labs/flux-dev").available is False
    assert_admin_edits_kept("replicate", "black-forest-labs/flux-schnell")

    # An admin enables it: the same code generates with it, inputs named as its schema says.
    CatalogModel.objects.filter(pk=new.pk).update(enabled=True)
    result = generate(
        owner_api, run_jobs, provider="replicate", model="acme/quick-flux", prompt="a kite",
        width=1360, height=768, steps=6,
    )  # fmt: skip
    assert result["status"] == "succeeded", result["error"]
    created = [r for r in fake_replicate.requests if r["method"] == "POST"]
    assert created[-1]["json"]["input"]["aspect_ratio"] == "16:9"
    assert created[-1]["json"]["input"]["num_inference_steps"] == 6
    assert fake_replicate.schema_violations() == {}


def test_fal_new_endpoint_retired_and_deprecated(fake_fal, owner_api, run_jobs):
    fake_fal.add_listed_model("fal-ai/new-flux", label="New FLUX")
    fake_fal.remove_listed_model("fal-ai/fast-sdxl")
    fake_fal.set_model_deprecated("fal-ai/flux/dev")
    admin_edits("fal", "fal-ai/flux/schnell")

    line = line_for(refresh_catalog(), "fal.ai")

    assert "fal-ai/new-flux" in line and "retired 1: fal-ai/fast-sdxl" in line, line
    new = row("fal", "fal-ai/new-flux")
    assert (new.source, new.enabled, new.display_name) == ("listed", False, "New FLUX")
    assert new.spec["steps"] == [1, 50] and new.spec["inputs"]["size"] == "image_size"
    assert row("fal", "fal-ai/fast-sdxl").available is False
    dev = row("fal", "fal-ai/flux/dev")
    assert dev.deprecated and dev.available and dev.price_unit == "megapixel"
    assert_admin_edits_kept("fal", "fal-ai/flux/schnell")

    CatalogModel.objects.filter(pk=new.pk).update(enabled=True)
    result = generate(
        owner_api, run_jobs, provider="fal", model="fal-ai/new-flux", prompt="a kite",
        width=1024, height=1024, steps=20,
    )  # fmt: skip
    assert result["status"] == "succeeded", result["error"]


def test_a_provider_that_cannot_be_read_changes_nothing(fake_fal, monkeypatch):
    before = list(CatalogModel.objects.filter(provider="fal").values())
    fake_fal.set_scenario("unauthorized", stage="models")
    line = line_for(refresh_catalog(), "fal.ai")
    assert "not refreshed" in line
    assert list(CatalogModel.objects.filter(provider="fal").values()) == before


@pytest.mark.parametrize(("provider", "label"), [("openai", "OpenAI"), ("replicate", "Replicate")])
def test_a_listing_that_needs_a_key_says_so_without_one(monkeypatch, provider, label):
    from settings_app.keys import ENVIRONMENT_KEYS

    for variable in ENVIRONMENT_KEYS.values():
        monkeypatch.delenv(variable, raising=False)
    line = line_for(refresh_catalog(), label)
    assert line == (
        f"{label}: not refreshed (no {label} key to read its model list with: store a team "
        "key (admin → Team keys), set the provider's environment variable or pass the "
        "command's key flag)."
    )
