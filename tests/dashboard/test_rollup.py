"""The rollup counts each finished generation once, and a rebuild gives the same rows."""

from datetime import date

import pytest
from django.core.management import call_command

from generation.models import Status
from generation.usage.models import DailyUsage, RolledUpGeneration
from generation.usage.rollup import latency_bucket, rebuild_rollups, record_generation_finished
from tests.dashboard.helpers import finished, live

pytestmark = pytest.mark.django_db

COMPARED = (
    "day",
    "owner_id",
    "project_id",
    "provider",
    "model",
    "operation",
    "failure_kind",
    "generations",
    "succeeded",
    "failed",
    "canceled",
    "images",
    "uploads",
    "image_bytes",
    "spend_reported_micros",
    "spend_estimated_micros",
    "latency_count",
    "latency_sum_ms",
    "latency_max_ms",
    "latency_b03",
    "latency_b06",
)


def snapshot():
    return sorted(DailyUsage.objects.values_list(*COMPARED))


def test_recording_twice_counts_once(owner):
    generation = finished(owner, "2025-03-04 10:00", cost="0.04", estimate=False, images=2)
    assert record_generation_finished(generation) is False
    assert record_generation_finished(generation.pk) is False
    row = DailyUsage.objects.get()
    assert (row.generations, row.succeeded, row.images, row.spend_reported_micros) == (
        1,
        1,
        2,
        40_000,
    )


def test_unfinished_generation_is_not_recorded(owner):
    generation = live(owner)
    assert record_generation_finished(generation) is False
    assert not DailyUsage.objects.exists()
    assert not RolledUpGeneration.objects.exists()


def test_generations_sharing_a_key_add_up_in_one_row(owner):
    finished(owner, "2025-03-04 10:00", cost="0.01", latency_ms=1200)
    finished(owner, "2025-03-04 11:00", cost="0.02", latency_ms=1800)
    row = DailyUsage.objects.get()
    assert row.generations == 2
    assert row.spend_estimated_micros == 30_000
    assert (row.latency_count, row.latency_sum_ms, row.latency_max_ms) == (2, 3000, 1800)
    assert (row.latency_b03, row.latency_b04) == (1, 1)  # <=1500 ms and <=2000 ms


def test_failures_are_rows_of_their_kind_and_carry_no_spend(owner):
    finished(
        owner, "2025-03-04 10:00", status=Status.FAILED, error="Timed out after 120 s.", cost="0.50"
    )
    finished(owner, "2025-03-04 10:00", status=Status.CANCELED, cost="0.50")
    rows = {r.failure_kind: r for r in DailyUsage.objects.all()}
    assert rows["timeout"].failed == 1
    assert rows[""].canceled == 1
    assert all(r.spend_estimated_micros == r.images == r.latency_count == 0 for r in rows.values())


def test_latency_buckets_have_inclusive_upper_bounds():
    assert latency_bucket(0) == "latency_b00"
    assert latency_bucket(250) == "latency_b00"
    assert latency_bucket(251) == "latency_b01"
    assert latency_bucket(10_000_000) == "latency_b19"


def test_rebuild_reproduces_the_incremental_rollup(owner, member):
    finished(owner, "2025-03-03 23:59", cost="0.01", latency_ms=900, images=3)
    finished(owner, "2025-03-04 00:00", cost="0.02", estimate=False, latency_ms=2500)
    finished(member, "2025-03-04 12:00", status=Status.FAILED, error="Rate limited by x")
    finished(member, "2025-03-05 12:00", status=Status.CANCELED)
    incremental = snapshot()

    result = rebuild_rollups(date(2025, 3, 1), date(2025, 3, 31))

    assert result == {"generations": 4, "rows": len(incremental)}
    assert snapshot() == incremental
    assert RolledUpGeneration.objects.count() == 4


def test_rebuild_counts_generations_the_pipeline_never_recorded(owner):
    finished(owner, "2025-03-04 10:00", cost="0.01", record=False)
    live(owner, created="2025-03-04 10:00")  # still queued: not counted
    call_command("rebuild_dashboard", "--from", "2025-03-01", "--to", "2025-03-31")
    assert DailyUsage.objects.get().generations == 1
    # Recording after a rebuild does not count it again.
    assert record_generation_finished(RolledUpGeneration.objects.get().generation_id) is False


def test_rebuild_leaves_days_outside_its_range_alone(owner):
    finished(owner, "2025-02-10 10:00")
    finished(owner, "2025-03-04 10:00")
    DailyUsage.objects.update(generations=7)
    rebuild_rollups(date(2025, 3, 1), date(2025, 3, 31))
    assert dict(DailyUsage.objects.values_list("day", "generations")) == {
        date(2025, 2, 10): 7,
        date(2025, 3, 4): 1,
    }
