from django.apps import AppConfig


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self):
        from django.db.models.signals import post_migrate

        from generation import signals

        post_migrate.connect(signals.sync_catalog_after_migrate, sender=self)
