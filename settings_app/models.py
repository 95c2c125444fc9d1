"""Per-user preferences, provider keys (the user's own and the team's) and named API tokens;
the authenticator apps of two-factor sign-in are in ``settings_app/devices.py``."""

import contextlib
import functools
import zoneinfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from imagegen.core.crypto import EncryptedSecretField
from imagegen.core.permissions import CHANGE, DELETE, VIEW, PermissionQuerySet
from imagegen.providers import all_providers, get_provider
from imagegen.providers.base import KeyStatus
from imagegen.providers.models import CatalogModel
from projects.models import Project
from settings_app.devices import TotpDevice  # noqa: F401  (a model of this app: load it here)

# The cloud providers that need a key. Kept here as well as in the provider registry so key
# storage validates names even before a provider module is installed.
CLOUD_PROVIDERS = ("openai", "replicate", "fal", "openrouter")
PROVIDER_LABELS = {
    "openai": "OpenAI",
    "replicate": "Replicate",
    "fal": "fal.ai",
    "openrouter": "OpenRouter",
}


class Theme(models.TextChoices):
    """The page themes a user may choose."""

    DARK = "dark", "Dark"
    LIGHT = "light", "Light"
    SYSTEM = "system", "Follow the system"


def default_items_per_page() -> int:
    """ITEMS_PER_PAGE, read when a row is created (not frozen into the migration)."""
    return settings.ITEMS_PER_PAGE


def default_steps() -> int:
    """DEFAULT_STEPS, read when a row is created."""
    return settings.DEFAULT_STEPS


def default_cfg_scale() -> float:
    """DEFAULT_CFG_SCALE, read when a row is created."""
    return settings.DEFAULT_CFG_SCALE


def validate_time_zone(value: str) -> None:
    """An IANA time zone name this server knows (blank means the team's TIME_ZONE)."""
    if value and value not in available_time_zones():
        raise ValidationError(
            f"Unknown time zone {value!r}; use an IANA name such as Europe/Paris.",
            code="invalid",
        )


@functools.cache
def available_time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class Preferences(models.Model):
    """How one user likes to work; created on first use with the defaults."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preferences"
    )
    default_provider = models.CharField(
        max_length=50, blank=True, help_text="Empty: the built-in offline provider."
    )
    default_model = models.CharField(
        max_length=200, blank=True, help_text="Empty: the provider's default model."
    )
    default_width = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(64), MaxValueValidator(4096)]
    )
    default_height = models.PositiveIntegerField(
        default=1024, validators=[MinValueValidator(64), MaxValueValidator(4096)]
    )
    default_steps = models.PositiveIntegerField(
        default=default_steps, validators=[MinValueValidator(1), MaxValueValidator(500)]
    )
    default_cfg_scale = models.FloatField(
        default=default_cfg_scale,
        validators=[MinValueValidator(0), MaxValueValidator(50)],
        verbose_name="default CFG scale",
    )
    default_num_images = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(4)],
        verbose_name="default images per request",
    )
    theme = models.CharField(max_length=10, choices=Theme.choices, default=Theme.DARK)
    items_per_page = models.PositiveSmallIntegerField(
        default=default_items_per_page, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    shortcuts_enabled = models.BooleanField(default=True, verbose_name="keyboard shortcuts")
    default_project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    time_zone = models.CharField(
        max_length=64,
        blank=True,
        validators=[validate_time_zone],
        help_text="Days on the dashboard and times on pages (your limits always count the "
        "team's days and months); empty: the team's time zone (TIME_ZONE).",
    )
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

    @classmethod
    def from_db(cls, db, field_names, values):
        prefs = super().from_db(db, field_names, values)
        # The saved default as read: a model the provider retired since is not an error in
        # a save that leaves it alone (generation falls back to the provider's default).
        prefs._saved_default = (
            prefs.__dict__.get("default_provider"),
            prefs.__dict__.get("default_model"),
        )
        return prefs

    def clean(self):
        """Check the provider, model and project against what this user may choose."""
        errors = {}
        if self.default_provider:
            provider = get_provider(self.default_provider)
            known = self.default_provider in CLOUD_PROVIDERS or provider is not None
            if not known:
                errors["default_provider"] = (
                    f"Unknown provider {self.default_provider!r}; choose one of: "
                    f"{', '.join(provider_names())}."
                )
            elif (
                self.default_model
                and provider is not None
                and provider.get_model(self.default_model) is None
                and (self.default_provider, self.default_model)
                != getattr(self, "_saved_default", None)
            ):
                models_text = ", ".join(m.id for m in provider.models())
                errors["default_model"] = (
                    f"{provider.label} has no model {self.default_model!r}; "
                    f"available: {models_text}."
                )
        elif self.default_model:
            errors["default_model"] = "Choose a default provider before a default model."
        writable = Project.objects.for_user(self.user, "contribute")
        if (
            self.default_project_id is not None
            and not writable.filter(pk=self.default_project_id).exists()
        ):
            errors["default_project"] = "No such project."
        if errors:
            raise ValidationError(errors)


def time_zone_for(user) -> zoneinfo.ZoneInfo:
    """The zone this user's days are shown in (the dashboard, times on pages): their choice,
    else the team's TIME_ZONE. Never for quotas, which count the team's days and months
    (generation.usage.budgets): a zone the user chooses must not move a limit."""
    chosen = ""
    if user is not None and user.is_authenticated:
        # Cached on the user: the context processor reads the same row.
        with contextlib.suppress(Preferences.DoesNotExist):
            chosen = user.preferences.time_zone
    if chosen and chosen in available_time_zones():
        return zoneinfo.ZoneInfo(chosen)
    return timezone.get_default_timezone()


def items_per_page_for(user) -> int:
    """The list page size this user chose, ITEMS_PER_PAGE when they have not."""
    if user is None or not user.is_authenticated:
        return settings.ITEMS_PER_PAGE
    chosen = Preferences.objects.filter(user=user).values_list("items_per_page", flat=True)
    return chosen.first() or settings.ITEMS_PER_PAGE


def provider_names() -> list[str]:
    """Every provider name a preference or key may name: the registry's and the cloud four."""
    names = [p.name for p in all_providers()]
    return names + [n for n in CLOUD_PROVIDERS if n not in names]


