"""fal.ai queue API over httpx against the local fake.

Every successful generation also checks that what was sent uses only fields of the
endpoint's published input schema: fal ignores unknown fields (pydantic ``extra="ignore"``),
so a misnamed field would otherwise pass silently."""

import pytest

from gallery.models import Image
from generation.models import Generation
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

DEV = "fal-ai/flux/dev"


def assert_sent_fields_are_in_the_schema(fake):
    submits = [r for r in fake.requests if r["method"] == "POST"]
    assert submits
    for submit in submits:
        endpoint = submit["path"].lstrip("/")
        allowed = set(fake.input_schema(endpoint)["properties"])
        assert set(submit["json"]) <= allowed, set(submit["json"]) - allowed
    assert fake.ignored_fields == []


def run(owner_api, run_jobs, model=DEV, side=1024, **extra):
    body = {"provider": "fal", "model": model, "prompt": "a fox", "width": side, "height": side}
    return generate(owner_api, run_jobs, **{**body, **extra})


def test_queue_flow_with_several_polls_and_preset_size(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("queue_polls", polls=3, images=2)
    result = run(
        owner_api, run_jobs, width=1024, height=768, num_images=2, steps=20, cfg_scale=4, seed=777
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
    assert generation.seed == generation.provider_metadata["seed"] == 777
    assert str(generation.cost_usd) == "0.050000" and not generation.cost_is_estimate
    assert_sent_fields_are_in_the_schema(fake_fal)


@pytest.mark.parametrize("model", ["fal-ai/flux/schnell", DEV, "fal-ai/flux-pro/v1.1"])
def test_every_catalog_model_sends_only_its_schema_fields(owner_api, run_jobs, fake_fal, model):
    result = run(owner_api, run_jobs, model=model, num_images=2)
    assert result["status"] == "succeeded", result["error"]
    assert_sent_fields_are_in_the_schema(fake_fal)


def test_custom_size_is_sent_as_width_and_height(owner_api, run_jobs, fake_fal):
    result = run(
        owner_api,
        run_jobs,
        model="fal-ai/fast-sdxl",
        width=640,
        height=480,
        negative_prompt="blur",
    )
    assert result["status"] == "succeeded", result["error"]
    sent = fake_fal.requests[0]["json"]
    assert sent["image_size"] == {"width": 640, "height": 480}
    assert sent["negative_prompt"] == "blur"
    assert_sent_fields_are_in_the_schema(fake_fal)


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
    result = run(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]
    assert stored_image_count(result["id"]) == 0


def test_completed_with_an_error_is_reported_at_once_with_fal_reason(
    owner_api, run_jobs, fake_fal, settings
):
    settings.GENERATION_TIMEOUT = 30
    fake_fal.set_scenario("model_failed", error="Unexpected error in model: CUDA out of memory")
    result = run(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"] == (
        "fal.ai could not generate the image: Unexpected error in model: CUDA out of memory"
    )
    results = [r for r in fake_fal.requests if r["method"] == "GET" and "/status" not in r["path"]]
    assert len(results) == 1  # read once, not retried until the deadline


def test_completed_with_a_policy_error_is_content_policy(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario(
        "model_failed", error="NSFW content detected", error_type=("content_policy_violation")
    )
    result = run(owner_api, run_jobs)
    assert result["error"] == ("fal.ai refused the prompt (content policy): NSFW content detected")


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("rate_limited_once")
    result = run(owner_api, run_jobs)
    assert result["status"] == "succeeded", result["error"]


def test_timeout_cancels_the_queued_request(owner_api, run_jobs, fake_fal, settings):
    settings.GENERATION_TIMEOUT = 1
    fake_fal.set_scenario("queue_polls", polls=100000)
    result = run(owner_api, run_jobs)
    assert result["error"] == "Timed out after 1 s."
    assert len(fake_fal.cancels) == 1


# ------------------------------------------------------------------ seeds (#11)
def test_a_batch_has_only_the_batch_seed(owner_api, run_jobs, fake_fal):
    result = run(owner_api, run_jobs, num_images=3, seed=777)
    assert result["status"] == "succeeded", result["error"]
    assert Generation.objects.get(pk=result["id"]).seed == 777
    seeds = list(Image.objects.filter(generation_id=result["id"]).values_list("seed", flat=True))
    assert seeds == [None, None, None]  # fal returns one seed; 778, 779 would be invented


def test_a_single_image_keeps_the_seed(owner_api, run_jobs, fake_fal):
    result = run(owner_api, run_jobs, seed=777)
    assert list(
        Image.objects.filter(generation_id=result["id"]).values_list("seed", flat=True)
    ) == [777]
