"""OpenRouter image generation (chat completions with image modality) via the openai SDK."""

import time
from datetime import date

import pytest

from generation.models import Generation
from imagegen.providers import get_provider
from imagegen.providers.base import (
    GenerationRequest,
    KeyStatus,
    ModelSpec,
    ProviderError,
    RunContext,
)
from tests.fakes.openrouter_server import KNOWN_CHAT_FIELDS, image_model
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

GEMINI = "google/gemini-3.1-flash-image"
KEY = "sk-or-v1-test-good"
IMAGE_CONFIG_FIELDS = {"aspect_ratio", "image_size"}


@pytest.fixture(autouse=True)
def only_known_fields(request):
    """OpenRouter ignores fields it does not know, so a misnamed one would pass silently:
    every chat request must carry only ChatRequest's documented fields (openapi.yaml)."""
    name = "fake_openrouter"
    fake = request.getfixturevalue(name) if name in request.fixturenames else None
    yield
    for sent in fake.requests if fake else ():
        body = sent["json"]
        if sent["path"].endswith("/chat/completions") and isinstance(body, dict):
            assert set(body) <= KNOWN_CHAT_FIELDS, body
            assert set(body.get("image_config") or {}) <= IMAGE_CONFIG_FIELDS, body


def spec(model=GEMINI, sizes=None, **kwargs) -> ModelSpec:
    sizes = sizes or {"1024x1024": "1:1", "2048x512": "4:1"}
    return ModelSpec(
        id=model,
        label=model,
        sizes=tuple(tuple(int(n) for n in s.split("x")) for s in sizes),
        native_sizes=sizes,
        inputs={"size": "aspect_ratio"},
        steps=None,
        cfg_scale=None,
        negative_prompt=False,
        seed=kwargs.pop("seed", False),
        **kwargs,
    )


def run(model=GEMINI, width=1024, height=1024, model_spec=None, **fields):
    ctx = RunContext(deadline=time.monotonic() + 20, api_key=KEY)
    ctx.spec = model_spec or spec(model)
    request = GenerationRequest(prompt="a fox", model=model, width=width, height=height, **fields)
    return get_provider("openrouter").generate(request, ctx)


def test_success_records_reported_cost(owner_api, run_jobs, fake_openrouter):
    result = generate(
        owner_api,
        run_jobs,
        provider="openrouter",
        model=GEMINI,
        prompt="a sunset",
        width=1376,
        height=768,
    )
    assert result["status"] == "succeeded", result["error"]
    sent = fake_openrouter.requests[-1]["json"]
    assert sent["modalities"] == ["image", "text"]
    assert sent["image_config"] == {"aspect_ratio": "16:9"}
    generation = Generation.objects.get(pk=result["id"])
    assert str(generation.cost_usd) == "0.039000" and generation.cost_is_estimate is False
    assert stored_image_count(result["id"]) == 1


def test_gemini_31_takes_the_extended_aspect_ratios(fake_openrouter):
    result = run(width=2048, height=512)
    assert len(result.images) == 1
    assert fake_openrouter.requests[-1]["json"]["image_config"] == {"aspect_ratio": "4:1"}


def test_an_image_only_model_gets_image_modality_and_its_seed(fake_openrouter):
    flux = spec(
        "black-forest-labs/flux.2-pro",
        sizes={"1024x1024": "1:1"},
        fixed_inputs={"modalities": ["image"]},
        seed=True,
    )
    assert run("black-forest-labs/flux.2-pro", model_spec=flux, seed=7).images
    sent = fake_openrouter.requests[-1]["json"]
    assert sent["modalities"] == ["image"] and sent["seed"] == 7


@pytest.mark.parametrize(
    ("reason", "finish", "words"),
    [
        ("IMAGE_SAFETY", None, "blocked by the model's safety filter (IMAGE_SAFETY)"),
        ("IMAGE_PROHIBITED_CONTENT", None, "prohibited content (IMAGE_PROHIBITED_CONTENT)"),
        ("NO_IMAGE", None, "produced no image for this prompt (NO_IMAGE)"),
        ("IMAGE_OTHER", None, "(IMAGE_OTHER)"),
        ("OTHER_THING", "content_filter", "content filter stopped the answer (OTHER_THING)"),
    ],
)
def test_safety_refusals_are_content_policy_in_words(fake_openrouter, reason, finish, words):
    options = {"reason": reason, **({"finish_reason": finish} if finish else {})}
    fake_openrouter.set_scenario("safety_refusal", **options)
    with pytest.raises(ProviderError) as exc:
        run()
    message = str(exc.value)
    assert message.startswith("OpenRouter refused the prompt (content policy): "), message
    assert words in message and "returned no image" not in message


def test_safety_refusal_through_a_generation(owner_api, run_jobs, fake_openrouter):
    fake_openrouter.set_scenario("safety_refusal", reason="IMAGE_PROHIBITED_CONTENT")
    result = generate(
        owner_api,
        run_jobs,
        provider="openrouter",
        model=GEMINI,
        prompt="x",
        width=1024,
        height=1024,
    )
    assert result["status"] == "failed"
    assert result["error"].startswith("OpenRouter refused the prompt (content policy)")


def test_a_model_openrouter_no_longer_serves(fake_openrouter):
    fake_openrouter.remove_listed_model("google/gemini-2.5-flash-image")
    with pytest.raises(ProviderError) as exc:
        run("google/gemini-2.5-flash-image")
    assert str(exc.value) == (
        "OpenRouter no longer offers the model google/gemini-2.5-flash-image; choose another model."
    )


