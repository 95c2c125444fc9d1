"""The generation source of live updates: state changes since the marker, for the owner only,
re-read over an overlap window without sending a change twice."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation import live, runner
from generation.models import Generation, Status
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db


def statuses(events):
    return [
        (set(audience), kind, payload["id"], payload["status"])
        for audience, kind, payload in events
    ]


def test_the_first_call_is_the_marker_of_now_with_no_events(owner):
    make_generation(owner)
    events, marker = live.generation_changes(None)
    assert events == [] and marker.since <= timezone.now()


def test_each_state_change_is_one_event_for_its_owner(owner, outsider):
    _, marker = live.generation_changes(None)
    generation = make_generation(owner)
    events, marker = live.generation_changes(marker)
    assert statuses(events) == [({owner.pk}, "generation", generation.pk, "queued")]

    runner.claim(generation.pk)
    events, marker = live.generation_changes(marker)
    assert statuses(events) == [({owner.pk}, "generation", generation.pk, "running")]

    Generation.objects.get(pk=generation.pk).mark_succeeded()
    events, marker = live.generation_changes(marker)
    assert statuses(events) == [({owner.pk}, "generation", generation.pk, "succeeded")]

    events, marker = live.generation_changes(marker)  # nothing new: nothing sent again
    assert events == []


def test_a_change_stamped_earlier_but_seen_late_is_caught_within_the_overlap(owner):
    # A worker whose clock is behind, or whose transaction committed after a later change.
    _, marker = live.generation_changes(None)
    newer = make_generation(owner)
    events, marker = live.generation_changes(marker)
    assert [e[2]["id"] for e in events] == [newer.pk]
    late = make_generation(owner, updated_at=marker.since - live.OVERLAP / 2)
    events, marker = live.generation_changes(marker)
    assert [e[2]["id"] for e in events] == [late.pk]
    assert live.generation_changes(marker)[0] == []


def test_the_same_row_changing_again_within_the_overlap_is_sent_again(owner):
    _, marker = live.generation_changes(None)
    generation = make_generation(owner)
    _, marker = live.generation_changes(marker)
    generation.mark_canceled()
    events, _ = live.generation_changes(marker)
    assert statuses(events) == [({owner.pk}, "generation", generation.pk, Status.CANCELED)]


def test_rows_older_than_the_overlap_are_forgotten(owner):
    _, marker = live.generation_changes(None)
    make_generation(owner, updated_at=timezone.now() - live.OVERLAP - timedelta(seconds=5))
    assert live.generation_changes(marker)[0] == []
    assert len(marker.seen) == 0
