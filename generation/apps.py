from django.apps import AppConfig
from django.db.models.signals import post_migrate

from imagegen.core import live


class GenerationConfig(AppConfig):
    name = "generation"
    verbose_name = "Generation"

    def ready(self):
        # Deferred (import time), as Django asks: receivers load once the models have.
        from generation import signals  # also connects the django-q2 signals

        # Deferred (import time): the live source and the built-in styles read models.
        from generation.live import generation_changes
        from generation.prompts.styles import sync_builtin_styles

        # Deferred (import time): settings_app.signals loads models.
        from settings_app.signals import user_deactivated

        post_migrate.connect(
            signals.sync_catalog_after_migrate, sender=self, dispatch_uid="generation.sync_catalog"
        )
        user_deactivated.connect(
            signals.cancel_generations_of_deactivated_user,
            dispatch_uid="generation.cancel_on_deactivation",
        )
        live.register_source("generation", generation_changes)
        signals.track_audited_models()
        post_migrate.connect(
            sync_builtin_styles, sender=self, dispatch_uid="generation.sync_builtin_styles"
        )
