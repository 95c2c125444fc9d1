from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from settings_app.auth_api import issue_token


class Command(BaseCommand):
    help = "Print a new API token for USERNAME (use it as 'Authorization: Token <token>')."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument(
            "--name",
            default="manage.py create_api_token",
            help="How the token is listed under Settings → API tokens.",
        )

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        token, expires_at = issue_token(user, name)
        self.stdout.write(token)
        self.stderr.write(f"Expires {expires_at:%Y-%m-%d %H:%M} UTC.")