def test_an_aspect_ratio_the_model_does_not_take_is_rejected(fake_openrouter):
    older = spec("google/gemini-2.5-flash-image")  # 4:1 is Gemini 3.1 Flash Image's only
    with pytest.raises(ProviderError, match="rejected the parameters: Invalid aspect_ratio"):
        run("google/gemini-2.5-flash-image", width=2048, height=512, model_spec=older)


@pytest.mark.parametrize(
    ("scenario", "options", "words"),
    [
        ("unauthorized", {}, "OpenRouter rejected the API key: check it in Settings."),
        ("no_credit", {}, "OpenRouter reports no credit left"),
        ("content_policy", {}, "OpenRouter refused the prompt (content policy)"),
        ("validation", {}, "OpenRouter rejected the parameters"),
        ("malformed", {}, "Unexpected response from OpenRouter."),
        ("error_in_200", {}, "OpenRouter is unavailable right now (HTTP 502)"),
        ("no_image", {}, "OpenRouter returned no image"),
    ],
)
def test_failures_are_explained_in_words(
    owner_api, run_jobs, fake_openrouter, scenario, options, words
):
    fake_openrouter.set_scenario(scenario, **options)
    result = generate(
        owner_api,
        run_jobs,
        provider="openrouter",
        model=GEMINI,
        prompt="x",
        width=1024,
        height=1024,
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_openrouter):
    fake_openrouter.set_scenario("rate_limited_once")
    result = generate(
        owner_api,
        run_jobs,
        provider="openrouter",
        model=GEMINI,
        prompt="x",
        width=1024,
        height=1024,
    )
    assert result["status"] == "succeeded", result["error"]


# ----------------------------------------------------------------------------- key checks
def test_key_check(fake_openrouter):
    provider = get_provider("openrouter")
    check = provider.check_key(KEY)
    assert check.status == KeyStatus.VALID and check.ok
    assert check.message == "OpenRouter accepted the key (74.5 USD of its limit left)."
    check = provider.check_key("sk-or-v1-bad")
    assert check.status == KeyStatus.INVALID and not check.ok
    assert "rejected the API key" in check.message


@pytest.mark.parametrize("left", [0, -0.5])
def test_key_check_with_nothing_left_is_no_credit(fake_openrouter, left):
    fake_openrouter.key_info.update(limit_remaining=left)
    check = get_provider("openrouter").check_key(KEY)
    assert check.status == KeyStatus.NO_CREDIT and not check.ok


def test_key_check_without_a_limit(fake_openrouter):
    fake_openrouter.key_info.update(limit=None, limit_remaining=None)
    check = get_provider("openrouter").check_key(KEY)
    assert check.status == KeyStatus.VALID and check.message.endswith("(no limit set).")


# ----------------------------------------------------------------------------- listing
def test_list_models_reads_the_image_listing(fake_openrouter):
    fake_openrouter.add_listed_model(
        image_model(
            "acme/painter-1", "Acme: Painter 1", image_only=True, pricing={"image_output": "0.02"}
        )
    )
    fake_openrouter.set_model_shutdown(GEMINI, "2027-03-01")
    listing = get_provider("openrouter").list_models(KEY, known=[GEMINI])
    assert fake_openrouter.requests[-1]["query"] == {"output_modalities": "image"}
    by_id = {m.id: m for m in listing.models}
    assert set(by_id) == {
        GEMINI,
        "google/gemini-2.5-flash-image",
        "black-forest-labs/flux.2-pro",
        "acme/painter-1",
    }
    assert listing.complete
    painter = by_id["acme/painter-1"]
    assert painter.label == "Acme: Painter 1" and painter.shutdown_date is None
    assert painter.spec["fixed_inputs"] == {"modalities": ["image"]}
    assert painter.spec["sizes"]["1344x768"] == "16:9"
    # image_output prices output image tokens: no per-image price is made of it.
    assert (painter.price_unit, painter.price_usd) == ("", None)
    gemini = by_id[GEMINI]
    assert gemini.shutdown_date == date(2027, 3, 1) and gemini.deprecated
    assert gemini.spec["fixed_inputs"] == {"modalities": ["image", "text"]}
    assert gemini.price_usd is None  # the listing gives no per-image price for it
    assert by_id["black-forest-labs/flux.2-pro"].spec["seed"] is True
    assert by_id["google/gemini-2.5-flash-image"].shutdown_date == date(2026, 10, 2)


def test_list_models_drops_what_the_fake_stops_listing(fake_openrouter):
    fake_openrouter.remove_listed_model("black-forest-labs/flux.2-pro")
    listing = get_provider("openrouter").list_models(KEY, known=[])
    assert "black-forest-labs/flux.2-pro" not in {m.id for m in listing.models}


def test_list_models_fails_in_words(fake_openrouter, settings):
    fake_openrouter.set_scenario("server_error", stage="models")
    with pytest.raises(ProviderError, match="Could not read OpenRouter's model list"):
        get_provider("openrouter").list_models(KEY, known=[])
    settings.OPENROUTER_BASE_URL = "http://127.0.0.1:9/api/v1"
    with pytest.raises(ProviderError, match="Could not reach OpenRouter"):
        get_provider("openrouter").list_models(KEY, known=[])
