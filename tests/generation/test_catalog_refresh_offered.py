"""What the catalog offers once it follows the providers (issue #14): retired, shut down and
disabled models are not offered and a request for one is a 400 in words; the API, the
Generate page and the admin show availability, deprecation and shutdown dates."""

from datetime import date, timedelta

import pytest
from django.utils import timezone

from generation import runner
from generation.models import CatalogModel, Status
from imagegen.providers import get_provider
from imagegen.providers.catalog import specs_for, sync_builtin_catalog
from settings_app.models import Preferences
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def retire(model_id, **fields):
    values = {"available": False, "shutdown_date": date(2026, 5, 12)}
    values.update(fields)
    CatalogModel.objects.filter(model_id=model_id).update(**values)


def today():
    return timezone.localdate()


def post(api, **payload):
    return api.post("/api/generate", {"prompt": "x", **payload}, format="json")


# --- What is offered ---------------------------------------------------------------------------


def test_only_enabled_available_models_before_their_shutdown_are_offered():
    CatalogModel.objects.filter(provider="openai").update(
        available=True, enabled=True, shutdown_date=None
    )
    retire("dall-e-3")
    CatalogModel.objects.filter(model_id="dall-e-2").update(enabled=False)
    CatalogModel.objects.filter(model_id="gpt-image-1").update(shutdown_date=today())
    CatalogModel.objects.filter(model_id="gpt-image-1-mini").update(
        shutdown_date=today() + timedelta(days=1), deprecated=True
    )
    offered = {spec.id: spec for spec in specs_for("openai")}
    assert "dall-e-3" not in offered and "dall-e-2" not in offered
    assert "gpt-image-1" not in offered  # its shutdown day has come
    mini = offered["gpt-image-1-mini"]
    assert (mini.available, mini.deprecated) == (True, True)
    assert mini.shutdown_date == (today() + timedelta(days=1)).isoformat()
    assert get_provider("openai").get_model("dall-e-3") is None


def test_the_default_model_is_the_first_offered_one():
    first = specs_for("replicate")[0].id
    CatalogModel.objects.filter(provider="replicate", model_id=first).update(available=False)
    assert get_provider("replicate").default_model.id == specs_for("replicate")[0].id != first


