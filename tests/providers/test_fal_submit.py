"""fal's submit POST is retried only where fal_client retries it (429-like codes and ingress
errors); a timeout or a 5xx after the request went out may already be a billed job, so it
is never sent again. The status and result GETs are still retried."""

import pytest

from imagegen.providers import fal
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db


def run(owner_api, run_jobs):
    return generate(
        owner_api,
        run_jobs,
        provider="fal",
        model="fal-ai/flux/dev",
        prompt="a fox",
        width=1024,
        height=1024,
    )


def submits(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


@pytest.mark.parametrize("status", [500, 503])
def test_a_5xx_from_fal_on_submit_is_not_sent_again(
    owner_api, run_jobs, fake_fal, settings, status
):
    settings.GENERATION_TIMEOUT = 10
    fake_fal.set_scenario("server_error", status=status)
    result = run(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"] == (
        f"fal.ai is unavailable right now (HTTP {status}); the request was not sent again, "
        "try again later."
    )
    assert len(submits(fake_fal)) == 1


def test_a_gateway_timeout_on_submit_is_unconfirmed(owner_api, run_jobs, fake_fal, settings):
    settings.GENERATION_TIMEOUT = 10
    fake_fal.set_scenario("server_error", status=504)
    result = run(owner_api, run_jobs)
    assert result["error"].startswith("fal.ai did not confirm the request (HTTP 504)")
    assert len(submits(fake_fal)) == 1


def test_a_submit_that_times_out_after_queueing_is_not_sent_again(
    owner_api, run_jobs, fake_fal, settings, monkeypatch
):
    settings.GENERATION_TIMEOUT = 20
    monkeypatch.setattr(fal, "SUBMIT_TIMEOUT", 0.5)
    fake_fal.set_scenario("submit_timeout", seconds=3)
    result = run(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"].startswith(
        "fal.ai did not confirm the request (no answer in time); it may still run and be billed"
    ), result["error"]
    assert len(submits(fake_fal)) == 1
    assert len(fake_fal.jobs) == 1  # the one job fal queued; no second one
    assert stored_image_count(result["id"]) == 0


@pytest.mark.parametrize("status", [502, 503, 504])
def test_an_ingress_error_is_retried_as_fal_client_does(
    owner_api, run_jobs, fake_fal, settings, status
):
    settings.GENERATION_TIMEOUT = 10
    fake_fal.set_scenario("ingress_error", status=status, times=1)
    result = run(owner_api, run_jobs)
    assert result["status"] == "succeeded", result["error"]
    assert len(submits(fake_fal)) == 2 and len(fake_fal.jobs) == 1


def test_status_gets_are_still_retried(owner_api, run_jobs, fake_fal, settings):
    settings.GENERATION_TIMEOUT = 3
    fake_fal.set_scenario("server_error", status=503, stage="status")
    result = run(owner_api, run_jobs)
    assert result["error"] == "fal.ai is unavailable right now (HTTP 503); try again later."
    assert len([r for r in fake_fal.requests if r["path"].endswith("/status")]) > 1
    assert len(submits(fake_fal)) == 1
