"""The dashboard page: the user's own figures at a glance."""

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q, Sum
from django.shortcuts import render

from gallery.models import Image
from generation.models import Generation, Status


def user_summary(user) -> dict:
    """Counts and spend over all of the user's generations (one query each table)."""
    figures = Generation.objects.visible_to(user).aggregate(
        total=Count("id"),
        succeeded=Count("id", filter=Q(status=Status.SUCCEEDED)),
        failed=Count("id", filter=Q(status=Status.FAILED)),
        in_progress=Count("id", filter=Q(status__in=(Status.QUEUED, Status.RUNNING))),
        spend=Sum("cost_usd", filter=Q(status=Status.SUCCEEDED)),
    )
    images = Image.objects.visible_to(user).aggregate(count=Count("id"), bytes=Sum("bytes"))
    figures["images"] = images["count"]
    figures["storage_bytes"] = images["bytes"] or 0
    return figures


@login_required
def dashboard_page(request):
    return render(request, "dashboard/index.html", {"figures": user_summary(request.user)})
