import os

from django.core.management.base import BaseCommand, CommandError

from imagegen.core.crypto import UndecryptableSecret
from settings_app.services import rotate_encryption_key


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored secret (provider keys, backend credentials, authenticator "
        "secrets) from the old ENCRYPTION_KEY to a new one, in one transaction. Give the keys "
        "with --old/--new or OLD_ENCRYPTION_KEY/NEW_ENCRYPTION_KEY; "
        "then set ENCRYPTION_KEY to the new key and restart. See README, 'Rotating "
        "ENCRYPTION_KEY'."
    )

    def add_arguments(self, parser):
        parser.add_argument("--old", help="the current key (default: $OLD_ENCRYPTION_KEY)")
        parser.add_argument("--new", help="the new key (default: $NEW_ENCRYPTION_KEY)")

    def handle(self, *args, old=None, new=None, **options):
        old = old or os.environ.get("OLD_ENCRYPTION_KEY", "")
        new = new or os.environ.get("NEW_ENCRYPTION_KEY", "")
        if not old or not new:
            raise CommandError(
                "Give the old and the new key: --old OLD --new NEW, or set "
                "OLD_ENCRYPTION_KEY and NEW_ENCRYPTION_KEY."
            )
        if len(new) < 32:
            raise CommandError(
                "The new key is too short: use at least 32 random characters, "
                "e.g. python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )
        try:
            count = rotate_encryption_key(old, new)
        except (UndecryptableSecret, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Re-encrypted {count} stored secret(s). Now set ENCRYPTION_KEY to the new key and "
                "restart the web server and the workers."
            )
        )
