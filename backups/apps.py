from django.apps import AppConfig


class BackupsConfig(AppConfig):
    """`manage.py backup` and `manage.py restore`: the database plus the stored files."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "backups"
