"""Model aliases of the /v1 gateway (docs/openai-gateway.md): a name a client sends as its
``model`` (``team-default``, ``fast``, ``gpt-image-1``) standing for one catalog model, so
that a client configured once keeps working when the team changes models."""

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from imagegen.core.permissions import VIEW, PermissionQuerySet
from imagegen.providers import get_provider

DEFAULT_ALIAS = "team-default"

name_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$",
    "Letters, digits and . _ : / - only, starting with a letter or digit.",
)


class ModelAliasQuerySet(PermissionQuerySet):
    actions = (VIEW,)

    def _scope(self, user, action):
        """Every signed-in user may read the aliases; whether the model behind one is theirs to
        use is the provider's and catalog's question, asked when it is resolved."""
        return self.all()


class ModelAlias(models.Model):
    name = models.CharField(
        max_length=100,
        unique=True,
        validators=[name_validator],
        help_text=(
            f"What clients send as model, e.g. {DEFAULT_ALIAS} (used when a request names no "
            "model), fast, gpt-image-1. An alias wins over a catalog model of the same name."
        ),
    )
    provider = models.CharField(max_length=32, help_text="The provider's name, e.g. fal, openai.")
    model = models.CharField(max_length=200, help_text="The provider's model id.")
    description = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ModelAliasQuerySet.as_manager()

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "model aliases"

    def __str__(self):
        return f"{self.name} → {self.provider}/{self.model}"

    def clean(self):
        provider = get_provider(self.provider)
        if provider is None:
            raise ValidationError({"provider": f"No provider is named {self.provider!r}."})
        if self.model and not any(spec.id == self.model for spec in provider.models()):
            raise ValidationError(
                {"model": f"{provider.label} offers no model {self.model!r} (or it is disabled)."}
            )
