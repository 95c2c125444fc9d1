"""OpenAI images through the official SDK against the local (strict) fake."""

import time
from decimal import Decimal

import pytest

from generation.models import Generation
from imagegen.providers import get_provider
from imagegen.providers.base import (
    GenerationRequest,
    KeyRestricted,
    KeyStatus,
    ModelSpec,
    ProviderError,
    RunContext,
)
from tests.fakes.openai_server import IMAGE_FIELDS
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

KEY = "sk-test-good"
TOKENS = {"input_text": 5, "input_image": 8, "output": 30}


@pytest.fixture(autouse=True)
def only_known_fields(request):
    """Every image request the fake answered with success carried only fields the real API
    knows (ImageGenerateParams): a misnamed field fails the test even if nothing else does."""
    fake = request.getfixturevalue("fake_openai") if "fake_openai" in request.fixturenames else None
    yield
    for sent in fake.requests if fake else ():
        if sent["path"] == "/v1/images/generations" and isinstance(sent["json"], dict):
            assert set(sent["json"]) <= IMAGE_FIELDS, sent["json"]


def spec(model="gpt-image-2", **kwargs) -> ModelSpec:
    return ModelSpec(
        id=model,
        label=model,
        sizes=((1024, 1024), (1536, 1024), (1024, 1536)),
        steps=None,
        cfg_scale=None,
        negative_prompt=False,
        seed=False,
        price_table=kwargs.pop("price_table", {"tokens_per_million": TOKENS}),
        **kwargs,
    )


def submit(owner_api, run_jobs, **payload):
    """A 1024² gpt-image-2 generation through the API, run inline; its final state."""
    fields = {"model": "gpt-image-2", "prompt": "x", "width": 1024, "height": 1024, **payload}
    return generate(owner_api, run_jobs, provider="openai", **fields)


def run(model="gpt-image-2", **params):
    """The provider called directly, as the runner calls it (spec resolved beforehand)."""
    ctx = RunContext(deadline=time.monotonic() + 20, api_key=KEY)
    ctx.spec = spec(model)
    request = GenerationRequest(prompt="a fox", model=model, width=1024, height=1024, params=params)
    return get_provider("openai").generate(request, ctx)


def test_gpt_image_success_with_several_images_records_token_cost(owner_api, run_jobs, fake_openai):
    result = generate(
        owner_api,
        run_jobs,
        provider="openai",
        model="gpt-image-2",
        prompt="a red fox",
        width=1024,
        height=1024,
        num_images=2,
        params={"quality": "low", "output_format": "webp", "output_compression": 80},
    )
    assert result["status"] == "succeeded", result["error"]
    assert len(result["images"]) == 2 and stored_image_count(result["id"]) == 2
    sent = fake_openai.requests[-1]
    assert sent["path"] == "/v1/images/generations"
    assert sent["json"] == {
        "model": "gpt-image-2",
        "prompt": "a red fox",
        "n": 2,
        "size": "1024x1024",
        "quality": "low",
        "output_format": "webp",
        "output_compression": 80,
    }
    assert sent["headers"]["authorization"] == "Bearer sk-test-good"
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_is_estimate is False and generation.cost_usd > 0
    assert generation.provider_request_id and generation.key_source == "environment"
    assert result["seed"] is None and result["steps"] is None  # the model takes neither


def test_the_default_model_has_no_announced_shutdown():
    openai_default = get_provider("openai").default_model
    openrouter_default = get_provider("openrouter").default_model
    assert openai_default.id == "gpt-image-2"
    assert openrouter_default.id == "google/gemini-3.1-flash-image"
    for model in (openai_default, openrouter_default):
        assert not model.shutdown_date and not model.deprecated


def test_no_response_format_is_sent_and_a_gateway_url_is_fetched_later(fake_openai):
    """GPT image models refuse ``response_format`` (400 unknown_parameter); an
    OpenAI-compatible gateway that answers URLs still works: the URL is handed to the fetcher."""
    fake_openai.set_scenario("result_url", url="/files/x.png")
    result = run("gpt-image-1.5")
    assert [image.url for image in result.images] == [fake_openai.base_url + "/files/x.png"]
    assert "response_format" not in fake_openai.requests[-1]["json"]


