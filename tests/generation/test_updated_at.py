"""Every state change of a generation moves ``updated_at`` (what the live-update watcher reads);
a heartbeat does not."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import recovery, runner, services
from generation.models import Generation, Status
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(hours=1)


def aged(generation, **fields) -> Generation:
    """The row as it was an hour ago: any write that moves updated_at is now visible."""
    past = timezone.now() - LONG_AGO
    Generation.objects.filter(pk=generation.pk).update(updated_at=past, **fields)
    generation.refresh_from_db()
    return generation


def moved(generation, since) -> bool:
    return Generation.objects.get(pk=generation.pk).updated_at >= since


def test_creation_sets_it(owner):
    before = timezone.now()
    assert make_generation(owner).updated_at >= before


def test_the_claim_moves_it(owner):
    generation = aged(make_generation(owner))
    before = timezone.now()
    claimed = runner.claim(generation.pk)
    assert claimed.status == Status.RUNNING and claimed.updated_at >= before


@pytest.mark.parametrize(
    "finish",
    [
        lambda g: g.mark_succeeded(),
        lambda g: g.mark_failed("broken"),
        lambda g: g.mark_canceled(),
    ],
    ids=["succeeded", "failed", "canceled"],
)
def test_each_finish_moves_it(owner, finish):
    generation = make_generation(owner)
    generation = aged(runner.claim(generation.pk))
    before = timezone.now()
    assert finish(generation)
    assert moved(generation, before)
    assert generation.updated_at >= before  # the instance follows the row


def test_a_cancel_request_on_a_running_generation_moves_it(owner):
    generation = aged(runner.claim(make_generation(owner).pk))
    before = timezone.now()
    services.cancel_generation(generation)
    row = Generation.objects.get(pk=generation.pk)
    assert row.status == Status.RUNNING and row.cancel_requested
    assert row.updated_at >= before


def test_canceling_a_queued_generation_moves_it(owner):
    generation = aged(make_generation(owner))
    before = timezone.now()
    services.cancel_generation(generation)
    assert moved(generation, before)


def test_the_recovery_requeue_moves_it(owner, settings, monkeypatch):
    monkeypatch.setattr(recovery, "dispatch_next_for_user", lambda owner_id: None)
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    generation = make_generation(owner)
    generation = aged(generation, status=Status.RUNNING, attempts=1, heartbeat_at=old)
    before = timezone.now()
    assert recovery.recover_stale_generations()["requeued"] == 1
    row = Generation.objects.get(pk=generation.pk)
    assert row.status == Status.QUEUED and row.updated_at >= before


def test_the_recovery_failure_moves_it(owner, settings):
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    generation = make_generation(owner)
    generation = aged(generation, status=Status.RUNNING, attempts=99, heartbeat_at=old)
    before = timezone.now()
    assert recovery.recover_stale_generations()["failed"] == 1
    assert moved(generation, before)


def test_a_retry_is_a_new_generation_with_its_own(owner, django_capture_on_commit_callbacks):
    original = aged(make_generation(owner), status=Status.FAILED)
    before = timezone.now()
    retried = services.retry_generation(original)
    assert retried.pk != original.pk and retried.updated_at >= before


def test_a_heartbeat_does_not_move_it(owner):
    generation = aged(runner.claim(make_generation(owner).pk))
    runner._heartbeat(generation)
    assert Generation.objects.get(pk=generation.pk).updated_at < timezone.now() - LONG_AGO / 2
