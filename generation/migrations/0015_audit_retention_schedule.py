"""Schedule the audit trail's retention purge daily (django-q2 runs it): the entries older
than AUDIT_RETENTION_DAYS go (generation.tasks.purge_audit_entries)."""

from django.db import migrations

FUNC = "generation.tasks.purge_audit_entries"
NAME = "purge-old-audit-entries"


def create_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME, defaults={"func": FUNC, "schedule_type": "D", "repeats": -1}
    )


def delete_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("generation", "0014_gateway"),
        ("core", "0001_audit_entry"),
        ("django_q", "0018_task_success_index"),
    ]

    operations = [migrations.RunPython(create_schedule, delete_schedule)]
