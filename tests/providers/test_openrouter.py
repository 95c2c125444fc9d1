"""OpenRouter image generation (chat completions with image modality) via the openai SDK."""

import pytest

from generation.models import Generation
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

GEMINI = "google/gemini-2.5-flash-image"


def test_success_records_reported_cost(owner_api, run_jobs, fake_openrouter):
    result = generate(
        owner_api,
        run_jobs,
        provider="openrouter",
        model=GEMINI,
        prompt="a sunset",
        width=1344,
        height=768,
    )
    assert result["status"] == "succeeded", result["error"]
    sent = fake_openrouter.requests[-1]["json"]
    assert sent["modalities"] == ["image", "text"]
    assert sent["image_config"] == {"aspect_ratio": "16:9"}
    generation = Generation.objects.get(pk=result["id"])
    assert str(generation.cost_usd) == "0.039000" and generation.cost_is_estimate is False
    assert stored_image_count(result["id"]) == 1


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


def test_key_check(fake_openrouter):
    from imagegen.providers import get_provider

    ok, message = get_provider("openrouter").check_key("sk-or-v1-test-good")
    assert ok and message.startswith("OpenRouter accepted the key")
    assert get_provider("openrouter").check_key("sk-or-v1-bad")[0] is False
