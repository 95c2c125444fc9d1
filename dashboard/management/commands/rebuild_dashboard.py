"""Recompute the dashboard's daily rollups from the generations."""

from datetime import date, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Max, Min
from django.utils import timezone

from generation.models import Generation
from generation.usage.rollup import local_day, rebuild_rollups


class Command(BaseCommand):
    help = (
        "Recompute the dashboard rollups for a range of days (default: every day with "
        "generations). Run it while few generations are finishing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--from", dest="start", help="first day, YYYY-MM-DD")
        parser.add_argument("--to", dest="end", help="last day, YYYY-MM-DD")
        parser.add_argument("--days", type=int, help="only the last N days (with today)")

    def handle(self, *args, start=None, end=None, days=None, **options):
        try:
            start = date.fromisoformat(start) if start else None
            end = date.fromisoformat(end) if end else None
        except ValueError as exc:
            raise CommandError(f"Give dates as YYYY-MM-DD: {exc}") from None
        today = timezone.localdate()
        if days is not None:
            if days < 1:
                raise CommandError("--days must be at least 1.")
            start, end = today - timedelta(days=days - 1), today
        if start is None or end is None:
            bounds = Generation.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
            if bounds["first"] is None:
                self.stdout.write("No generations: nothing to rebuild.")
                return
            start = start or local_day(bounds["first"])
            end = end or max(local_day(bounds["last"]), today)
        if start > end:
            raise CommandError("--from must not be after --to.")
        result = rebuild_rollups(start, end)
        self.stdout.write(
            f"Rebuilt {start}..{end}: {result['generations']} generations in "
            f"{result['rows']} rollup rows."
        )
