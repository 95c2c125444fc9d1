"""Keeping DailyUsage current: count each finished generation once, or rebuild a range.

``record_generation_finished`` is called by the pipeline when a generation reaches a final
state, and by an upload once it is stored; it is idempotent (a RolledUpGeneration marker per
generation). ``rebuild_rollups`` (``manage.py rebuild_dashboard``) recomputes days from the
Generation rows.

Every operation (generate, edit, inpaint, outpaint, upscale, remove_background) is counted
like a generation, in rows of its own operation. An upload (a finished generation of
operation "upload") is not a generation for usage: its rows count only the images uploaded
(``uploads``) and their bytes (``image_bytes``, storage), never generations, images made,
spend or failures, so the daily image limit, budgets and failure rates leave it out.

GPU time (issue #17): a generation that ran on the team's own GPU (a self-hosted provider)
records its ``gpu_seconds``; the rollup keeps their sum in whole milliseconds (``gpu_ms``),
for every finished run, succeeded, failed or canceled (the GPU was busy either way; only a
success's cost is spend). Its cost (GPU-seconds × the backend's price) is the generation's
``cost_usd``, counted as spend like a cloud provider's.
"""

import logging
import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Count, F, Sum
from django.db.models.functions import Greatest
from django.utils import timezone

from gallery.models import Image
from generation.models import FINISHED_STATUSES, UPLOAD, Generation, Status
from generation.usage.failures import failure_kind
from generation.usage.models import (
    LATENCY_BUCKETS_MS,
    LATENCY_FIELDS,
    MICROS,
    DailyUsage,
    RolledUpGeneration,
)

logger = logging.getLogger(__name__)

COUNTERS = (
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
    "gpu_ms",
) + LATENCY_FIELDS
ROW_FIELDS = (
    "id",
    "owner_id",
    "project_id",
    "provider",
    "model",
    "operation",
    "status",
    "error",
    "cost_usd",
    "cost_is_estimate",
    "created_at",
    "started_at",
    "finished_at",
    "gpu_seconds",
)


def team_zone() -> tzinfo:
    """The zone of the rollup's days: the team's TIME_ZONE, whoever is asking (a request may
    have activated its user's own zone)."""
    return timezone.get_default_timezone()


def local_day(moment: datetime) -> date:
    """The calendar day of a moment in the team's time zone."""
    return moment.astimezone(team_zone()).date()


def day_start(day: date, zone: tzinfo | None = None) -> datetime:
    """The first moment of a day in ``zone`` (the team's by default), as an aware datetime."""
    return timezone.make_aware(datetime.combine(day, time.min), zone or team_zone())


def to_micros(amount: Decimal | None) -> int:
    """Dollars as whole millionths."""
    return 0 if amount is None else int(amount * MICROS)


def to_gpu_ms(seconds: float | None) -> int:
    """GPU-seconds as whole milliseconds, rounded half up: floor(seconds × 1000 + 0.5), the
    same double arithmetic ``generation.usage.windows`` asks SQL for, so both agree exactly."""
    if seconds is None or seconds <= 0:
        return 0
    return math.floor(seconds * 1000 + 0.5)


def latency_bucket(latency_ms: int) -> str:
    """The histogram field a latency falls into."""
    for field, bound in zip(LATENCY_FIELDS, LATENCY_BUCKETS_MS, strict=True):
        if bound is None or latency_ms <= bound:
            return field
    return LATENCY_FIELDS[-1]


DIMENSIONS = ("owner_id", "project_id", "provider", "model", "operation", "failure_kind")


def dimensions(row: dict) -> dict:
    """What a finished generation's rollup row is keyed by, besides its day."""
    return {
        "owner_id": row["owner_id"],
        "project_id": row["project_id"] or 0,
        "provider": row["provider"],
        "model": row["model"],
        "operation": row["operation"],
        "failure_kind": failure_kind(row["error"]) if row["status"] == Status.FAILED else "",
    }


def _key(row: dict) -> tuple:
    return (local_day(row["created_at"]), *dimensions(row).values())


def contribution(row: dict, images: int, image_bytes: int) -> dict[str, int]:
    """What one finished generation adds to its rollup row (an upload: its images and bytes
    as uploads and storage, nothing else)."""
    status = row["status"]
    add = {
        "generations": 1,
        "succeeded": 0,
        "failed": 0,
        "canceled": 0,
        "images": 0,
        "uploads": 0,
        "image_bytes": 0,
        "spend_reported_micros": 0,
        "spend_estimated_micros": 0,
        "gpu_ms": 0,
    }
    if row["operation"] == UPLOAD:
        add["generations"] = 0
        if status == Status.SUCCEEDED:
            add["uploads"], add["image_bytes"] = images, image_bytes
        return add
    add[
        {Status.SUCCEEDED: "succeeded", Status.FAILED: "failed", Status.CANCELED: "canceled"}[
            status
        ]
    ] = 1
    # GPU time counts whatever the outcome: a failed job held the GPU too.
    add["gpu_ms"] = to_gpu_ms(row["gpu_seconds"])
    if status == Status.SUCCEEDED:
        # Only succeeded generations are counted as spend: a failed or canceled one still
        # carries its submission estimate, which providers do not charge.
        add["images"], add["image_bytes"] = images, image_bytes
        spend = "spend_estimated_micros" if row["cost_is_estimate"] else "spend_reported_micros"
        add[spend] = to_micros(row["cost_usd"])
        if row["started_at"] and row["finished_at"]:
            latency = max(0, int((row["finished_at"] - row["started_at"]).total_seconds() * 1000))
            add["latency_count"], add["latency_sum_ms"] = 1, latency
            add["latency_max_ms"] = latency
            add[latency_bucket(latency)] = 1
    return add


