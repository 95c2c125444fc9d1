"""GPU time in the rollup (issue #17): DailyUsage gains ``gpu_ms``, the GPU-seconds of the
generations that ran on the team's own GPUs, in whole milliseconds.

Generations rolled up before this migration that carry ``gpu_seconds`` (self-hosted jobs
finished between generation 0013 and this migration) are added to their rows here, keyed and
rounded as ``generation.usage.rollup`` keys and rounds new ones (the day in TIME_ZONE, the
failure kind of a failed one, floor(seconds × 1000 + 0.5)), so the rollup and the figures
added up from the generations agree."""

import math
from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models
from django.db.models import F


def count_gpu_time(apps, schema_editor):
    from generation.usage.failures import failure_kind  # a pure function of the error text

    Generation = apps.get_model("generation", "Generation")
    DailyUsage = apps.get_model("dashboard", "DailyUsage")
    zone = ZoneInfo(settings.TIME_ZONE)
    rows = (
        Generation.objects.filter(
            rollup_marker__isnull=False,
            gpu_seconds__gt=0,
            status__in=("succeeded", "failed", "canceled"),
        )
        .exclude(operation="upload")
        .values(
            "owner_id",
            "project_id",
            "provider",
            "model",
            "operation",
            "status",
            "error",
            "created_at",
            "gpu_seconds",
        )
    )
    totals = defaultdict(int)
    for row in rows.iterator(chunk_size=2000):
        key = (
            row["created_at"].astimezone(zone).date(),
            row["owner_id"],
            row["project_id"] or 0,
            row["provider"],
            row["model"],
            row["operation"],
            failure_kind(row["error"]) if row["status"] == "failed" else "",
        )
        totals[key] += math.floor(row["gpu_seconds"] * 1000 + 0.5)
    fields = ("day", "owner_id", "project_id", "provider", "model", "operation", "failure_kind")
    for key, gpu_ms in totals.items():
        # The marker says the rollup row exists (it was counted in the same transaction).
        DailyUsage.objects.filter(**dict(zip(fields, key, strict=True))).update(
            gpu_ms=F("gpu_ms") + gpu_ms
        )


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0004_usage_by_operation"),
        ("generation", "0013_self_hosted_backends"),
    ]

    operations = [
        migrations.AddField(
            model_name="dailyusage",
            name="gpu_ms",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.RunPython(count_gpu_time, migrations.RunPython.noop),
    ]
