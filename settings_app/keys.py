"""Which provider key a generation uses: the one contract between providers and key storage.

``resolve_api_key(user, provider)`` answers the key to call the provider with and where it
came from: the user's own stored key first, then the team key when an administrator allowed
this user (permission ``settings_app.use_team_keys``), then the single-user environment
variables (OPENAI_API_KEY, REPLICATE_API_TOKEN, FAL_KEY, OPENROUTER_API_KEY).
``record_key_use`` notes on the stored key that it was used; ``record_key_status`` what a
check (or a run) found out about it.
"""

import os
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from imagegen.core import audit
from imagegen.providers.base import KeyCheck, KeyStatus
from settings_app.models import ApiKey, TeamKey, TeamKeyUse

TEAM_KEY_PERMISSION = "settings_app.use_team_keys"

ENVIRONMENT_KEYS = {
    "openai": "OPENAI_API_KEY",
    "replicate": "REPLICATE_API_TOKEN",
    "fal": "FAL_KEY",
    "openrouter": "OPENROUTER_API_KEY",
}


class KeySource:
    USER = "user"
    TEAM = "team"
    ENVIRONMENT = "environment"
    NONE = ""


@dataclass(frozen=True)
class ResolvedKey:
    value: str
    source: str  # one of KeySource

    def __repr__(self):  # never print the secret
        return f"ResolvedKey(source={self.source!r})"

    __str__ = __repr__


def resolve_api_key(user, provider_name: str) -> ResolvedKey | None:
    """The key this user's generations with this provider use, or None when there is none."""
    own = (
        ApiKey.objects.filter(user=user, provider=provider_name)
        .values_list("secret", flat=True)
        .first()
    )
    if own:  # None when the row is missing or no longer decrypts
        return ResolvedKey(value=own, source=KeySource.USER)
    if may_use_team_keys(user):
        team = (
            TeamKey.objects.filter(provider=provider_name).values_list("secret", flat=True).first()
        )
        if team:
            return ResolvedKey(value=team, source=KeySource.TEAM)
    variable = ENVIRONMENT_KEYS.get(provider_name)
    if variable:
        value = os.environ.get(variable, "").strip()
        if value:
            return ResolvedKey(value=value, source=KeySource.ENVIRONMENT)
    return None


def site_key(provider_name: str) -> str | None:
    """The site's own key for a provider, used where no user is asking (the catalog refresh):
    the team key an administrator stored, else the environment variable; the order
    ``resolve_api_key`` falls back on after a user's own key. Never logged."""
    team = TeamKey.objects.filter(provider=provider_name).values_list("secret", flat=True).first()
    if team:  # None when the row is missing or no longer decrypts
        return team
    variable = ENVIRONMENT_KEYS.get(provider_name)
    value = os.environ.get(variable, "").strip() if variable else ""
    return value or None


def has_usable_key(user, provider) -> bool:
    """Whether the user can run this provider: it needs no key, or they have one to use."""
    return not provider.requires_key or resolve_api_key(user, provider.name) is not None


def missing_key_message(provider_label: str) -> str:
    """What to tell a user who has no usable key for a provider."""
    return (
        f"No API key for {provider_label}: add one under Settings → Provider keys, "
        f"or ask an administrator for access to the team key."
    )


def may_use_team_keys(user) -> bool:
    """Whether an administrator allowed this user to fall back on the team keys."""
    return bool(user and user.is_active and user.has_perm(TEAM_KEY_PERMISSION))


def record_key_use(user, provider_name: str, source: str) -> None:
    """Note that a stored key was used. Environment keys have no stored row to update."""
    now = timezone.now()
    if source == KeySource.USER:
        ApiKey.objects.filter(user=user, provider=provider_name).update(last_used_at=now)
    elif source == KeySource.TEAM:
        TeamKey.objects.filter(provider=provider_name).update(last_used_at=now)
        note_team_first_use(user, provider_name)


def note_team_first_use(user, provider_name: str) -> None:
    """The audit entry of this user's first use of the team key for this provider: written
    by whichever call inserts their TeamKeyUse row (one per user and stored team key;
    replacing the key's value keeps its row)."""
    team = TeamKey.objects.filter(provider=provider_name).values_list("pk", flat=True).first()
    if team is None or user is None:
        return
    if TeamKeyUse.objects.filter(user=user, team_key_id=team).exists():
        return  # the usual case: no insert that fails (and logs an error on PostgreSQL)
    try:
        with transaction.atomic():
            TeamKeyUse.objects.create(user=user, team_key_id=team)
            audit.record(
                "key.team_first_use",
                actor=user,
                object_type=TeamKey._meta.label_lower,
                object_id=team,
                object_label=f"Team {provider_name} key",
                details={"provider": provider_name},
            )
    except IntegrityError:
        return  # used before (or by a concurrent call that inserted first)


def record_key_status(user, provider_name: str, source: str, status, message: str) -> None:
    """Store what was learned about a stored key (environment keys have no row)."""
    fields = {
        "last_test_ok": status in (KeyStatus.VALID, KeyStatus.RESTRICTED),
        "last_test_status": str(status),
        "last_test_message": message[:500],
        "last_test_at": timezone.now(),
    }
    if source == KeySource.USER:
        ApiKey.objects.filter(user=user, provider=provider_name).update(**fields)
    elif source == KeySource.TEAM:
        TeamKey.objects.filter(provider=provider_name).update(**fields)


def _stored_keys(user, provider_name: str, source: str):
    """The stored row(s) a resolved key came from (none for an environment key)."""
    if source == KeySource.USER:
        return ApiKey.objects.filter(user=user, provider=provider_name)
    if source == KeySource.TEAM:
        return TeamKey.objects.filter(provider=provider_name)
    return ApiKey.objects.none()


def record_key_restricted(
    user, provider_name: str, source: str, message: str, model: str = ""
) -> None:
    """A run learned that the provider accepts this key but not for the model it asked for
    (e.g. OpenAI's organisation verification): the key's status says so, and keeps saying
    so through later checks (which cannot see it) until that model succeeds with the key or
    the key is replaced. ``message`` is the generation's failure text, already cleaned of
    the key by the provider (errors.clean)."""
    record_key_status(user, provider_name, source, KeyStatus.RESTRICTED, message)
    _stored_keys(user, provider_name, source).update(
        restricted_model=model[:200], restriction=message[:500], restricted_at=timezone.now()
    )


def with_known_restriction(user, provider_name: str, source: str, check: KeyCheck) -> KeyCheck:
    """A check's answer, with what a run learned about the key added: a check that finds
    the key valid cannot see that a model is refused to it (OpenAI's models list shows
    models an unverified organisation still may not use)."""
    if check.status != KeyStatus.VALID:
        return check
    known = (
        _stored_keys(user, provider_name, source)
        .exclude(restriction="")
        .values("restricted_model", "restriction", "restricted_at")
        .first()
    )
    if not known:
        return check
    when = timezone.localtime(known["restricted_at"]).date().isoformat()
    model = known["restricted_model"] or "a model"
    return KeyCheck(
        KeyStatus.RESTRICTED,
        f"{check.message} But a run with {model} was refused on {when}: {known['restriction']}",
    )


def clear_key_restriction(user, provider_name: str, source: str, model: str) -> None:
    """That model just succeeded with this key: what a run learned no longer holds."""
    _stored_keys(user, provider_name, source).filter(restricted_model=model).update(
        restricted_model="", restriction="", restricted_at=None
    )