def _lookup(key: tuple) -> dict:
    """A rollup key (day, *DIMENSIONS) as DailyUsage field values."""
    return dict(zip(("day", *DIMENSIONS), key, strict=True))


def _add_to_rollup(key: tuple, add: dict[str, int]) -> None:
    lookup = _lookup(key)
    latency_max = add.pop("latency_max_ms", 0)
    updates = {name: F(name) + value for name, value in add.items() if value}
    if latency_max:
        updates["latency_max_ms"] = Greatest(F("latency_max_ms"), latency_max)
    if DailyUsage.objects.filter(**lookup).update(**updates):
        return
    try:
        with transaction.atomic():
            DailyUsage.objects.create(**lookup, latency_max_ms=latency_max, **add)
    except IntegrityError:  # created meanwhile by another finishing generation
        DailyUsage.objects.filter(**lookup).update(**updates)


def record_generation_finished(generation: Generation | int) -> bool:
    """Add a finished generation to its day's rollup, once. Returns False (and changes
    nothing) when it is not finished, gone, or already counted. Never raises for those."""
    generation_id = generation if isinstance(generation, int) else generation.pk
    row = Generation.objects.filter(pk=generation_id).values(*ROW_FIELDS).first()
    if row is None or row["status"] not in FINISHED_STATUSES:
        return False
    made = (0, 0)
    if row["status"] == Status.SUCCEEDED:  # only a success made images
        images = Image.objects.filter(generation_id=generation_id).aggregate(
            count=Count("id"), bytes=Sum("bytes")
        )
        made = (images["count"], images["bytes"] or 0)
    with transaction.atomic():
        try:
            with transaction.atomic():
                RolledUpGeneration.objects.create(
                    generation_id=generation_id, images=made[0], image_bytes=made[1]
                )
        except IntegrityError:
            return False
        _add_to_rollup(_key(row), contribution(row, *made))
    return True


def rebuild_rollups(start: date, end: date, *, chunk: int = 20_000) -> dict[str, int]:
    """Recompute DailyUsage for the local days start..end (inclusive) from the Generation
    rows, in one transaction. Run it while few generations finish (it holds the write lock
    on SQLite). Returns counts: generations, rows."""
    begin, stop = day_start(start), day_start(end + timedelta(days=1))
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNTERS, 0))
    latency_max: dict[tuple, int] = defaultdict(int)
    counted = 0
    with transaction.atomic():
        DailyUsage.objects.filter(day__gte=start, day__lte=end).delete()
        RolledUpGeneration.objects.filter(
            generation__created_at__gte=begin, generation__created_at__lt=stop
        ).delete()
        finished = (
            Generation.objects.filter(
                created_at__gte=begin, created_at__lt=stop, status__in=FINISHED_STATUSES
            )
            .order_by("id")
            .values(*ROW_FIELDS)
        )
        last_id = 0
        while True:
            rows = list(finished.filter(id__gt=last_id)[:chunk])
            if not rows:
                break
            last_id = rows[-1]["id"]
            ids = [row["id"] for row in rows if row["status"] == Status.SUCCEEDED]
            images = (
                {
                    item["generation_id"]: item
                    for item in Image.objects.filter(generation_id__in=ids)
                    .values("generation_id")
                    .annotate(count=Count("id"), bytes=Sum("bytes"))
                    .order_by()
                }
                if ids
                else {}
            )
            for row in rows:
                found = images.get(row["id"], {"count": 0, "bytes": 0})
                add = contribution(row, found["count"], found["bytes"] or 0)
                key = _key(row)
                latency_max[key] = max(latency_max[key], add.pop("latency_max_ms", 0))
                bucket = totals[key]
                for name, value in add.items():
                    bucket[name] += value
            RolledUpGeneration.objects.bulk_create(
                [
                    RolledUpGeneration(
                        generation_id=row["id"],
                        images=images.get(row["id"], {}).get("count", 0),
                        image_bytes=images.get(row["id"], {}).get("bytes") or 0,
                    )
                    for row in rows
                ],
                batch_size=5000,
            )
            counted += len(rows)
        DailyUsage.objects.bulk_create(
            [
                DailyUsage(**_lookup(key), latency_max_ms=latency_max[key], **values)
                for key, values in totals.items()
            ],
            batch_size=2000,
        )
    logger.info(
        "dashboard rollups rebuilt for %s..%s: %s generations, %s rows",
        start,
        end,
        counted,
        len(totals),
    )
    return {"generations": counted, "rows": len(totals)}
