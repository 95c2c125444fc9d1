"""Rebuild every image's thumbnail from its original."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from gallery.storage_check import regenerate_thumbnails


class Command(BaseCommand):
    help = (
        "Rebuild each original's WebP thumbnail at --size (default THUMBNAIL_SIZE), point "
        "the rows at it and delete thumbnails no row uses any more."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--size",
            type=int,
            default=None,
            help="longer side in pixels (32-2048; default THUMBNAIL_SIZE)",
        )
        parser.add_argument(
            "--missing-only",
            action="store_true",
            help="only write thumbnails that are not in storage yet",
        )

    def handle(self, *args, size=None, missing_only=False, **options):
        size = size or settings.THUMBNAIL_SIZE
        if not 32 <= size <= 2048:
            raise CommandError("--size: must be between 32 and 2048")
        run = regenerate_thumbnails(size, missing_only=missing_only)
        self.stdout.write(
            f"Wrote {run.written} thumbnail(s) at {size} px; pointed "
            f"{run.rows_updated} row(s) at them; removed {len(run.discarded)} "
            "old thumbnail name(s)."
        )
        if run.failed:
            self.stdout.write(
                self.style.WARNING(
                    f"{len(run.failed)} original(s) could not be read: run storage_check."
                )
            )
