"""fal.ai queue API over httpx against the local fake."""

import pytest

from generation.models import Generation
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

DEV = "fal-ai/flux/dev"


def test_queue_flow_with_several_polls_and_preset_size(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("queue_polls", polls=3, images=2, seed=777)
    result = generate(
        owner_api,
        run_jobs,
        provider="fal",
        model=DEV,
        prompt="a fox",
        width=1024,
        height=768,
        num_images=2,
        steps=20,
        cfg_scale=4,
    )
    assert result["status"] == "succeeded", result["error"]
    assert stored_image_count(result["id"]) == 2
    submit = fake_fal.requests[0]
    assert submit["path"] == "/fal-ai/flux/dev"
    assert submit["headers"]["authorization"] == "Key fal-key-id:fal-key-secret"
    assert submit["json"]["image_size"] == "landscape_4_3"
    assert submit["json"]["guidance_scale"] == 4 and submit["json"]["num_inference_steps"] == 20
    statuses = [r for r in fake_fal.requests if r["path"].endswith("/status")]
    assert len(statuses) == 3 and statuses[0]["path"].startswith("/fal-ai/flux/requests/")
    generation = Generation.objects.get(pk=result["id"])
    assert generation.seed == generation.provider_metadata["seed"]  # what fal reports it used
    assert str(generation.cost_usd) == "0.050000" and not generation.cost_is_estimate


def test_custom_size_is_sent_as_width_and_height(owner_api, run_jobs, fake_fal):
    result = generate(
        owner_api,
        run_jobs,
        provider="fal",
        model="fal-ai/fast-sdxl",
        prompt="x",
        width=640,
        height=480,
        negative_prompt="blur",
    )
    assert result["status"] == "succeeded", result["error"]
    sent = fake_fal.requests[0]["json"]
    assert sent["image_size"] == {"width": 640, "height": 480}
    assert sent["negative_prompt"] == "blur"


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("unauthorized", "fal.ai rejected the API key: check it in Settings."),
        ("no_credit", "fal.ai reports no credit left"),
        ("content_policy", "fal.ai refused the prompt (content policy)"),
        ("validation", "fal.ai rejected the parameters: num_images"),
        ("malformed", "Unexpected response from fal.ai."),
    ],
)
def test_failures_are_explained_in_words(owner_api, run_jobs, fake_fal, scenario, words):
    fake_fal.set_scenario(scenario)
    result = generate(
        owner_api, run_jobs, provider="fal", model=DEV, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]
    assert stored_image_count(result["id"]) == 0


def test_model_failure_is_retried_then_reported(owner_api, run_jobs, fake_fal, settings):
    settings.GENERATION_TIMEOUT = 3
    fake_fal.set_scenario("model_failed")
    result = generate(
        owner_api, run_jobs, provider="fal", model=DEV, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert "fal.ai is unavailable right now (HTTP 500)" in result["error"]


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("rate_limited_once")
    result = generate(
        owner_api, run_jobs, provider="fal", model=DEV, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "succeeded", result["error"]


def test_timeout_cancels_the_queued_request(owner_api, run_jobs, fake_fal, settings):
    settings.GENERATION_TIMEOUT = 1
    fake_fal.set_scenario("queue_polls", polls=100000)
    result = generate(
        owner_api, run_jobs, provider="fal", model=DEV, prompt="x", width=1024, height=1024
    )
    assert result["error"] == "Timed out after 1 s."
    assert len(fake_fal.cancels) == 1


def test_key_check(fake_fal):
    from imagegen.providers import get_provider

    assert get_provider("fal").check_key("fal-key-id:fal-key-secret")[0] is True
    assert get_provider("fal").check_key("nope:nope") == (False, "fal.ai rejected the API key.")
