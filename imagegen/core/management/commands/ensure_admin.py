from django.core.management.base import BaseCommand

from imagegen.core.accounts import ensure_initial_admin


class Command(BaseCommand):
    help = "Create the first administrator when no user exists (ADMIN_USERNAME/ADMIN_PASSWORD)."

    def handle(self, *args, **options):
        created = ensure_initial_admin()
        if created is None:
            return
        username, generated = created
        if generated:
            self.stdout.write(
                self.style.WARNING(
                    f"\nCreated administrator '{username}' with password: {generated}\n"
                    "It is shown only this once: log in and change it under Settings.\n"
                )
            )
        else:
            self.stdout.write(f"Created administrator '{username}' from ADMIN_USERNAME.")