# A key check's status in words (KeyStatus values, imagegen/providers/base.py).
KEY_STATUS_WORDS = {
    KeyStatus.VALID: "works",
    KeyStatus.RESTRICTED: "works, not with every model",
    KeyStatus.UNVERIFIED: "could not be verified",
    KeyStatus.INVALID: "refused",
    KeyStatus.NO_CREDIT: "no credit left",
}


def mask(last4: str) -> str:
    """How a stored key is shown: never more than its last four characters."""
    return f"••••{last4}" if last4 else "••••"


class StoredKey(models.Model):
    """What a user key and a team key share: the encrypted value and its bookkeeping."""

    provider = models.CharField(max_length=50)
    secret = EncryptedSecretField()
    last4 = models.CharField(max_length=4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_test_ok = models.BooleanField(null=True, editable=False)
    # What the last check (or a run that learned something about the key) found: a
    # KeyStatus value (valid, invalid, restricted, unverified, no_credit).
    last_test_status = models.CharField(max_length=16, blank=True, editable=False)
    last_test_message = models.CharField(max_length=500, blank=True, editable=False)
    last_test_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What a run learned that a check cannot see (OpenAI's "organization must be verified to
    # use the model …" comes only from a generation): kept through later checks until that
    # model succeeds with this key or the key is replaced.
    restricted_model = models.CharField(max_length=200, blank=True, editable=False)
    restriction = models.CharField(max_length=500, blank=True, editable=False)
    restricted_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def masked(self) -> str:
        return mask(self.last4)

    @property
    def last_test(self) -> dict | None:
        if self.last_test_at is None:
            return None
        return {
            "ok": self.last_test_ok,
            "status": self.last_test_status or None,
            "label": KEY_STATUS_WORDS.get(self.last_test_status, ""),
            "message": self.last_test_message,
            "at": self.last_test_at,
        }

    def set_secret(self, plaintext: str) -> None:
        """Replace the stored value (encrypted on save) and its masked tail."""
        self.secret = plaintext
        self.last4 = plaintext[-4:]
        self.last_test_ok, self.last_test_message, self.last_test_at = None, "", None
        self.last_test_status = ""
        self.restricted_model, self.restriction, self.restricted_at = "", "", None


class ApiKeyQuerySet(PermissionQuerySet):
    actions = (VIEW, CHANGE, DELETE)

    def _scope(self, user, action):
        """Keys the user may see, change and delete: only their own."""
        return self.filter(user=user)


class ApiKey(StoredKey):
    """One user's key for one provider, encrypted at rest; the plaintext is write-only."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        ordering = ["provider"]
        verbose_name = "provider key"
        constraints = [
            models.UniqueConstraint(fields=["user", "provider"], name="apikey_one_per_provider")
        ]

    def __str__(self):
        # No part of the key: this is the admin's LogEntry label and the audit trail's
        # (the admin shows the masked tail in its own "masked" column).
        return f"{self.provider} key of {self.user}"


class TeamKey(StoredKey):
    """The team-wide key for one provider, set by an administrator; used by members who have
    the ``use_team_keys`` permission and no key of their own."""

    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )

    class Meta:
        ordering = ["provider"]
        constraints = [
            models.UniqueConstraint(fields=["provider"], name="teamkey_one_per_provider")
        ]
        permissions = [("use_team_keys", "May use the team's provider keys")]

    def __str__(self):
        # No part of the key (see ApiKey.__str__).
        return f"Team {self.provider} key"


class TeamKeyUse(models.Model):
    """That a user has used a team key: the row a first use inserts, so the audit trail's
    "used as a team key for the first time" is written once per user and key, even when
    several of their generations start at the same moment (the unique constraint decides)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    team_key = models.ForeignKey(TeamKey, on_delete=models.CASCADE, related_name="uses")
    first_used_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "team_key"], name="teamkeyuse_once")]

    def __str__(self):
        return f"{self.user} uses {self.team_key.provider}"


