"""Cancel, timeout, recovery of dead workers, concurrency caps and duplicate deliveries."""

import threading
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.models import Image
from generation import runner
from generation.models import Generation, Status
from generation.recovery import recover_after_shutdown, recover_stale_generations
from tests.generation.helpers import make_generation


def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db
def test_cancel_queued_is_immediate_and_cancel_again_is_409(owner, owner_api):
    generation = make_generation(owner)
    response = owner_api.post(f"/api/generation/cancel/{generation.pk}")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    again = owner_api.post(f"/api/generation/cancel/{generation.pk}")
    assert again.status_code == 409
    assert "already finished" in again.json()["detail"]
    runner.execute(generation.pk)  # a late job delivery does nothing
    assert Generation.objects.get(pk=generation.pk).status == Status.CANCELED


@pytest.mark.django_db
def test_cancel_succeeded_is_409(owner, owner_api):
    generation = make_generation(owner)
    runner.execute(generation.pk)
    assert owner_api.post(f"/api/generation/cancel/{generation.pk}").status_code == 409


@pytest.mark.django_db(transaction=True)
def test_cancel_running_stops_the_wait_and_keeps_no_images(owner, owner_api, settings):
    settings.OFFLINE_PROVIDER_DELAY_MS = 20_000
    generation = make_generation(owner)
    thread = threading.Thread(target=runner.execute, args=(generation.pk,))
    started = time.monotonic()
    thread.start()
    assert wait_for(lambda: Generation.objects.get(pk=generation.pk).status == Status.RUNNING)

    response = owner_api.post(f"/api/generation/cancel/{generation.pk}")
    assert response.status_code == 200 and response.json()["cancel_requested"] is True
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert time.monotonic() - started < 8  # not the 20 s the provider would have taken
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED and generation.finished_at
    assert not Image.objects.filter(generation=generation).exists()


@pytest.mark.django_db
def test_timeout_fails_with_reason(owner, settings):
    settings.GENERATION_TIMEOUT = 1
    settings.OFFLINE_PROVIDER_DELAY_MS = 10_000
    generation = make_generation(owner)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.error == "Timed out after 1 s."
    assert not Image.objects.exists()


@pytest.mark.django_db
def test_uncooperative_provider_is_abandoned_at_the_deadline(owner, settings, scripted):
    settings.GENERATION_TIMEOUT = 1
    scripted.hang_seconds = 4
    generation = make_generation(owner, provider="scripted", model="scripted-1")
    started = time.monotonic()
    runner.execute(generation.pk)
    assert time.monotonic() - started < 3.5
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and "Timed out" in generation.error
    assert scripted.canceled  # asked the provider to stop remote work


@pytest.mark.django_db
def test_dead_worker_generation_is_requeued_once_then_succeeds(owner, settings):
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    generation = make_generation(
        owner, status=Status.RUNNING, attempts=1, started_at=old, heartbeat_at=old
    )
    counts = recover_stale_generations()
    assert counts["requeued"] == 1
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED and generation.attempts == 2
    assert Image.objects.filter(generation=generation).count() == 1


@pytest.mark.django_db
def test_dead_worker_generation_already_retried_fails_with_reason(owner, settings):
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    generation = make_generation(
        owner, status=Status.RUNNING, attempts=2, started_at=old, heartbeat_at=old
    )
    assert recover_stale_generations()["failed"] == 1
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert "worker running this generation stopped" in generation.error


