"""Replicate predictions through the official SDK against the local fake."""

import threading
import time

import pytest

from generation import runner
from generation.models import Generation, Status
from imagegen.providers.base import KeyStatus
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

FLUX = "black-forest-labs/flux-schnell"


@pytest.fixture(autouse=True)
def inputs_match_the_schema(fake_replicate):
    """Replicate ignores input fields a model does not have, so a misnamed field "works";
    every prediction a test made must use only its model's own fields."""
    yield
    assert fake_replicate.schema_violations() == {}


def test_official_model_queue_flow_with_several_polls(owner_api, run_jobs, fake_replicate):
    fake_replicate.set_scenario("queue_polls", polls=3, images=2)
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model=FLUX,
        prompt="a corgi",
        width=1344,
        height=768,
        num_images=2,
        seed=5,
    )
    assert result["status"] == "succeeded", result["error"]
    assert stored_image_count(result["id"]) == 2
    create = fake_replicate.requests[0]
    assert create["path"] == f"/v1/models/{FLUX}/predictions"
    assert create["json"]["input"] == {
        "prompt": "a corgi",
        "aspect_ratio": "16:9",
        "num_outputs": 2,
        "num_inference_steps": 4,
        "seed": 5,
        "output_format": "webp",
    }
    polls = [r for r in fake_replicate.requests if r["method"] == "GET"]
    assert len(polls) == 3
    generation = Generation.objects.get(pk=result["id"])
    assert str(generation.cost_usd) == "0.006000" and not generation.cost_is_estimate
    assert generation.provider_metadata["polls"] == 3


def test_versioned_model_uses_the_version_and_per_second_cost(owner_api, run_jobs, fake_replicate):
    fake_replicate.set_scenario("success", predict_time=4.0)
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model="stability-ai/sdxl",
        prompt="a castle",
        negative_prompt="blurry",
        width=1024,
        height=768,
        steps=30,
        cfg_scale=7,
    )
    assert result["status"] == "succeeded", result["error"]
    create = fake_replicate.requests[0]
    assert create["path"] == "/v1/predictions"
    assert create["json"]["version"].startswith("39ed52f2")
    assert create["json"]["input"]["negative_prompt"] == "blurry"
    assert create["json"]["input"]["guidance_scale"] == 7
    assert str(Generation.objects.get(pk=result["id"]).cost_usd) == "0.003900"


def test_single_url_output(owner_api, run_jobs, fake_replicate):
    result = generate(
        owner_api,
        run_jobs,
        provider="replicate",
        model="black-forest-labs/flux-1.1-pro",
        prompt="x",
        width=1024,
        height=1024,
    )
    assert result["status"] == "succeeded", result["error"]
    assert stored_image_count(result["id"]) == 1


def test_size_outside_the_aspect_ratios_is_400(owner_api, fake_replicate):
    response = owner_api.post(
        "/api/generate",
        {"prompt": "x", "provider": "replicate", "model": FLUX, "width": 1000, "height": 1000},
        format="json",
    )
    assert response.status_code == 400 and "1344x768" in response.json()["width"][0]


@pytest.mark.parametrize(
    ("scenario", "options", "words"),
    [
        ("unauthorized", {}, "Replicate rejected the API key: check it in Settings."),
        ("no_credit", {}, "Replicate reports no credit left"),
        ("content_policy", {}, "Replicate refused the prompt (content policy): NSFW"),
        (
            "model_failed",
            {"error": "CUDA out of memory"},
            "Replicate could not generate the image: CUDA out of memory",
        ),
        ("validation", {}, "Replicate rejected the parameters"),
        ("malformed", {}, "Unexpected response from Replicate."),
    ],
)
def test_failures_are_explained_in_words(
    owner_api, run_jobs, fake_replicate, scenario, options, words
):
    fake_replicate.set_scenario(scenario, **options)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(words), result["error"]
    assert stored_image_count(result["id"]) == 0


def test_rate_limited_once_then_success(owner_api, run_jobs, fake_replicate):
    fake_replicate.set_scenario("rate_limited_once")
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "succeeded", result["error"]


def test_rate_limited_forever(owner_api, run_jobs, fake_replicate, settings):
    settings.GENERATION_TIMEOUT = 3
    fake_replicate.set_scenario("rate_limited", retry_after=1)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["error"].startswith("Rate limited by Replicate after")


def test_a_create_answered_5xx_is_not_sent_again(owner_api, run_jobs, fake_replicate):
    fake_replicate.set_scenario("server_error", status=503)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["error"] == (
        "Replicate is unavailable right now (HTTP 503); the request was not sent again, as it "
        "may have started anyway. Check the provider's dashboard before trying again."
    )
    assert [r["method"] for r in fake_replicate.requests] == ["POST"]


def test_timeout_while_polling_cancels_remotely(owner_api, run_jobs, fake_replicate, settings):
    settings.GENERATION_TIMEOUT = 1
    fake_replicate.set_scenario("queue_polls", polls=100000)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed" and result["error"] == "Timed out after 1 s."
    assert len(fake_replicate.cancels) == 1


@pytest.mark.django_db(transaction=True)
def test_cancel_while_running_reaches_replicate(owner, owner_api, fake_replicate):
    from tests.generation.helpers import make_generation

    fake_replicate.set_scenario("queue_polls", polls=100000)
    generation = make_generation(
        owner, provider="replicate", model=FLUX, width=1024, height=1024, steps=4, cfg_scale=None
    )
    thread = threading.Thread(target=runner.execute, args=(generation.pk,))
    thread.start()
    deadline = time.monotonic() + 10
    while not fake_replicate.predictions and time.monotonic() < deadline:
        time.sleep(0.05)
    assert owner_api.post(f"/api/generation/cancel/{generation.pk}").status_code == 200
    thread.join(timeout=10)
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert [c["id"] for c in fake_replicate.cancels] == list(fake_replicate.predictions)


@pytest.mark.parametrize(
    ("key", "scenario", "status", "words"),
    [
        (
            "r8_test_good",
            "success",
            KeyStatus.VALID,
            "Replicate accepted the key (account fake-user).",
        ),
        ("r8_wrong", "success", KeyStatus.INVALID, "Replicate rejected the API key."),
        ("r8_test_good", "no_credit", KeyStatus.NO_CREDIT, "Replicate reports no credit left"),
        ("r8_test_good", "forbidden", KeyStatus.UNVERIFIED, "Replicate refused the key check"),
        ("r8_test_good", "server_error", KeyStatus.UNVERIFIED, "Replicate answered HTTP 500"),
    ],
)
def test_key_check_says_what_it_knows(fake_replicate, key, scenario, status, words):
    from imagegen.providers import get_provider

    fake_replicate.set_scenario(scenario, stage="account")
    check = get_provider("replicate").check_key(key)
    assert check.status == status and check.message.startswith(words), check
    assert key not in check.message