class NamedTokenQuerySet(PermissionQuerySet):
    actions = (VIEW, DELETE)

    def _scope(self, user, action):
        """Tokens the user may see and revoke (delete): only their own."""
        return self.filter(token__user=user)


class NamedToken(models.Model):
    """A name for one API token (django-rest-knox); revoking deletes the token and this row."""

    token = models.OneToOneField("knox.AuthToken", on_delete=models.CASCADE, related_name="named")
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    requests_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Requests this token may make per minute (API and /v1 gateway); blank: no limit.",
    )
    # The current one-minute window of the rate limit and the requests counted in it.
    window_start = models.DateTimeField(null=True, blank=True, editable=False)
    window_count = models.PositiveIntegerField(default=0, editable=False)

    objects = NamedTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


def policy_lines(text: str) -> list[str]:
    """The non-empty lines of an allow-list field, stripped, in order, without repeats."""
    lines = []
    for line in (text or "").splitlines():
        line = line.strip()
        if line and line not in lines:
            lines.append(line)
    return lines


class GroupPolicy(models.Model):
    """What a Django group's members may use and how much (docs/identity.md, "Groups and
    permissions"): allowed providers and models, default budgets, how many generations they
    may run and queue. A member's effective limits are the most generous of their groups'
    policies unless an administrator set a per-user value
    (``generation.usage.policy.effective_limits``). Whether members may use the team keys is
    the group's ``settings_app.use_team_keys`` permission, not a field here (one source of
    truth; the admin inline shows it as a checkbox)."""

    # The values an administrator sets (the admin's inline; the audit trail's before/after).
    FIELDS = (
        "allowed_providers",
        "allowed_models",
        "monthly_budget_usd",
        "daily_image_limit",
        "unlimited",
        "max_running",
        "max_queued",
    )

    group = models.OneToOneField("auth.Group", on_delete=models.CASCADE, related_name="policy")
    allowed_providers = models.TextField(
        blank=True,
        help_text="Provider names members may use, one per line (openai, replicate, fal, "
        "openrouter, offline, comfyui, a1111, openai_compatible). Empty: every provider.",
    )
    allowed_models = models.TextField(
        blank=True,
        help_text="Models members may use, one per line as provider/model id "
        "(openai/gpt-image-2). Empty: every model of the allowed providers.",
    )
    monthly_budget_usd = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        verbose_name="monthly budget (USD)",
        help_text="Each member's spend per calendar month; empty: DEFAULT_MONTHLY_BUDGET_USD.",
    )
    daily_image_limit = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Images each member may make per day; empty: DEFAULT_DAILY_IMAGE_LIMIT.",
    )
    unlimited = models.BooleanField(
        default=False,
        help_text="No monthly budget and no daily image limit for members, whatever the "
        "fields above and the defaults say.",
    )
    max_running = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        verbose_name="generations running at once",
        help_text="Per member; more wait queued. Empty: GENERATION_MAX_CONCURRENT.",
    )
    max_queued = models.PositiveIntegerField(
        null=True,
        blank=True,
        verbose_name="generations queued or running at once",
        help_text="Per member; a submission past it is refused. 0: no cap. Empty: "
        "MAX_QUEUED_GENERATIONS_PER_USER.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "group policy"
        verbose_name_plural = "group policy"

    def __str__(self):
        return f"Policy of {self.group}"

    @property
    def providers(self) -> list[str]:
        return policy_lines(self.allowed_providers)

    @property
    def models(self) -> list[tuple[str, str]]:
        """(provider, model id) pairs; a model id may itself contain "/"."""
        return [tuple(line.split("/", 1)) for line in policy_lines(self.allowed_models)]

    def allows(self, provider: str, model: str) -> bool:
        """Whether this policy lets its members use the provider's model."""
        providers, models_ = self.providers, self.models
        if providers and provider not in providers:
            return False
        return not models_ or (provider, model) in models_

    def allows_provider(self, provider: str) -> bool:
        """Whether some model of the provider may be allowed by this policy."""
        providers, models_ = self.providers, self.models
        if providers and provider not in providers:
            return False
        return not models_ or any(p == provider for p, _ in models_)

    def models_not_in_catalog(self) -> list[str]:
        """The allowed models ("provider/model") the catalog does not hold, of providers it
        holds models of: most likely misspelt, since a member can use a model only once the
        catalog has it. Not an error: a model may be added to the catalog later. Providers
        the catalog holds nothing of (a self-hosted backend's own list) are not checked."""
        wanted = self.models
        if not wanted:
            return []
        providers = {provider for provider, _ in wanted}
        listed: dict[str, set[str]] = {}
        rows = CatalogModel.objects.filter(provider__in=providers).values_list(
            "provider", "model_id"
        )
        for provider, model_id in rows:
            listed.setdefault(provider, set()).add(model_id)
        return [
            f"{provider}/{model}"
            for provider, model in wanted
            if provider in listed and model not in listed[provider]
        ]

    def clean(self):
        errors = {}
        known = provider_names()
        unknown = [name for name in self.providers if name not in known]
        if unknown:
            errors["allowed_providers"] = (
                f"Unknown provider {', '.join(unknown)}; use one of: {', '.join(known)}."
            )
        bad = []
        for line in policy_lines(self.allowed_models):
            provider, _, model = line.partition("/")
            if not model or provider not in known:
                bad.append(line)
            elif self.providers and provider not in self.providers:
                errors.setdefault(
                    "allowed_models",
                    f"{line}: its provider {provider} is not among the allowed providers.",
                )
        if bad:
            errors["allowed_models"] = (
                f"Write each model as provider/model id (openai/gpt-image-1): {', '.join(bad)}."
            )
        if errors:
            raise ValidationError(errors)


def restricting_policies(user) -> tuple["GroupPolicy", ...]:
    """The policies of the user's groups that restrict which models they use, by group name;
    none for a superuser (every model) or a user in no group with a policy."""
    if user.is_superuser:
        return ()
    return tuple(
        GroupPolicy.objects.filter(group__user=user).select_related("group").order_by("group__name")
    )


def policies_allow(policies, provider: str, model: str) -> bool:
    """Whether ``policies`` (of ``restricting_policies``) let their user use the model: the
    union of the groups' allow-lists; no policy restricts nothing."""
    return not policies or any(policy.allows(provider, model) for policy in policies)


class OidcIdentity(models.Model):
    """The link between a studio account and one OpenID Connect identity, the provider's
    (issuer, subject) pair: the only way a sign-in finds its account (never the email).
    ``synced_groups`` are the groups the last sign-in's claim set, the only memberships a
    later sign-in may remove."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_identities"
    )
    issuer = models.CharField(max_length=255)
    subject = models.CharField(max_length=255)
    synced_groups = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="oidc_identity_unique"),
            # One identity of a provider per account (settings_app.oidc.linking).
            models.UniqueConstraint(fields=["user", "issuer"], name="oidc_identity_one_per_user"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.subject}"
