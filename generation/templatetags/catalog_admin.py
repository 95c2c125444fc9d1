"""The admin index's warning about enabled models whose shutdown is near (or passed)."""

from datetime import timedelta

from django import template
from django.utils import timezone

from generation.models import CatalogModel

register = template.Library()

WARN_DAYS = 30


@register.simple_tag
def catalog_shutdown_warnings() -> list[dict]:
    """Enabled catalog models whose shutdown date is within WARN_DAYS days or has passed,
    soonest first, each with the words to show."""
    today = timezone.localdate()
    rows = CatalogModel.objects.filter(
        enabled=True, shutdown_date__isnull=False, shutdown_date__lte=today + timedelta(WARN_DAYS)
    ).order_by("shutdown_date", "provider", "model_id")
    warnings = []
    for row in rows:
        days = (row.shutdown_date - today).days
        if days < 0:
            when = f"shut down on {row.shutdown_date.isoformat()}"
        elif days == 0:
            when = "shuts down today"
        else:
            when = f"shuts down on {row.shutdown_date.isoformat()} (in {days} days)"
        warnings.append({"row": row, "text": f"{row.provider}: {row.display_name} {when}"})
    return warnings
