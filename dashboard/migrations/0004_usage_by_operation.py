"""Usage by operation (issue #16): the rollup's rows gain the operation of their generations
(generate for every row so far: no other operation existed) and a count of uploaded images.
Uploads made before this migration (recorded as finished generations of operation "upload",
which nothing rolled up) are counted here, as ``generation.usage.rollup`` counts new ones."""

from collections import defaultdict
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import migrations, models
from django.db.models import Count, Sum


def count_uploads(apps, schema_editor):
    Generation = apps.get_model("generation", "Generation")
    Image = apps.get_model("gallery", "Image")
    Marker = apps.get_model("dashboard", "RolledUpGeneration")
    DailyUsage = apps.get_model("dashboard", "DailyUsage")
    zone = ZoneInfo(settings.TIME_ZONE)
    uploads = Generation.objects.filter(
        operation="upload", status="succeeded", rollup_marker__isnull=True
    ).values("id", "owner_id", "project_id", "created_at")
    totals = defaultdict(lambda: [0, 0])
    markers = []
    for row in uploads.iterator(chunk_size=2000):
        made = Image.objects.filter(generation_id=row["id"]).aggregate(n=Count("id"), b=Sum("bytes"))
        count, size = made["n"], made["b"] or 0
        markers.append(Marker(generation_id=row["id"], images=count, image_bytes=size))
        key = (row["created_at"].astimezone(zone).date(), row["owner_id"], row["project_id"] or 0)
        totals[key][0] += count
        totals[key][1] += size
    Marker.objects.bulk_create(markers, batch_size=2000)
    for (day, owner_id, project_id), (count, size) in totals.items():
        key = {
            "day": day,
            "owner_id": owner_id,
            "project_id": project_id,
            "provider": "upload",
            "model": "upload",
            "operation": "upload",
            "failure_kind": "",
        }
        row, _ = DailyUsage.objects.get_or_create(**key)
        row.uploads += count
        row.image_bytes += size
        row.save(update_fields=["uploads", "image_bytes"])


class Migration(migrations.Migration):
    dependencies = [
        ("dashboard", "0003_spend_entries"),
        ("gallery", "0006_images_in"),
        ("generation", "0012_images_in"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name="dailyusage",
            name="dailyusage_unique_key",
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="operation",
            field=models.CharField(default="generate", max_length=20),
        ),
        migrations.AddField(
            model_name="dailyusage",
            name="uploads",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddConstraint(
            model_name="dailyusage",
            constraint=models.UniqueConstraint(
                fields=(
                    "day",
                    "owner",
                    "project_id",
                    "provider",
                    "model",
                    "operation",
                    "failure_kind",
                ),
                name="dailyusage_unique_key",
            ),
        ),
        migrations.RunPython(count_uploads, migrations.RunPython.noop, elidable=True),
    ]
