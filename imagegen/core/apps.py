from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The shared foundations (imagegen.core): no models; installed for its management
    commands (``serve``, ``ensure_admin``)."""

    name = "imagegen.core"
    label = "core"
    verbose_name = "Core"
