"""fal's key check (what it knows) and model listing (for refresh_catalog), against the fake."""

import pytest

from imagegen.providers import get_provider
from imagegen.providers.base import KeyStatus, ProviderError

GOOD = "fal-key-id:fal-key-secret"
T2I = {"fal-ai/flux/schnell", "fal-ai/flux/dev", "fal-ai/flux-pro/v1.1", "fal-ai/fast-sdxl"}


def provider():
    return get_provider("fal")


# ------------------------------------------------------------------ key check (#8)
def test_a_valid_inference_key_passes_even_where_pricing_is_admin_only(fake_fal):
    fake_fal.set_scenario("pricing_admin_only")
    check = provider().check_key(GOOD)
    assert (check.status, check.message) == (KeyStatus.VALID, "fal.ai accepted the key.")
    assert not any(r["path"].startswith("/v1/") for r in fake_fal.requests)
    probe = fake_fal.requests[-1]
    assert probe["path"].startswith("/fal-ai/flux/requests/") and probe["method"] == "GET"
    assert fake_fal.jobs == {}  # nothing was run (or billed)


def test_an_unknown_key_is_invalid(fake_fal):
    check = provider().check_key("nope:nope")
    assert (check.status, check.message) == (KeyStatus.INVALID, "fal.ai rejected the API key.")


def test_a_locked_account_has_no_credit(fake_fal):
    fake_fal.set_scenario("no_credit", stage="status")
    check = provider().check_key(GOOD)
    assert check.status == KeyStatus.NO_CREDIT
    assert check.message.startswith("fal.ai reports no credit left on this account (User is")


@pytest.mark.parametrize(
    ("scenario", "options"),
    [("server_error", {"status": 503, "stage": "status"}), ("rate_limited", {"stage": "all"})],
)
def test_a_refused_check_does_not_prove_the_key_bad(fake_fal, scenario, options):
    fake_fal.set_scenario(scenario, **options)
    check = provider().check_key(GOOD)
    assert check.status == KeyStatus.UNVERIFIED
    assert check.message.startswith("Could not verify the key: fal.ai refused the check endpoint")


def test_an_unreachable_provider_is_unverified(settings):
    settings.FAL_QUEUE_BASE_URL = "http://127.0.0.1:9"
    check = provider().check_key(GOOD)
    assert check.status == KeyStatus.UNVERIFIED and GOOD not in check.message


# ------------------------------------------------------------------ listing
@pytest.mark.django_db
def test_the_listing_reads_every_page_with_schemas_and_units(fake_fal):
    listing = provider().list_models(GOOD, known=sorted(T2I))
    assert listing.complete
    by_id = {m.id: m for m in listing.models}
    assert set(by_id) == T2I  # the image-to-video endpoint is not offered
    cursors = [r for r in fake_fal.requests if "cursor" in r["query"]]
    assert cursors, "a single page: pagination was not exercised"
    for model in listing.models:
        assert model.input_schema["properties"]["prompt"]["type"] == "string"
        assert "$ref" not in str(model.input_schema)
        assert not model.deprecated and model.shutdown_date is None
    dev = by_id["fal-ai/flux/dev"]
    assert dev.label == "FLUX.1 [dev]"
    assert dev.input_schema["properties"]["num_inference_steps"]["maximum"] == 50
    sizes = dev.input_schema["properties"]["image_size"]["anyOf"]
    assert sizes[0]["properties"]["width"]["maximum"] == 14142
    # fal's pricing API says "image"; the catalog's hand-written unit wins.
    assert (dev.price_unit, str(dev.price_usd)) == ("megapixel", "0.025")
    assert dev.extra["price_unit_source"] == "catalog"
    assert dev.extra["price_unit_stated"] == "image"
    assert by_id["fal-ai/flux-pro/v1.1"].price_unit == "image"


@pytest.mark.django_db
def test_new_retired_deprecated_and_shut_down_models(fake_fal):
    fake_fal.add_listed_model("fal-ai/new-flux", label="New FLUX", price=(0.01, "image"))
    fake_fal.remove_listed_model("fal-ai/fast-sdxl")
    fake_fal.set_model_deprecated("fal-ai/flux/schnell")
    fake_fal.set_model_deprecated("fal-ai/flux-pro/v1.1")
    listing = provider().list_models(GOOD, known=sorted(T2I))
    by_id = {m.id: m for m in listing.models}
    assert listing.complete and "fal-ai/fast-sdxl" not in by_id
    new = by_id["fal-ai/new-flux"]
    assert new.label == "New FLUX" and new.input_schema["required"] == ["prompt"]
    assert new.price_unit == "image" and new.extra["price_unit_source"] == "fal pricing API"
    assert any("fal-ai/new-flux" in note and "estimates" in note for note in listing.notes)
    assert by_id["fal-ai/flux/schnell"].deprecated
    pro = by_id["fal-ai/flux-pro/v1.1"]
    assert pro.deprecated and pro.shutdown_date is None  # fal publishes no shutdown dates


@pytest.mark.django_db
def test_known_ids_outside_the_category_are_looked_up(fake_fal):
    video = "fal-ai/kling-video/v2.1/pro/image-to-video"
    listing = provider().list_models(GOOD, known=[video, "fal-ai/gone"])
    ids = {m.id for m in listing.models}
    assert video in ids and "fal-ai/gone" not in ids
    lookups = [r for r in fake_fal.requests if "endpoint_id" in r["query_multi"]]
    assert any(video in r["query_multi"]["endpoint_id"] for r in lookups)


@pytest.mark.django_db
def test_without_pricing_access_models_are_listed_without_prices(fake_fal):
    fake_fal.set_scenario("pricing_admin_only")
    listing = provider().list_models(GOOD, known=[])
    assert listing.complete and {m.id for m in listing.models} == T2I
    assert all(m.price_usd is None for m in listing.models)
    assert any("pricing API refused this key" in note for note in listing.notes)


@pytest.mark.django_db
def test_an_unreadable_listing_raises_in_words(fake_fal, settings):
    fake_fal.set_scenario("server_error", stage="models")
    with pytest.raises(ProviderError, match=r"fal.ai did not list its models \(HTTP 500\)"):
        provider().list_models(GOOD, known=[])
    settings.FAL_API_BASE_URL = "http://127.0.0.1:9/v1"
    with pytest.raises(ProviderError, match="Could not reach fal.ai"):
        provider().list_models(GOOD, known=[])
