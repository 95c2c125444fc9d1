"""Helpers for dashboard tests: finished generations with exact timestamps, costs and images."""

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from gallery.models import Image
from generation.models import Generation, Status
from generation.usage.rollup import record_generation_finished

UTC = ZoneInfo("UTC")


def at(text: str, tz: str = "UTC") -> datetime:
    """An aware datetime from 'YYYY-MM-DD HH:MM' in the given zone."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def finished(
    owner,
    created: str | datetime,
    *,
    status=Status.SUCCEEDED,
    latency_ms=1000,
    cost=None,
    estimate=True,
    images=1,
    image_bytes=100,
    error="",
    project=None,
    provider="offline",
    model="offline-shapes",
    favorite=False,
    record=True,
    operation="generate",
) -> Generation:
    """A finished generation created at ``created`` (UTC text or datetime), recorded in the
    rollup unless ``record`` is False."""
    created_at = at(created) if isinstance(created, str) else created
    started = created_at + timedelta(seconds=1)
    generation = Generation.objects.create(
        owner=owner,
        project=project,
        provider=provider,
        model=model,
        operation=operation,
        prompt="p",
        width=64,
        height=64,
        num_images=max(images, 1),
        status=status,
        error=error,
        cost_usd=None if cost is None else Decimal(cost),
        cost_is_estimate=estimate,
        created_at=created_at,
        started_at=started,
        finished_at=started + timedelta(milliseconds=latency_ms),
    )
    if status == Status.SUCCEEDED:
        Image.objects.bulk_create(
            [
                Image(
                    generation=generation,
                    owner=owner,
                    project=project,
                    index=i,
                    origin="upload" if operation == "upload" else "generated",
                    file=f"images/{generation.pk}-{i}.png",
                    thumbnail="t.webp",
                    width=64,
                    height=64,
                    format="PNG",
                    bytes=image_bytes,
                    sha256=f"{generation.pk}-{i}",
                    favorite=favorite,
                )
                for i in range(images)
            ]
        )
    if record:
        assert record_generation_finished(generation)
    return generation


def live(owner, *, cost=None, images=1, status=Status.QUEUED, created=None) -> Generation:
    """A queued (or running) generation holding an estimate."""
    fields = {"created_at": at(created)} if created else {}
    return Generation.objects.create(
        owner=owner,
        provider="offline",
        model="offline-shapes",
        prompt="p",
        width=64,
        height=64,
        num_images=images,
        status=status,
        cost_usd=None if cost is None else Decimal(cost),
        **fields,
    )
