from django.apps import AppConfig


class SettingsAppConfig(AppConfig):
    name = "settings_app"
    verbose_name = "Settings"

    def ready(self):
        # Deferred (import time): the receivers load once the models have.
        from settings_app import signals  # connects the credential receivers

        signals.track_audited_models()
