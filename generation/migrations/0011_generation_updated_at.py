import django.utils.timezone
from django.db import migrations, models
from django.db.models.functions import Coalesce


def backfill(apps, schema_editor):
    """Existing rows: their last known change, not the migration's time."""
    Generation = apps.get_model("generation", "Generation")  # noqa: N806 - a model class
    Generation.objects.update(updated_at=Coalesce("finished_at", "started_at", "created_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0010_forget_invented_batch_seeds"),
    ]

    operations = [
        migrations.AddField(
            model_name="generation",
            name="updated_at",
            field=models.DateTimeField(db_index=True, default=django.utils.timezone.now),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
