"""`manage.py restore PATH`: put a backup archive back onto an empty install."""

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup archive written by `manage.py backup` onto an empty install "
        "(stop the web server and workers first). Verifies every file's hash."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the archive written by `manage.py backup`")
        parser.add_argument(
            "--force", action="store_true", help="replace a database that already holds data"
        )

    def handle(self, *args, path, force, **options):
        try:
            report = restore_backup(path, force=force)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        # A SQLite snapshot brings its own migration state; bring it up to this version.
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write(
            f"Restored the {report.engine} database ({report.database_bytes} bytes) and "
            f"{report.files} files ({report.file_bytes} bytes; {report.skipped_existing} were "
            f"already in storage) from {report.path}"
        )
        if report.missing_files:
            self.stderr.write(
                f"{len(report.missing_files)} files were missing when the "
                "backup was made; their images will show as missing"
            )
