"""The usage ledger: a daily rollup of finished generations, the spend of paid calls that are
not generations (SpendEntry: prompt enhancement), and the budgets checked at submission.

The tables belong to the ``dashboard`` app (app label, table names, migrations, admin pages
and permissions as before); the classes live with the submission because the budget and
quota check that gates a submission reads them (``generation.usage.budgets``), and the
dashboard, above, only reads figures. Django registers them when ``generation.models``
imports this module.
"""

from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

# Upper bounds (ms) of the provider-latency histogram buckets; the last bucket is open.
LATENCY_BUCKETS_MS = (
    250,
    500,
    1_000,
    1_500,
    2_000,
    3_000,
    4_000,
    5_000,
    7_500,
    10_000,
    15_000,
    20_000,
    30_000,
    45_000,
    60_000,
    90_000,
    120_000,
    180_000,
    300_000,
    None,
)
LATENCY_FIELDS = tuple(f"latency_b{index:02d}" for index in range(len(LATENCY_BUCKETS_MS)))
MICROS = Decimal("1000000")


class DailyUsage(models.Model):
    """Finished generations of one local day, owner, project, provider, model, operation and
    failure kind, added up. Kept current by ``generation.usage.rollup``; every dashboard figure
    but the live ones is read from here.

    Uploads (generations of operation "upload", docs/image-operations.md) have rows of their
    own (provider, model and operation "upload") that count only ``uploads`` and
    ``image_bytes``: they are no generations, spend nothing and make no images for the daily
    limit, but their bytes are storage."""

    day = models.DateField()
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # A plain id, 0 for "no project": a deleted project keeps its history, and the unique
    # key never contains NULL (NULLs are distinct, which would break the upsert).
    project_id = models.PositiveBigIntegerField(default=0)
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    # "" for succeeded and canceled generations; a generation.usage.failures kind for failed ones.
    failure_kind = models.CharField(max_length=24, blank=True)
    # What the generations did (generation.models.OperationChoice): generate, edit, inpaint,
    # outpaint, upscale, remove_background, or upload.
    operation = models.CharField(max_length=20, default="generate")

    generations = models.PositiveIntegerField(default=0)
    succeeded = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    canceled = models.PositiveIntegerField(default=0)
    images = models.PositiveIntegerField(default=0)
    # Images uploaded (not made: never counted in ``images``).
    uploads = models.PositiveIntegerField(default=0)
    # Bytes of the images made and uploaded: storage.
    image_bytes = models.PositiveBigIntegerField(default=0)
    # Spend of succeeded generations in millionths of a dollar (exact sums on every database):
    # reported by the provider, or only estimated.
    spend_reported_micros = models.BigIntegerField(default=0)
    spend_estimated_micros = models.BigIntegerField(default=0)
    # Provider latency (finished_at - started_at) of succeeded generations.
    latency_count = models.PositiveIntegerField(default=0)
    latency_sum_ms = models.PositiveBigIntegerField(default=0)
    latency_max_ms = models.PositiveBigIntegerField(default=0)
    # GPU time of the generations that ran on the team's own GPUs (self-hosted providers:
    # Generation.gpu_seconds), succeeded or not (a failed or canceled job held the GPU too;
    # only its spend is not counted), in whole milliseconds (exact sums on every database,
    # as spend is kept in micros; ``generation.usage.rollup.to_gpu_ms``).
    gpu_ms = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "dashboard"
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "owner",
                    "project_id",
                    "provider",
                    "model",
                    "operation",
                    "failure_kind",
                ],
                name="dailyusage_unique_key",
            )
        ]
        indexes = [
            models.Index(fields=["owner", "day"], name="dailyusage_owner_day"),
            models.Index(fields=["project_id", "day"], name="dailyusage_project_day"),
        ]

    def __str__(self):
        return f"{self.day} {self.owner_id} {self.provider}/{self.model}"


