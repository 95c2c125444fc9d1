"""OpenAI images through the official SDK against the local fake."""

import pytest

from generation.models import Generation
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db


def test_gpt_image_success_with_several_images_records_token_cost(owner_api, run_jobs, fake_openai):
    result = generate(
        owner_api,
        run_jobs,
        provider="openai",
        model="gpt-image-1",
        prompt="a red fox",
        width=1024,
        height=1024,
        num_images=2,
        params={"quality": "low"},
    )
    assert result["status"] == "succeeded", result["error"]
    assert len(result["images"]) == 2 and stored_image_count(result["id"]) == 2
    sent = fake_openai.requests[-1]
    assert sent["path"] == "/v1/images/generations"
    assert sent["json"] == {
        "model": "gpt-image-1",
        "prompt": "a red fox",
        "n": 2,
        "size": "1024x1024",
        "quality": "low",
    }
    assert sent["headers"]["authorization"] == "Bearer sk-test-good"
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_is_estimate is False and generation.cost_usd > 0
    assert generation.provider_request_id and generation.key_source == "environment"
    assert result["seed"] is None and result["steps"] is None  # the model takes neither


def test_dalle3_records_revised_prompt_and_table_price(owner_api, run_jobs, fake_openai):
    result = generate(
        owner_api,
        run_jobs,
        provider="openai",
        model="dall-e-3",
        prompt="a lighthouse",
        width=1792,
        height=1024,
        params={"quality": "hd", "style": "natural"},
    )
    assert result["status"] == "succeeded", result["error"]
    generation = Generation.objects.get(pk=result["id"])
    assert generation.provider_metadata["revised_prompts"]
    assert str(generation.cost_usd) == "0.120000"
    assert fake_openai.requests[-1]["json"]["response_format"] == "b64_json"


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"model": "dall-e-3", "width": 512, "height": 512}, "width", "1792x1024"),
        ({"model": "dall-e-3", "num_images": 2}, "num_images", "1 to 1"),
        ({"model": "gpt-image-1", "params": {"quality": "ultra"}}, "params", "low, medium"),
        ({"model": "gpt-image-1", "params": {"style": "vivid"}}, "params", "does not take"),
        ({"model": "gpt-image-1", "steps": 30}, "steps", "does not take"),
        ({"model": "gpt-image-1", "seed": 4}, "seed", "does not take a seed"),
        ({"model": "dall-e-2", "negative_prompt": "blur"}, "negative_prompt", "does not take"),
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
        ("content_policy", "OpenAI refused the prompt (content policy): Your request was"),
        ("validation", "OpenAI rejected the parameters: Invalid value for 'size'"),
        ("malformed", "Unexpected response from OpenAI."),
    ],
)
def test_failures_are_explained_in_words(owner_api, run_jobs, fake_openai, scenario, words):
    fake_openai.set_scenario(scenario)
    result = generate(
        owner_api, run_jobs, provider="openai", model="dall-e-2", prompt="x", width=256, height=256
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]
    assert "sk-test-good" not in result["error"] and "Traceback" not in result["error"]
    assert stored_image_count(result["id"]) == 0


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_openai):
    fake_openai.set_scenario("rate_limited_once")
    result = generate(
        owner_api, run_jobs, provider="openai", model="dall-e-2", prompt="x", width=256, height=256
    )
    assert result["status"] == "succeeded", result["error"]
    assert len(fake_openai.requests) == 2


def test_rate_limited_forever_gives_up_within_the_deadline(
    owner_api, run_jobs, fake_openai, settings
):
    settings.GENERATION_TIMEOUT = 4
    fake_openai.set_scenario("rate_limited", retry_after=1)
    result = generate(
        owner_api, run_jobs, provider="openai", model="dall-e-2", prompt="x", width=256, height=256
    )
    assert result["status"] == "failed"
    assert result["error"].startswith("Rate limited by OpenAI after")
    assert 2 <= len(fake_openai.requests) <= 4


def test_server_error_is_retried_then_reported(owner_api, run_jobs, fake_openai, settings):
    settings.GENERATION_TIMEOUT = 3
    fake_openai.set_scenario("server_error", status=503)
    result = generate(
        owner_api, run_jobs, provider="openai", model="dall-e-2", prompt="x", width=256, height=256
    )
    assert result["status"] == "failed"
    assert result["error"] == "OpenAI is unavailable right now (HTTP 503); try again later."
    assert len(fake_openai.requests) >= 2


def test_timeout(owner_api, run_jobs, fake_openai, settings):
    settings.GENERATION_TIMEOUT = 1
    fake_openai.set_scenario("slow", seconds=5)
    result = generate(
        owner_api, run_jobs, provider="openai", model="dall-e-2", prompt="x", width=256, height=256
    )
    assert result["status"] == "failed" and result["error"] == "Timed out after 1 s."


def test_key_check(fake_openai):
    from imagegen.providers import get_provider

    assert get_provider("openai").check_key("sk-test-good") == (True, "OpenAI accepted the key.")
    assert get_provider("openai").check_key("sk-bad")[0] is False
