"""Per-user preferences."""

from django.conf import settings
from django.db import models


class Theme(models.TextChoices):
    DARK = "dark", "Dark"
    LIGHT = "light", "Light"
    SYSTEM = "system", "Follow the system"


class Preferences(models.Model):
    """How one user likes to work; created on first use with the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.DARK)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self):
        return f"Preferences of {self.user}"

    @classmethod
    def for_user(cls, user) -> "Preferences":
        """The user's preferences, created with defaults when missing."""
        prefs, _ = cls.objects.get_or_create(user=user)
        return prefs