# One counter per latency bucket (latency_b00 … latency_b19), summed by SQL like the others.
for _field in LATENCY_FIELDS:
    DailyUsage.add_to_class(_field, models.PositiveIntegerField(default=0))


class RolledUpGeneration(models.Model):
    """Marks a generation as counted in DailyUsage, so a repeated call never counts it twice,
    and keeps what it was counted with: the images it made, which the gallery may delete
    later. Figures over days that are not the team's (another time zone) are added up from
    the generations and these, so they agree with the rollup."""

    generation = models.OneToOneField(
        "generation.Generation",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="rollup_marker",
    )
    images = models.PositiveIntegerField(default=0)
    image_bytes = models.PositiveBigIntegerField(default=0)

    class Meta:
        app_label = "dashboard"

    def __str__(self):
        return f"Rolled up {self.generation_id}"


class SpendEntry(models.Model):
    """One paid call that is not a generation (a prompt enhancement; later the gateway or a
    comparison), counted against the monthly budgets with the generations' spend.

    ``generation.usage.gate.reserve_spend`` writes it with the call's estimate before the call
    (``settled`` False: it counts as running), and ``settle_spend`` replaces the estimate with
    the cost the call reported once it answers (``cost_is_estimate`` stays True when the
    provider did not say)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=32, help_text="What was paid for: prompt_enhance.")
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6)
    cost_is_estimate = models.BooleanField(default=True)
    settled = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        app_label = "dashboard"
        verbose_name_plural = "spend entries"
        indexes = [
            models.Index(fields=["owner", "created_at"], name="spendentry_owner_created"),
            models.Index(fields=["created_at"], name="spendentry_created"),
        ]

    def __str__(self):
        return f"{self.kind} {self.owner_id} {self.provider}/{self.model} ${self.cost_usd}"


class UserBudget(models.Model):
    """One user's limits set by an administrator; a missing row or an empty field means the
    most generous of the user's groups' policies, else the settings' default
    (``generation.usage.policy.effective_limits`` reads them all)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="budget"
    )
    monthly_budget_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Spend per calendar month; empty: the most of the user's groups, else "
        "DEFAULT_MONTHLY_BUDGET_USD.",
    )
    daily_image_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Images per day; empty: the most of the user's groups, else "
        "DEFAULT_DAILY_IMAGE_LIMIT.",
    )
    unlimited = models.BooleanField(
        default=False,
        help_text="No monthly budget and no daily image limit for this user, whatever their "
        "groups and the defaults say.",
    )
    max_running = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="generations running at once",
        help_text="More wait queued. Empty: the most of the user's groups, else "
        "GENERATION_MAX_CONCURRENT.",
    )
    max_queued = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="generations queued or running at once",
        help_text="A submission past it is refused; 0: no cap. Empty: the most of the user's "
        "groups, else MAX_QUEUED_GENERATIONS_PER_USER.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "dashboard"

    def __str__(self):
        return f"Budget of {self.user}"

    @classmethod
    def for_user(cls, user) -> "UserBudget":
        """The user's budget row, or an unsaved one carrying the defaults."""
        return cls.objects.filter(user=user).first() or cls(user=user)


class TeamBudget(models.Model):
    """The team-wide monthly budget: a single row (pk 1); its row is also the lock that
    serialises submissions checked against it."""

    monthly_budget_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Spend of the whole team per calendar month; empty: TEAM_MONTHLY_BUDGET_USD.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "dashboard"
        verbose_name = "team budget"

    def __str__(self):
        return "Team budget"

    def save(self, *args, **kwargs):
        self.pk = 1
        super().save(*args, **kwargs)

    def monthly_limit(self) -> Decimal | None:
        """The team's monthly spend limit in USD, or None for unlimited."""
        if self.monthly_budget_usd is not None:
            return self.monthly_budget_usd
        return settings.TEAM_MONTHLY_BUDGET_USD

    @classmethod
    def current(cls) -> "TeamBudget":
        """The singleton row, or an unsaved one carrying the setting."""
        return cls.objects.filter(pk=1).first() or cls(pk=1)
