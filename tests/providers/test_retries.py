"""Every provider retries 429 and 5xx within the deadline, then fails in words."""

import pytest

from tests.providers.helpers import generate

pytestmark = pytest.mark.django_db

CASES = [
    ("openai", "fake_openai", "gpt-image-2", 1024, "OpenAI"),
    ("replicate", "fake_replicate", "black-forest-labs/flux-schnell", 1024, "Replicate"),
    ("fal", "fake_fal", "fal-ai/flux/schnell", 1024, "fal.ai"),
    ("openrouter", "fake_openrouter", "google/gemini-3.1-flash-image", 1024, "OpenRouter"),
]


@pytest.mark.parametrize(("provider", "fake", "model", "side", "label"), CASES)
def test_rate_limited_forever(
    request, owner_api, run_jobs, settings, provider, fake, model, side, label
):
    settings.GENERATION_TIMEOUT = 3
    request.getfixturevalue(fake).set_scenario("rate_limited", retry_after=1)
    result = generate(
        owner_api, run_jobs, provider=provider, model=model, prompt="x", width=side, height=side
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(f"Rate limited by {label} after"), result["error"]


@pytest.mark.parametrize(("provider", "fake", "model", "side", "label"), CASES)
def test_outage(request, owner_api, run_jobs, settings, provider, fake, model, side, label):
    settings.GENERATION_TIMEOUT = 3
    server = request.getfixturevalue(fake)
    server.set_scenario("server_error", status=503)
    result = generate(
        owner_api, run_jobs, provider=provider, model=model, prompt="x", width=side, height=side
    )
    assert result["status"] == "failed"
    assert result["error"].startswith(f"{label} is unavailable right now (HTTP 503)")
    if provider in ("replicate", "fal"):
        # A create/submit that answered 5xx may still have made a (billed) job: the official
        # clients send it once, and so do we, saying so.
        posts = [r for r in server.requests if r["method"] == "POST"]
        assert len(posts) == 1, posts
        assert "was not sent again" in result["error"]


@pytest.mark.parametrize(("provider", "fake", "model", "side", "label"), CASES)
def test_provider_too_slow_times_out(
    request, owner_api, run_jobs, settings, provider, fake, model, side, label
):
    settings.GENERATION_TIMEOUT = 1
    request.getfixturevalue(fake).set_scenario("slow", seconds=4)
    result = generate(
        owner_api, run_jobs, provider=provider, model=model, prompt="x", width=side, height=side
    )
    assert result["status"] == "failed" and result["error"] == "Timed out after 1 s."
