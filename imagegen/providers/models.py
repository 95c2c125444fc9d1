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


class CatalogSource(models.TextChoices):
    BUILTIN = "builtin", "built in (catalog.json)"
    LISTED = "listed", "listed by the provider (refresh_catalog)"
    CUSTOM = "custom", "added by an admin"


class CatalogModel(models.Model):
    """One model a cloud provider offers: what it accepts and what it costs.

    Built-in rows come from imagegen/providers/catalog.json (synced after every migrate without
    touching what an admin changed: enabled, display name, price override); ``refresh_catalog``
    adds the models a provider newly lists (disabled until an admin enables them) and marks the
    ones it stopped listing unavailable; an admin may add custom rows for any Replicate
    ``owner/name[:version]``, fal endpoint or OpenRouter model.

    Who owns what: an admin owns ``enabled``, ``display_name``, ``price_override_usd``, the
    spec of a custom row or of a listed row they edited (``spec_edited``) and the price and
    unit of a custom row or of a listed row they edited (``price_edited``); the machine owns
    ``available``, ``deprecated``, ``shutdown_date``, ``source``, ``last_listed_at``,
    ``missing_since``, ``listed_schema`` and ``listing_note`` (read-only in the admin).
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
    # What the provider says of the model's life (catalog.json and refresh_catalog).
    available = models.BooleanField(
        default=True,
        help_text="The provider still offers it. An unavailable model is kept for history "
        "and never offered.",
    )
    deprecated = models.BooleanField(default=False)
    shutdown_date = models.DateField(
        null=True, blank=True, help_text="From this day on the model is no longer offered."
    )
    source = models.CharField(
        max_length=10, choices=CatalogSource.choices, default=CatalogSource.CUSTOM
    )
    last_listed_at = models.DateTimeField(
        null=True, blank=True, help_text="When a refresh last saw it in the provider's listing."
    )
    missing_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a complete listing of the provider first lacked it (it is then "
        "unavailable until a listing names it again).",
    )
    listed_schema = models.JSONField(
        null=True,
        blank=True,
        help_text="The provider's input schema for the model, as the last refresh read it.",
    )
    listing_note = models.CharField(
        max_length=500,
        blank=True,
        help_text="What the last refresh noticed, e.g. an input it cannot fill.",
    )
    spec_edited = models.BooleanField(
        default=False,
        help_text="An admin changed the spec of this listed model: refreshes keep their spec.",
    )
    price_edited = models.BooleanField(
        default=False,
        help_text="An admin changed the price or unit of this listed model: refreshes keep them.",
    )
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
