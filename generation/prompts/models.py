"""Prompt tools' data: style presets and the prompts a user deleted from their history.

Imported at the bottom of ``generation/models.py`` so Django registers these models with the
``generation`` app. The history itself is derived from generations (``prompt_history.py``).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from imagegen.core.permissions import CHANGE, DELETE, VIEW, PermissionQuerySet
from projects.models import Project

PROMPT_PLACEHOLDER = "{prompt}"


class StylePresetQuerySet(PermissionQuerySet):
    actions = (VIEW, CHANGE, DELETE)

    def _scope(self, user, action):
        """view (see and use): built-in presets, the user's own, and presets shared into a
        project the user can see. change (also share) and delete: only their own."""
        if action in (CHANGE, DELETE):
            return self.filter(owner=user)
        return self.filter(
            Q(owner__isnull=True)
            | Q(owner=user)
            | Q(project__in=Project.objects.for_user(user, VIEW).values("pk"))
        )


class StylePreset(models.Model):
    """A prompt template (``{prompt}`` marks the user's text) with an optional negative
    prompt: built in (no owner, a ``key``) or a user's own, optionally shared into a project."""

    key = models.SlugField(max_length=50, null=True, blank=True, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="style_presets",
    )
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="style_presets",
    )
    name = models.CharField(max_length=100)
    template = models.TextField()
    negative_prompt = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    objects = StylePresetQuerySet.as_manager()

    class Meta:
        ordering = [models.F("owner").asc(nulls_first=True), "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="style_unique_name_per_owner")
        ]

    def __str__(self):
        return self.name

    @property
    def is_builtin(self) -> bool:
        return self.owner_id is None

    def apply(self, text: str) -> str:
        """The final prompt: the template with the user's text in place of ``{prompt}``."""
        return self.template.replace(PROMPT_PLACEHOLDER, text.strip()).strip()

    def combine_negative(self, negative: str) -> str:
        """The user's negative prompt followed by the style's, without empty parts."""
        parts = [part.strip() for part in (negative, self.negative_prompt) if part.strip()]
        return ", ".join(parts)


class HiddenPrompt(models.Model):
    """A prompt the user deleted from their history: generations made up to ``hidden_at``
    no longer list it; using the prompt again brings it back."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hidden_prompts"
    )
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    hidden_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["owner", "hidden_at"], name="hidden_prompt_owner")]

    def __str__(self):
        return f"hidden prompt of {self.owner_id}: {self.prompt[:40]}"
