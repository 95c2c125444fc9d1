from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared foundations (imagegen.core): the audit trail's one model (``AuditEntry``,
    imagegen/core/models.py; written by ``imagegen.core.audit.record``) and its hooks on
    Django's own signals (sign-in, users and groups, the admin's log), and the management
    commands (``serve``, ``ensure_admin``)."""

    name = "imagegen.core"
    label = "core"
    verbose_name = "Core"

    def ready(self):
        # Deferred (import time): the receivers need the models loaded.
        from imagegen.core import audit_hooks

        audit_hooks.connect()
