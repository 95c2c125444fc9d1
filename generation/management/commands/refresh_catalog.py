from django.core.management.base import BaseCommand

from imagegen.providers.catalog import sync_builtin_catalog
from imagegen.providers.catalog_refresh import refresh_catalog


class Command(BaseCommand):
    help = (
        "Reload the built-in model catalog, add OpenRouter's image models and refresh "
        "fal.ai prices (when reachable)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fal-key", help="fal.ai key to read prices with (else FAL_KEY)")
        parser.add_argument("--openrouter-key", help="OpenRouter key (else OPENROUTER_API_KEY)")

    def handle(self, *args, fal_key=None, openrouter_key=None, **options):
        self.stdout.write(f"Built-in catalog: {sync_builtin_catalog()} models.")
        for line in refresh_catalog(fal_key=fal_key, openrouter_key=openrouter_key):
            self.stdout.write(line)
