"""Where a generation stands (generation.progress) and the API fields that show it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Status
from generation.progress import ordinal, progress_for
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db


def finished_runs(owner, seconds, model="offline-shapes"):
    now = timezone.now()
    for s in seconds:
        make_generation(
            owner,
            model=model,
            status=Status.SUCCEEDED,
            started_at=now - timedelta(seconds=s),
            finished_at=now,
        )


def test_ordinals():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th",
    ]  # fmt: skip


def test_queued_behind_the_users_cap_says_why(owner, settings):
    settings.GENERATION_MAX_CONCURRENT = 3
    for _ in range(3):
        make_generation(owner, status=Status.RUNNING, started_at=timezone.now())
    first = make_generation(owner)
    second = make_generation(owner)
    progress = progress_for([first, second])
    assert progress[first.pk].queue_position == 1
    assert progress[first.pk].waiting_reason == "waiting: 3 of 3 of your generations running"
    assert progress[second.pk].queue_position == 2
    assert progress[second.pk].waiting_reason == (
        "waiting: 3 of 3 of your generations running; 2nd in your queue"
    )


def test_queued_with_room_waits_for_a_worker_or_its_turn(owner, settings):
    settings.GENERATION_MAX_CONCURRENT = 2
    make_generation(owner, status=Status.RUNNING, started_at=timezone.now())
    first, second = make_generation(owner), make_generation(owner)
    progress = progress_for([first, second])
    assert progress[first.pk].waiting_reason == "queued: waiting for a free worker"
    assert progress[second.pk].waiting_reason == "queued: 2nd in your queue"


def test_other_users_generations_do_not_count(owner, outsider, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    make_generation(outsider, status=Status.RUNNING, started_at=timezone.now())
    make_generation(outsider)
    mine = make_generation(owner)
    progress = progress_for([mine])[mine.pk]
    assert progress.queue_position == 1
    assert progress.waiting_reason == "queued: waiting for a free worker"


def test_eta_from_the_models_median_run(owner, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    finished_runs(owner, [10, 20, 30, 1000])  # median 25 s
    running = make_generation(
        owner, status=Status.RUNNING, started_at=timezone.now() - timedelta(seconds=5)
    )
    first, second = make_generation(owner), make_generation(owner)
    progress = progress_for([running, first, second])
    assert 19_000 <= progress[running.pk].eta_ms <= 20_000  # 25 s less the 5 s it has run
    assert progress[first.pk].eta_ms == 2 * 25_000  # one round of the single slot, then its run
    assert progress[second.pk].eta_ms == 3 * 25_000


def test_no_eta_without_enough_history_or_once_finished(owner):
    finished_runs(owner, [10, 20])  # two samples: not enough
    queued = make_generation(owner)
    done = make_generation(
        owner,
        status=Status.CANCELED,
        started_at=timezone.now() - timedelta(seconds=3),
        finished_at=timezone.now(),
    )
    progress = progress_for([queued, done])
    assert progress[queued.pk].eta_ms is None
    assert progress[done.pk].eta_ms is None
    assert progress[done.pk].queue_position is None
    assert progress[done.pk].waiting_reason is None


def test_elapsed_counts_from_submission_and_stops_at_the_end(owner):
    created = timezone.now() - timedelta(seconds=90)
    done = make_generation(
        owner,
        status=Status.FAILED,
        created_at=created,
        finished_at=created + timedelta(seconds=12),
    )
    queued = make_generation(owner, created_at=timezone.now() - timedelta(seconds=4))
    progress = progress_for([done, queued])
    assert progress[done.pk].elapsed_ms == 12_000
    assert 4_000 <= progress[queued.pk].elapsed_ms < 10_000


def test_a_page_of_generations_costs_a_fixed_number_of_queries(
    owner, django_assert_max_num_queries
):
    finished_runs(owner, [5, 6, 7])
    for model in ("a", "b", "c"):
        for _ in range(3):
            make_generation(owner, model=model)
    generations = list(owner.generations.all())
    # The owners' queue in one query, their running caps in two (per-user values and group
    # policies), then one per distinct model of a pending generation.
    with django_assert_max_num_queries(1 + 2 + 3):
        progress_for(generations)


def test_api_shows_the_fields_for_one_and_for_a_list(owner, owner_api, settings):
    settings.GENERATION_MAX_CONCURRENT = 1
    make_generation(owner, status=Status.RUNNING, started_at=timezone.now())
    queued = make_generation(owner)
    body = owner_api.get(f"/api/generations/{queued.pk}").json()
    assert body["queue_position"] == 1
    assert body["waiting_reason"] == "waiting: 1 of 1 of your generations running"
    assert body["elapsed_ms"] >= 0
    assert body["eta_ms"] is None
    listed = owner_api.get("/api/generations").json()["results"]
    by_id = {g["id"]: g for g in listed}
    assert by_id[queued.pk]["waiting_reason"] == body["waiting_reason"]
    assert all(
        set(g) >= {"queue_position", "waiting_reason", "elapsed_ms", "eta_ms"} for g in listed
    )


def test_schema_documents_the_fields(admin_client):
    schema = admin_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    props = schema["components"]["schemas"]["Generation"]["properties"]
    for name in ("queue_position", "waiting_reason", "elapsed_ms", "eta_ms"):
        assert props[name]["readOnly"] is True
        assert props[name]["nullable"] is True
        assert props[name]["description"]
