"""The model catalog's table: what each provider's models accept and cost.

Its rows belong to the ``generation`` app (app label, table ``generation_catalogmodel``, admin
pages and permissions unchanged since before this package existed); the class lives here so
that the providers package reads the catalog without importing any app above it. Django
registers it when ``generation.models`` imports it.
"""

from django.db import models


class PriceUnit(models.TextChoices):
    IMAGE = "image", "per image"
    MEGAPIXEL = "megapixel", "per megapixel (rounded up)"
    SECOND = "second", "per second of hardware time"
    TOKEN = "token", "per token (see the table)"
    REQUEST = "request", "per request"


class CatalogModel(models.Model):
    """One model a cloud provider offers: what it accepts and what it costs.

    Built-in rows come from imagegen/providers/catalog.json (synced after every migrate without
    touching what an admin changed: enabled, display name, price override); an admin may add
    custom rows for any Replicate ``owner/name[:version]``, fal endpoint or OpenRouter model.
    """

    provider = models.CharField(max_length=32)
    model_id = models.CharField(max_length=200)
    display_name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True)
    builtin = models.BooleanField(default=False, editable=False)
    sort_order = models.PositiveSmallIntegerField(default=100)
    spec = models.JSONField(
        default=dict,
        blank=True,
        help_text="What the model accepts: sizes, steps, cfg_scale, max_images, options, "
        "inputs (unified → native names); see imagegen/providers/catalog.json "
        "for examples.",
    )
    price_unit = models.CharField(max_length=10, choices=PriceUnit.choices, blank=True)
    price_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    price_override_usd = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        help_text="Replaces the listed price in estimates when set.",
    )
    price_date = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "generation"
        ordering = ["provider", "sort_order", "model_id"]
        constraints = [
            models.UniqueConstraint(fields=["provider", "model_id"], name="catalog_unique_model")
        ]
        verbose_name = "catalog model"

    def __str__(self):
        return f"{self.provider}: {self.display_name}"

    @property
    def effective_price(self):
        return self.price_override_usd if self.price_override_usd is not None else self.price_usd
