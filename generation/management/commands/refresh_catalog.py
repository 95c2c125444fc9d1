from django.core.management.base import BaseCommand

from generation.tasks import refresh_catalog
from imagegen.providers import all_providers
from imagegen.providers.catalog import sync_builtin_catalog


class Command(BaseCommand):
    help = (
        "Reload the built-in model catalog, then refresh it from each provider's own model "
        "listing: new models are added disabled (an admin enables them), models a provider "
        "no longer lists are marked unavailable, deprecations, shutdown dates and prices are "
        "recorded. An admin's edits are kept; a provider that cannot be read changes nothing."
    )

    def add_arguments(self, parser):
        for provider in all_providers():
            if provider.requires_key:
                parser.add_argument(
                    f"--{provider.name}-key",
                    dest=f"key_{provider.name}",
                    help=f"{provider.label} key to list models with (else the team key, "
                    "else the environment variable)",
                )

    def handle(self, *args, **options):
        self.stdout.write(f"Built-in catalog: {sync_builtin_catalog()} models.")
        given = {
            name.removeprefix("key_"): value
            for name, value in options.items()
            if name.startswith("key_") and value
        }
        for line in refresh_catalog(given):
            self.stdout.write(line)
