from django.core.management.base import BaseCommand

from generation.recovery import recover_stale_generations


class Command(BaseCommand):
    help = "Re-queue or fail generations whose worker died, and start waiting ones."

    def handle(self, *args, **options):
        counts = recover_stale_generations()
        self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