@pytest.mark.parametrize("model", ["dall-e-3", "dall-e-2"])
def test_a_removed_model_is_reported_as_no_longer_offered(fake_openai, model):
    with pytest.raises(ProviderError) as exc:
        run(model)
    assert str(exc.value) == (
        f"OpenAI no longer offers the model {model} to this key (it was retired, or the key's "
        "project may not use it); choose another model."
    )


def test_a_model_the_fake_stops_listing_is_no_longer_offered(fake_openai):
    with pytest.raises(ProviderError, match="no longer offers the model gpt-image-1 to"):
        run("gpt-image-1")  # shut down on 2026-10-23
    fake_openai.add_listed_model("gpt-image-1")
    assert run("gpt-image-1").images
    fake_openai.remove_listed_model("gpt-image-1")
    with pytest.raises(ProviderError, match="no longer offers the model gpt-image-1"):
        run("gpt-image-1")


def test_unverified_organisation_is_a_restricted_key_not_a_bad_one(fake_openai):
    fake_openai.set_scenario("org_unverified", model="gpt-image-2")
    with pytest.raises(KeyRestricted) as exc:
        run("gpt-image-2")
    message = str(exc.value)
    assert exc.value.model == "gpt-image-2"
    assert "accepted the key" in message and "must be verified" in message
    assert "platform.openai.com/settings/organization/general" in message
    assert "rejected the API key" not in message
    assert run("gpt-image-1.5").images  # another model is not affected


def test_billing_hard_limit_is_no_credit(fake_openai):
    fake_openai.set_scenario("billing_limit")
    with pytest.raises(ProviderError) as exc:
        run()
    assert str(exc.value).startswith("OpenAI reports no credit left on this account")
    assert "rejected the parameters" not in str(exc.value)


@pytest.mark.parametrize(
    ("params", "words"),
    [
        ({"moderation": "strict"}, "moderation"),
        ({"background": "transparent", "output_format": "jpeg"}, "Transparent background"),
        ({"output_compression": 50}, "output_compression"),
    ],
)
def test_values_the_api_refuses_are_rejected_parameters(fake_openai, params, words):
    with pytest.raises(ProviderError) as exc:
        run(**params)
    assert str(exc.value).startswith("OpenAI rejected the parameters:") and words in str(exc.value)


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"model": "gpt-image-2", "width": 512, "height": 512}, "width", "1536x1024"),
        ({"model": "gpt-image-2", "num_images": 9}, "num_images", "4"),
        ({"model": "gpt-image-2", "params": {"quality": "ultra"}}, "params", "low, medium"),
        ({"model": "gpt-image-2", "params": {"style": "vivid"}}, "params", "does not take"),
        ({"model": "gpt-image-2", "steps": 30}, "steps", "does not take"),
        ({"model": "gpt-image-2", "seed": 4}, "seed", "does not take a seed"),
        ({"model": "gpt-image-1.5", "negative_prompt": "blur"}, "negative_prompt", "does not"),
    ],
)
def test_values_the_model_cannot_take_are_400(owner_api, fake_openai, payload, field, words):
    body = {"prompt": "x", "provider": "openai", **payload}
    response = owner_api.post("/api/generate", body, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert fake_openai.requests == []


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("unauthorized", "OpenAI rejected the API key: check it in Settings."),
        ("no_credit", "OpenAI reports no credit left on this account"),
        ("billing_limit", "OpenAI reports no credit left on this account"),
        ("content_policy", "OpenAI refused the prompt (content policy): Your request was"),
        ("validation", "OpenAI rejected the parameters: Invalid value for 'size'"),
        ("malformed", "Unexpected response from OpenAI."),
    ],
)
def test_failures_are_explained_in_words(owner_api, run_jobs, fake_openai, scenario, words):
    fake_openai.set_scenario(scenario)
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]
    assert "sk-test-good" not in result["error"] and "Traceback" not in result["error"]
    assert stored_image_count(result["id"]) == 0


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_openai):
    fake_openai.set_scenario("rate_limited_once")
    result = submit(owner_api, run_jobs)
    assert result["status"] == "succeeded", result["error"]
    assert len(fake_openai.requests) == 2


def test_rate_limited_forever_gives_up_within_the_deadline(
    owner_api, run_jobs, fake_openai, settings
):
    settings.GENERATION_TIMEOUT = 4
    fake_openai.set_scenario("rate_limited", retry_after=1)
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"].startswith("Rate limited by OpenAI after")
    assert 2 <= len(fake_openai.requests) <= 4


