"""The generation source of live updates (imagegen.core.live): generations whose state changed.

Reads ``updated_at`` (indexed), which every state change sets. Rows are re-read for
``OVERLAP`` after the newest change seen, so a change whose transaction committed a little
after its timestamp, or that came from a host whose clock is a little behind, is still
caught; ``(id, updated_at)`` pairs already sent are not sent twice.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from generation.models import Generation, Status

OVERLAP = timedelta(seconds=5)


@dataclass(frozen=True)
class Marker:
    """Where the source stands: the newest change seen and the changes already sent."""

    since: datetime
    seen: frozenset


def generation_changes(marker: Marker | None):
    """Changed generations since ``marker``: events for their owners, payload {id, status},
    and ``progress`` (0..1) while a running generation's backend reports one: the feed moves
    its card's bar from the event alone, without reading the card again."""
    if marker is None:
        now = timezone.now()
        return [], Marker(now, frozenset(_pair(row) for row in _rows_since(now - OVERLAP)))
    rows = _rows_since(marker.since - OVERLAP)
    events = [
        ({row[1]}, "generation", _payload(row)) for row in rows if _pair(row) not in marker.seen
    ]
    newest = max([marker.since, *(row[3] for row in rows)])
    seen = frozenset(_pair(row) for row in rows if row[3] >= newest - OVERLAP)
    return events, Marker(newest, seen)


def _rows_since(moment):
    return list(
        Generation.objects.filter(updated_at__gte=moment)
        .runs()
        .order_by("updated_at", "id")
        .values_list("id", "owner_id", "status", "updated_at", "progress")
    )


def _payload(row) -> dict:
    payload = {"id": row[0], "status": row[2]}
    if row[2] == Status.RUNNING and row[4] is not None:
        payload["progress"] = row[4]
    return payload


def _pair(row):
    return row[0], row[3]