@pytest.mark.django_db
def test_live_generation_is_left_alone_by_recovery(owner):
    generation = make_generation(
        owner,
        status=Status.RUNNING,
        attempts=1,
        started_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    assert recover_stale_generations() == {"requeued": 0, "failed": 0, "canceled": 0}
    assert Generation.objects.get(pk=generation.pk).status == Status.RUNNING


@pytest.mark.django_db
def test_after_shutdown_even_a_live_generation_is_recovered(owner, settings):
    """desktop.py, once its only worker has exited: a heartbeat a second old is no sign of
    life any more. Re-queued once (and here run at once), or failed when already retried."""
    now = timezone.now()
    fresh = make_generation(
        owner, status=Status.RUNNING, attempts=1, started_at=now, heartbeat_at=now
    )
    retried = make_generation(
        owner, status=Status.RUNNING, attempts=2, started_at=now, heartbeat_at=now
    )
    assert recover_after_shutdown() == {"requeued": 1, "failed": 1, "canceled": 0}
    assert Generation.objects.get(pk=fresh.pk).status == Status.SUCCEEDED
    assert Generation.objects.get(pk=retried.pk).status == Status.FAILED
    assert recover_after_shutdown() == {"requeued": 0, "failed": 0, "canceled": 0}


@pytest.mark.django_db
def test_stale_cancel_requested_generation_ends_canceled(owner, settings):
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    generation = make_generation(
        owner, status=Status.RUNNING, attempts=1, heartbeat_at=old, cancel_requested=True
    )
    assert recover_stale_generations()["canceled"] == 1
    assert Generation.objects.get(pk=generation.pk).status == Status.CANCELED


@pytest.mark.django_db
def test_duplicate_delivery_runs_once(owner):
    generation = make_generation(owner)
    runner.execute(generation.pk)
    runner.execute(generation.pk)
    assert Image.objects.filter(generation=generation).count() == 1
    assert Generation.objects.get(pk=generation.pk).attempts == 1


@pytest.mark.django_db
def test_missing_generation_is_ignored(db):
    runner.execute(987654)  # logged, no exception


@pytest.mark.django_db
def test_per_user_cap_defers_and_next_starts_when_one_finishes(owner, member, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    busy = make_generation(owner, status=Status.RUNNING, attempts=1, heartbeat_at=timezone.now())
    waiting = make_generation(owner)
    assert runner.claim(waiting.pk) is None  # owner is at the cap: stays queued
    assert Generation.objects.get(pk=waiting.pk).status == Status.QUEUED

    other = make_generation(member)  # another user is not held up
    assert runner.claim(other.pk) is not None

    Generation.objects.filter(pk=busy.pk).update(status=Status.SUCCEEDED)
    runner.dispatch_next_for_user(owner.pk)  # what a finishing run does
    assert Generation.objects.get(pk=waiting.pk).status == Status.SUCCEEDED


@pytest.mark.django_db
def test_every_final_state_reaches_the_dashboard_rollup(owner, settings):
    from generation.usage.models import RolledUpGeneration

    succeeded = make_generation(owner)
    runner.execute(succeeded.pk)
    canceled = make_generation(owner)
    from generation.services import cancel_generation

    cancel_generation(canceled)
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 60)
    dead = make_generation(owner, status=Status.RUNNING, attempts=2, heartbeat_at=old)
    recover_stale_generations()
    counted = set(RolledUpGeneration.objects.values_list("generation_id", flat=True))
    assert counted == {succeeded.pk, canceled.pk, dead.pk}


@pytest.mark.django_db
def test_cancel_landing_after_the_provider_returned_keeps_no_images_or_files(
    owner, settings, monkeypatch
):
    """The runner reads cancel/ownership once when the provider returns; a cancel that lands
    later (here: while the image is validated) is caught by the conditional success update,
    and the files already written are removed."""
    from django.core.files.storage import default_storage

    from imagegen.core.imaging import validate_image

    generation = make_generation(owner)
    stored = []

    def validate_then_cancel(data):
        Generation.objects.filter(pk=generation.pk).update(cancel_requested=True)
        return validate_image(data)

    real_store = runner.store_image_files

    def store(image):
        files = real_store(image)
        stored.append(files)
        return files

    monkeypatch.setattr(runner, "validate_image", validate_then_cancel)
    monkeypatch.setattr(runner, "store_image_files", store)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.CANCELED
    assert not Image.objects.filter(generation=generation).exists()
    assert stored and stored[0].created
    assert not any(default_storage.exists(name) for name in stored[0].created)


@pytest.mark.django_db
def test_run_handed_elsewhere_after_the_provider_returned_is_discarded(owner, monkeypatch):
    """Same for the recovery sweep re-queueing the run (attempts moved on) meanwhile."""
    from imagegen.core.imaging import validate_image

    generation = make_generation(owner)

    requeued = []

    def validate_then_requeue(data):
        if not requeued:  # only the first run; the re-delivered job then runs normally
            requeued.append(True)
            Generation.objects.filter(pk=generation.pk).update(status=Status.QUEUED)
        return validate_image(data)

    monkeypatch.setattr(runner, "validate_image", validate_then_requeue)
    runner.execute(generation.pk)
    runner.execute(generation.pk)  # the re-queued job (a no-op if sync mode already ran it)
    generation.refresh_from_db()
    assert requeued
    assert generation.status == Status.SUCCEEDED and generation.attempts == 2
    assert Image.objects.filter(generation=generation).count() == 1  # only the second run's