def test_server_error_is_retried_then_reported(owner_api, run_jobs, fake_openai, settings):
    settings.GENERATION_TIMEOUT = 3
    fake_openai.set_scenario("server_error", status=503)
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"] == "OpenAI is unavailable right now (HTTP 503); try again later."
    assert len(fake_openai.requests) >= 2


def test_timeout(owner_api, run_jobs, fake_openai, settings):
    settings.GENERATION_TIMEOUT = 1
    fake_openai.set_scenario("slow", seconds=5)
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed" and result["error"] == "Timed out after 1 s."


def test_token_cost_uses_the_models_token_prices(fake_openai):
    result = run("gpt-image-2", quality="high")
    usage = result.metadata["usage"]
    expected = (
        Decimal(usage["input_tokens_details"]["text_tokens"]) * 5
        + Decimal(usage["output_tokens"]) * 30
    ) / 1_000_000
    assert result.cost_usd == expected.quantize(Decimal("0.000001"))
    assert result.cost_is_estimate is False


# ----------------------------------------------------------------------------- key checks
@pytest.fixture
def enabled(monkeypatch):
    """The catalog models an admin enabled (a removed one among them, not offered)."""
    from imagegen.providers.openai import OpenAIProvider

    models = [spec("gpt-image-2"), spec("gpt-image-1.5"), spec("dall-e-3", available=False)]
    monkeypatch.setattr(OpenAIProvider, "models", lambda self: models)


def test_key_check_valid_and_invalid(fake_openai, enabled):
    provider = get_provider("openai")
    check = provider.check_key(KEY)
    assert (check.status, check.message) == (KeyStatus.VALID, "OpenAI accepted the key.")
    assert check.ok
    check = provider.check_key("sk-bad")
    assert check.status == KeyStatus.INVALID and not check.ok
    assert "rejected the API key" in check.message and "sk-bad" not in check.message


def test_key_check_names_the_enabled_models_the_key_cannot_use(fake_openai, enabled):
    fake_openai.hide_model(KEY, "gpt-image-2")
    check = get_provider("openai").check_key(KEY)
    assert check.status == KeyStatus.RESTRICTED and check.ok
    assert "gpt-image-2" in check.message and "gpt-image-1.5" not in check.message


def test_key_check_when_the_check_endpoint_is_refused(fake_openai):
    fake_openai.set_scenario("check_forbidden")
    check = get_provider("openai").check_key(KEY)
    assert check.status == KeyStatus.UNVERIFIED
    assert check.message.startswith("Could not verify the key: OpenAI refused the check endpoint")


def test_key_check_without_credit(fake_openai):
    fake_openai.set_scenario("no_credit")
    check = get_provider("openai").check_key(KEY)
    assert check.status == KeyStatus.NO_CREDIT and "no credit" in check.message


# ----------------------------------------------------------------------------- listing
def test_list_models_follows_the_fakes_listing(fake_openai):
    provider = get_provider("openai")
    listing = provider.list_models(KEY, known=["dall-e-3", "gpt-4o"])
    ids = {m.id for m in listing.models}
    assert listing.complete
    assert {"gpt-image-2", "gpt-image-1.5", "chatgpt-image-latest", "gpt-4o"} <= ids
    assert "dall-e-3" not in ids and "gpt-4o-mini" not in ids  # removed; not an image model
    assert "gpt-image-1" not in ids and "gpt-image-1-mini" not in ids  # shut down
    new = "gpt-image-3"
    fake_openai.add_listed_model(new)
    fake_openai.remove_listed_model("gpt-image-1.5")
    listing = provider.list_models(KEY, known=[])
    by_id = {m.id: m for m in listing.models}
    assert new in by_id and "gpt-image-1.5" not in by_id
    listed = by_id[new]
    assert listed.label == "GPT Image 3" and listed.shutdown_date is None
    assert listed.spec["sizes"]["1536x1024"] == "1536x1024"
    assert listed.spec["options"]["moderation"] == ["low", "auto"] and not listed.spec["seed"]


def test_list_models_fails_in_words(fake_openai):
    with pytest.raises(ProviderError, match="OpenAI rejected the API key"):
        get_provider("openai").list_models("sk-bad", known=[])
