"""Report (and with --fix, repair) differences between stored files and Image rows."""

from django.core.management.base import BaseCommand

from gallery.storage_check import DEFAULT_MIN_AGE, check_storage

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Report orphan files (stored, no row), rows (images, drawn masks) whose files are "
        "missing, and stale files in temp/. --fix deletes orphans and stale temp files and "
        "rebuilds missing thumbnails from their originals."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="repair what can be repaired")
        parser.add_argument(
            "--min-age",
            type=int,
            default=DEFAULT_MIN_AGE,
            metavar="SECONDS",
            help="leave unreferenced and temp files younger than this alone "
            f"(default {DEFAULT_MIN_AGE}: a generation stores files just before its rows)",
        )

    def handle(self, *args, fix=False, min_age=DEFAULT_MIN_AGE, **options):
        report = check_storage(fix=fix, min_age=max(0, min_age))
        self._section("Orphan files (no row refers to them)", report.orphans)
        self._section(
            "Rows whose original is missing",
            [f"image {pk}: {name}" for pk, name in report.missing_originals],
        )
        self._section(
            "Rows whose thumbnail is missing",
            [f"image {pk}: {name}" for pk, name in report.missing_thumbnails],
        )
        self._section(
            "Drawn masks whose file is missing",
            [f"generation input {pk}: {name}" for pk, name in report.missing_inputs],
        )
        self._section(f"Stale files in temp/ (older than {min_age} s)", report.stale_temp)
        if report.recent_unreferenced:
            self.stdout.write(
                f"{len(report.recent_unreferenced)} unreferenced file(s) younger "
                f"than {min_age} s left alone (possibly a generation in flight)."
            )
        if fix:
            self.stdout.write(
                f"Deleted {len(report.deleted)} file(s); rebuilt "
                f"{len(report.regenerated)} thumbnail(s)."
            )
            if report.not_repairable:
                self.stdout.write(
                    self.style.WARNING(
                        f"{len(report.not_repairable)} thumbnail(s) cannot be rebuilt: their "
                        "originals are missing too."
                    )
                )
        elif report.problems:
            self.stdout.write("Run with --fix to repair.")
        if not report.problems:
            self.stdout.write(self.style.SUCCESS("Storage and database agree."))

    def _section(self, title, items):
        self.stdout.write(f"{title}: {len(items)}")
        for item in items[:SHOWN]:
            self.stdout.write(f"  {item}")
        if len(items) > SHOWN:
            self.stdout.write(f"  … and {len(items) - SHOWN} more")
