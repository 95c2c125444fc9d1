"""The admin index's warning about offered models whose announced shutdown is near."""

from datetime import timedelta

from django import template
from django.utils import timezone

from generation.models import CatalogModel
from imagegen.providers import get_provider

register = template.Library()

WARN_DAYS = 30


@register.simple_tag
def catalog_shutdown_warnings() -> list[dict]:
    """Models people can still pick (enabled and available) whose shutdown date falls within
    the next WARN_DAYS days, soonest first, each with the words to show. A model past its
    date is no longer offered (catalog.specs_for) and needs nothing from the admin."""
    today = timezone.localdate()
    rows = CatalogModel.objects.filter(
        enabled=True,
        available=True,
        shutdown_date__gt=today,
        shutdown_date__lte=today + timedelta(WARN_DAYS),
    ).order_by("shutdown_date", "provider", "model_id")
    warnings = []
    for row in rows:
        days = (row.shutdown_date - today).days
        provider = get_provider(row.provider)
        label = provider.label if provider else row.provider
        when = f"{row.shutdown_date.isoformat()} (in {days} day{'s' if days != 1 else ''})"
        warnings.append({"row": row, "text": f"{label}: {row.display_name} shuts down on {when}"})
    return warnings
