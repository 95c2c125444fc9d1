from django.core.management.base import BaseCommand

from generation.recovery import recover_stale_generations


class Command(BaseCommand):
    help = "Re-queue or fail generations whose worker died, and start waiting ones."

    def add_arguments(self, parser):
        parser.add_argument(
            "--at-start",
            action="store_true",
            help="As run by `serve` at start-up: say something only when "
            "generations were recovered.",
        )

    def handle(self, *args, at_start=False, **options):
        counts = recover_stale_generations()
        if not at_start:
            self.stdout.write(", ".join(f"{k}: {v}" for k, v in counts.items()))
        elif any(counts.values()):
            self.stdout.write(f"Recovered generations left by a previous run: {counts}")