def test_a_retired_model_is_a_400_in_words(owner_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    retire("dall-e-3")
    response = post(owner_api, provider="openai", model="dall-e-3")
    assert response.status_code == 400
    assert response.json()["model"] == [
        "OpenAI no longer offers dall-e-3 (retired on 2026-05-12); choose another model."
    ]


def test_a_model_past_its_shutdown_date_is_a_400_even_if_still_listed(owner_api, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    CatalogModel.objects.filter(model_id="gpt-image-1").update(
        available=True, enabled=True, shutdown_date=today() - timedelta(days=2)
    )
    response = post(owner_api, provider="openai", model="gpt-image-1")
    assert response.status_code == 400
    when = (today() - timedelta(days=2)).isoformat()
    assert response.json()["model"] == [
        f"OpenAI no longer offers gpt-image-1 (retired on {when}); choose another model."
    ]


def test_a_disabled_model_is_a_400_that_says_an_admin_disabled_it(owner_api, monkeypatch):
    monkeypatch.setenv("FAL_KEY", "a:b")
    CatalogModel.objects.filter(model_id="fal-ai/fast-sdxl").update(enabled=False)
    response = post(owner_api, provider="fal", model="fal-ai/fast-sdxl")
    assert response.status_code == 400
    assert response.json()["model"] == [
        "fal-ai/fast-sdxl was disabled by an admin; choose another model."
    ]


def test_an_unknown_model_still_lists_what_is_offered(owner_api):
    response = post(owner_api, provider="fal", model="fal-ai/nope")
    assert response.status_code == 400 and "Unknown model" in response.json()["model"][0]


def test_a_remix_of_a_retired_model_is_a_400(owner_api, owner, run_jobs, monkeypatch):
    from gallery.models import Image

    monkeypatch.setenv("FAL_KEY", "a:b")
    run_jobs(owner_api, {"prompt": "fox", "width": 64, "height": 64})  # an image to remix
    image = Image.objects.filter(generation__owner=owner).first()
    image.generation.provider, image.generation.model = "fal", "fal-ai/flux/dev"
    image.generation.save(update_fields=["provider", "model"])
    retire("fal-ai/flux/dev", shutdown_date=None)
    body = owner_api.get(f"/api/gallery/{image.pk}/remix").json()
    assert body["model"] == "fal-ai/flux/dev"
    response = owner_api.post("/api/generate", body, format="json")
    assert response.status_code == 400
    assert response.json()["model"] == [
        "fal.ai no longer offers fal-ai/flux/dev; choose another model."
    ]


def test_the_generate_page_says_why_a_remixed_model_is_missing(owner_client, owner, run_jobs):
    from gallery.models import Image
    from tests.users import client_for

    run_jobs(client_for(owner), {"prompt": "fox", "width": 64, "height": 64})
    image = Image.objects.filter(generation__owner=owner).first()
    image.generation.provider, image.generation.model = "openai", "dall-e-3"
    image.generation.save(update_fields=["provider", "model"])
    retire("dall-e-3")
    body = owner_client.get(f"/generate/?remix={image.pk}").content.decode()
    assert "OpenAI no longer offers dall-e-3 (retired on 2026-05-12)" in body
    assert 'value="dall-e-3"' not in body


def test_a_saved_default_model_no_longer_offered_falls_back_silently(owner, owner_api, run_jobs):
    Preferences.objects.update_or_create(
        user=owner, defaults={"default_provider": "openai", "default_model": "dall-e-3"}
    )
    retire("dall-e-3")
    from generation import services, validation

    provider, spec = validation.resolve_model(owner, {})
    assert (provider.name, spec.id) == ("openai", specs_for("openai")[0].id)
    initial = services.form_initial(owner)
    assert initial["provider"] == "openai" and initial["model"] == ""


def test_a_queued_generation_whose_model_was_retired_meanwhile_fails_in_words(
    owner, settings, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    settings.OPENAI_BASE_URL = "http://127.0.0.1:9/v1"  # never reached
    generation = make_generation(
        owner, provider="openai", model="gpt-image-1", width=1024, height=1024, steps=None
    )
    retire("gpt-image-1")
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "'gpt-image-1' is no longer offered by OpenAI" in generation.error


@pytest.mark.parametrize(
    ("provider", "model", "variable"),
    [
        ("replicate", "black-forest-labs/flux-dev", "REPLICATE_API_TOKEN"),
        ("fal", "fal-ai/flux/dev", "FAL_KEY"),
        ("openrouter", "google/gemini-2.5-flash-image", "OPENROUTER_API_KEY"),
    ],
)
def test_every_cloud_provider_refuses_a_model_retired_after_queueing(
    owner, monkeypatch, provider, model, variable
):
    monkeypatch.setenv(variable, "key-id:key-secret")
    generation = make_generation(
        owner, provider=provider, model=model, width=1024, height=1024, steps=None
    )
    CatalogModel.objects.filter(model_id=model).update(available=False)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and "is no longer offered" in generation.error


# --- catalog.json's keys -------------------------------------------------------------------------


def test_sync_reads_available_deprecated_and_shutdown_date(monkeypatch):
    from imagegen.providers import catalog

    entries = catalog.builtin_entries()
    by_id = {entry["id"]: entry for entry in entries}
    by_id["dall-e-3"].update({"available": False, "shutdown_date": "2026-05-12"})
    by_id["gpt-image-1.5"].update({"deprecated": True, "shutdown_date": "2027-03-01"})
    by_id["dall-e-3"].pop("deprecated", None)
    monkeypatch.setattr(catalog, "builtin_entries", lambda: entries)
    row = CatalogModel.objects.get(model_id="dall-e-3")
    row.enabled, row.display_name = False, "Old faithful"
    row.save()
    sync_builtin_catalog()
    dalle = CatalogModel.objects.get(model_id="dall-e-3")
    gpt = CatalogModel.objects.get(model_id="gpt-image-1.5")
    assert (dalle.available, dalle.shutdown_date) == (False, date(2026, 5, 12))
    assert (dalle.enabled, dalle.display_name) == (False, "Old faithful")  # admin's, kept
    assert (gpt.deprecated, gpt.shutdown_date, gpt.available) == (True, date(2027, 3, 1), True)


def test_sync_keeps_what_a_refresh_recorded(monkeypatch):
    """A model a complete listing stopped naming stays unavailable, a listed shutdown date
    stays when the file has none, and a newer listed price stays."""
    from imagegen.providers import catalog

    entries = catalog.builtin_entries()
    entry = next(e for e in entries if e["id"] == "fal-ai/flux/dev")
    entry.pop("shutdown_date", None)
    entry.pop("available", None)
    monkeypatch.setattr(catalog, "builtin_entries", lambda: entries)
    CatalogModel.objects.filter(model_id="fal-ai/flux/dev").update(
        available=False,
        missing_since=timezone.now(),
        shutdown_date=date(2027, 1, 31),
        price_usd="0.03",
        price_date=date(2099, 1, 1),
    )
    sync_builtin_catalog()
    row = CatalogModel.objects.get(model_id="fal-ai/flux/dev")
    assert (row.available, row.shutdown_date) == (False, date(2027, 1, 31))
    assert str(row.price_usd) == "0.030000" and row.price_date == date(2099, 1, 1)
    assert row.price_unit == entry["price"]["unit"]


# --- GET /api/providers -------------------------------------------------------------------------


def test_the_providers_api_says_available_deprecated_and_shutdown_date(owner_api):
    CatalogModel.objects.filter(provider="openai").update(enabled=True)
    retire("dall-e-3")
    CatalogModel.objects.filter(model_id="dall-e-2").update(enabled=False, available=False)
    CatalogModel.objects.filter(model_id="gpt-image-1-mini").update(
        available=True, deprecated=True, shutdown_date=date(2099, 1, 31)
    )
    body = owner_api.get("/api/providers").json()
    models = {m["id"]: m for p in body["providers"] if p["name"] == "openai" for m in p["models"]}
    assert models["dall-e-3"]["available"] is False  # enabled but retired: listed, flagged
    assert models["dall-e-3"]["shutdown_date"] == "2026-05-12"
    assert "dall-e-2" not in models  # disabled by an admin: not listed
    mini = models["gpt-image-1-mini"]
    assert (mini["available"], mini["deprecated"], mini["shutdown_date"]) == (
        True,
        True,
        "2099-01-31",
    )
    offline = next(p for p in body["providers"] if p["name"] == "offline")
    assert offline["models"][0]["available"] is True


# --- The Generate page -------------------------------------------------------------------------


def test_the_model_picker_hides_retired_models_and_marks_a_shutdown(owner_client):
    CatalogModel.objects.filter(provider="openai").update(enabled=True, available=True)
    retire("dall-e-3")
    CatalogModel.objects.filter(model_id="gpt-image-1-mini").update(
        shutdown_date=date(2099, 1, 31), deprecated=True
    )
    CatalogModel.objects.filter(model_id="dall-e-2").update(deprecated=True, shutdown_date=None)
    body = owner_client.get("/generate/models/?provider=openai").content.decode()
    assert 'value="dall-e-3"' not in body
    assert "(shuts down 2099-01-31)" in body and "(deprecated)" in body
    info = owner_client.get(
        "/generate/model-info/?provider=openai&model=gpt-image-1-mini", **HTMX
    ).content.decode()
    assert "Shuts down 2099-01-31" in info and "model-badge" in info
    plain = owner_client.get("/generate/model-info/?provider=offline").content.decode()
    assert "model-badge" not in plain


def test_a_provider_with_nothing_offered_says_so(owner_client):
    CatalogModel.objects.filter(provider="fal").update(enabled=False)
    info = owner_client.get("/generate/model-info/?provider=fal").content.decode()
    assert "fal.ai offers no models right now" in info
    assert owner_client.get("/generate/models/?provider=fal").status_code == 200


def test_a_submission_to_a_provider_with_nothing_offered_is_a_400(owner_api):
    CatalogModel.objects.filter(provider="fal").update(enabled=False)
    response = post(owner_api, provider="fal")
    assert response.status_code == 400
    assert response.json()["model"] == [
        "fal.ai offers no models right now; choose another provider."
    ]


# --- The admin -----------------------------------------------------------------------------------


def test_the_admin_index_warns_of_shutdowns_within_30_days(admin_user, client, monkeypatch):
    # The test's "today" and the page's are the same day even when the suite runs across
    # midnight (the page counts days from its own clock).
    noon = timezone.now().replace(hour=12, minute=0, second=0, microsecond=0)
    monkeypatch.setattr(timezone, "now", lambda: noon)
    CatalogModel.objects.update(shutdown_date=None)
    CatalogModel.objects.filter(model_id="gpt-image-1.5").update(
        enabled=True, available=True, shutdown_date=today() + timedelta(days=10)
    )
    CatalogModel.objects.filter(model_id="gpt-image-2").update(
        enabled=True, available=True, shutdown_date=today() + timedelta(days=1)
    )
    CatalogModel.objects.filter(model_id="dall-e-3").update(  # retired: nothing to do
        enabled=True, shutdown_date=date(2026, 5, 12)
    )
    CatalogModel.objects.filter(model_id="fal-ai/flux/dev").update(
        enabled=True, shutdown_date=today() + timedelta(days=40)
    )
    CatalogModel.objects.filter(model_id="fal-ai/flux/schnell").update(  # not offered
        enabled=False, shutdown_date=today() + timedelta(days=3)
    )
    CatalogModel.objects.filter(model_id="fal-ai/fast-sdxl").update(  # no longer listed
        available=False, shutdown_date=today() + timedelta(days=3)
    )
    client.force_login(admin_user)
    body = client.get("/admin/").content.decode()
    warning = body.split("catalog-shutdown-warnings")[1].split("</ul>")[0]
    soon = (today() + timedelta(days=10)).isoformat()
    tomorrow = (today() + timedelta(days=1)).isoformat()
    assert f"OpenAI: GPT Image 2 shuts down on {tomorrow} (in 1 day)" in warning
    assert f"OpenAI: GPT Image 1.5 shuts down on {soon} (in 10 days)" in warning
    assert warning.index("GPT Image 2") < warning.index("GPT Image 1.5")  # soonest first
    for absent in ("DALL", "FLUX.1 [dev]", "schnell", "fast-sdxl", "SDXL"):
        assert absent not in warning, absent
    assert "/admin/generation/catalogmodel/?enabled__exact=1" in warning


def test_the_admin_index_has_no_warning_without_near_shutdowns(admin_user, client):
    CatalogModel.objects.update(shutdown_date=None)
    client.force_login(admin_user)
    body = client.get("/admin/").content.decode()
    assert "catalog-shutdown-warnings" not in body and "Site administration" in body


def test_the_catalog_admin_lists_and_filters_the_new_fields(admin_user, client):
    client.force_login(admin_user)
    body = client.get("/admin/generation/catalogmodel/").content.decode()
    # Shutdown date is a column; source and deprecation are filters (the list fits 1366 px).
    assert "Shutdown date" in body and "By source" in body and "By deprecated" in body
    assert "?available__exact=0" in body and "?source__exact=listed" in body  # the filters
    CatalogModel.objects.filter(model_id="dall-e-3").update(available=False)
    body = client.get("/admin/generation/catalogmodel/?available__exact=0").content.decode()
    assert "dall-e-3" in body and "gpt-image-1.5" not in body
    assert client.get("/admin/generation/catalogmodel/?source__exact=listed").status_code == 200


def test_machine_owned_fields_are_read_only_and_an_edited_listed_spec_is_marked(admin_user, client):
    listed = CatalogModel.objects.create(
        provider="fal",
        model_id="fal-ai/new",
        display_name="New",
        source="listed",
        enabled=False,
        spec={"max_images": 1},
    )
    client.force_login(admin_user)
    url = f"/admin/generation/catalogmodel/{listed.pk}/change/"
    form = client.get(url).context["adminform"].form
    for name in ("available", "deprecated", "shutdown_date", "source", "listed_schema"):
        assert name not in form.fields
    response = client.post(
        url,
        {
            "display_name": "New",
            "enabled": "on",
            "sort_order": 1000,
            "spec": '{"max_images": 2}',
            "price_unit": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    listed.refresh_from_db()
    assert listed.spec_edited is True and listed.enabled is True
    assert listed.spec == {"max_images": 2}
