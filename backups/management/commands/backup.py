"""`manage.py backup PATH`: the database and every stored file into one .tar.gz."""

from django.core.management.base import BaseCommand, CommandError

from backups.services import BackupError, create_backup


class Command(BaseCommand):
    help = (
        "Write a backup archive (.tar.gz): a consistent database dump plus every stored "
        "file with its SHA-256. Safe while the server runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="the archive to write, e.g. /backups/imagegen.tar.gz")

    def handle(self, *args, path, **options):
        try:
            report = create_backup(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backed up the {report.engine} database ({report.database_bytes} bytes) and "
            f"{report.files} files ({report.file_bytes} bytes) to {report.path}"
        )
        if report.missing_files:
            self.stderr.write(
                f"{len(report.missing_files)} files named by the database were deleted while "
                "the backup ran (listed under missing_files in the manifest)"
            )
