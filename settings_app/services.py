"""Business actions on settings: store and remove provider keys, test them, update
preferences, issue and revoke named API tokens, end a user's sessions and tokens when their
credentials change, rotate the encryption key.

Views, the API, the admin and commands call these. No function here logs, returns or raises
with a key's plaintext in it.
"""

import logging
import time
import unicodedata
from dataclasses import dataclass
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import BinaryField, Value
from django.utils import timezone
from knox.models import AuthToken

from imagegen.core import audit
from imagegen.core.crypto import UndecryptableSecret, decrypt_text, encrypt_text
from imagegen.providers import all_providers, get_provider
from imagegen.providers.backends import Backend
from imagegen.providers.base import KeyCheck, KeyStatus
from settings_app.keys import (
    KeySource,
    may_use_team_keys,
    missing_key_message,
    record_key_status,
    resolve_api_key,
    with_known_restriction,
)
from settings_app.models import (
    CLOUD_PROVIDERS,
    KEY_STATUS_WORDS,
    PROVIDER_LABELS,
    ApiKey,
    NamedToken,
    Preferences,
    TeamKey,
    TotpDevice,
)

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 500
# What replacing a key changes (StoredKey.set_secret).
SECRET_FIELDS = [
    "secret",
    "last4",
    "last_test_ok",
    "last_test_status",
    "last_test_message",
    "last_test_at",
    "restricted_model",
    "restriction",
    "restricted_at",
]
PREFERENCE_FIELDS = [
    "default_provider",
    "default_model",
    "default_width",
    "default_height",
    "default_steps",
    "default_cfg_scale",
    "default_num_images",
    "theme",
    "items_per_page",
    "shortcuts_enabled",
    "default_project",
    "time_zone",
]


def _fail(field: str, message: str):
    raise ValidationError({field: [message]})


# --- Provider names -------------------------------------------------------------------------


def keyed_provider_names() -> list[str]:
    """Providers a key can be stored for: the cloud four plus any registered keyed provider."""
    names = list(CLOUD_PROVIDERS)
    names += [p.name for p in all_providers() if p.requires_key and p.name not in names]
    return names


def provider_label(name: str) -> str:
    """The provider's display name."""
    provider = get_provider(name)
    if provider is not None and provider.label:
        return provider.label
    return PROVIDER_LABELS.get(name, name)


def check_provider_name(name, field: str = "provider") -> str:
    """The name when keys can be stored for it; a ValidationError naming the choices if not."""
    names = keyed_provider_names()
    if not isinstance(name, str) or name not in names:
        provider = get_provider(name) if isinstance(name, str) else None
        if provider is not None and not provider.requires_key:
            _fail(field, f"{provider.label} needs no key.")
        _fail(field, f"Unknown provider {name!r}; choose one of: {', '.join(names)}.")
    return name


# --- Key format -----------------------------------------------------------------------------


def clean_key(provider: str, value) -> str:
    """The key with surrounding whitespace removed, or a ValidationError on ``api_key`` saying
    in words what is wrong with it. The message never repeats the key."""
    if not isinstance(value, str):
        _fail("api_key", "Give the key as text.")
    if not value:
        _fail("api_key", "Enter the key.")
    key = value.strip()
    if not key:
        _fail("api_key", "The key is only whitespace; paste the whole key.")
    if len(key) > MAX_KEY_LENGTH:
        _fail(
            "api_key",
            f"The key is {len(key)} characters long; at most "
            f"{MAX_KEY_LENGTH} are accepted. Check that you pasted only the key.",
        )
    if any(ch.isspace() for ch in key):
        _fail("api_key", "The key contains spaces or line breaks; paste it as one word.")
    if any(unicodedata.category(ch).startswith("C") for ch in key):
        _fail("api_key", "The key contains invisible control characters; paste it again.")
    if provider == "fal":
        key_id, sep, secret = key.partition(":")
        if not sep or not key_id or not secret or ":" in secret:
            _fail(
                "api_key",
                "A fal.ai key looks like key_id:key_secret (two parts joined by "
                "one colon); copy the whole key from the fal dashboard.",
            )
    return key


# --- User keys ------------------------------------------------------------------------------


def save_api_key(user, provider: str, api_key) -> tuple[ApiKey, bool]:
    """Store or replace the user's key for the provider (encrypted); returns (key, created)."""
    check_provider_name(provider)
    plaintext = clean_key(provider, api_key)
    with transaction.atomic():
        stored = ApiKey.objects.select_for_update().filter(user=user, provider=provider).first()
        created = stored is None
        if created:
            stored = ApiKey(user=user, provider=provider)
        stored.set_secret(plaintext)
        stored.save(update_fields=None if created else [*SECRET_FIELDS, "updated_at"])
        record_key_change(stored, created, actor=user)
    logger.info("user %s %s their %s key", user.pk, "added" if created else "replaced", provider)
    return stored, created


def delete_api_key(user, provider: str) -> bool:
    """Remove the user's key for the provider; False when there was none."""
    with transaction.atomic():
        stored = ApiKey.objects.select_for_update().filter(user=user, provider=provider).first()
        if stored is None:
            return False
        record_key_deletion(stored, actor=user)
        stored._audit_recorded = True  # the post_delete hook (settings_app.signals) skips it
        deleted, _ = stored.delete()
    if deleted:
        logger.info("user %s removed their %s key", user.pk, provider)
    return bool(deleted)


def key_label(stored) -> str:
    """The words an audit entry names a stored key with (never any part of the key)."""
    if isinstance(stored, TeamKey):
        return f"Team {stored.provider} key"
    return f"{stored.provider} key of {stored.user.get_username()}"


def record_key_change(stored, created: bool, actor=None) -> None:
    """The audit entry of a key stored or replaced (in the caller's transaction)."""
    team = isinstance(stored, TeamKey)
    details = {"provider": stored.provider, "scope": "team" if team else "user"}
    if not team:
        details["owner"] = stored.user.get_username()
    audit.record(
        "key.added" if created else "key.rotated",
        actor=actor,
        obj=stored,
        object_label=key_label(stored),
        details=details,
    )


def record_key_deletion(stored, actor=None, parent=None) -> None:
    """The audit entry of a key removed (in the caller's transaction): by the service above,
    or by anything else that deletes it (an admin inline: settings_app.signals; ``parent``
    is the user whose admin page deleted it)."""
    team = isinstance(stored, TeamKey)
    details = {"provider": stored.provider, "scope": "team" if team else "user"}
    if not team:
        details["owner"] = stored.user.get_username()
    audit.record(
        "key.deleted",
        actor=actor,
        obj=stored,
        object_label=key_label(stored),
        details=details,
        parent=parent,
    )


# --- Team keys ------------------------------------------------------------------------------


def save_team_key(provider: str, api_key, by=None) -> TeamKey:
    """Store or replace the team key for the provider (administrators only, via the admin)."""
    check_provider_name(provider)
    plaintext = clean_key(provider, api_key)
    with transaction.atomic():
        stored = TeamKey.objects.select_for_update().filter(provider=provider).first()
        created = stored is None
        stored = stored or TeamKey(provider=provider)
        stored.set_secret(plaintext)
        stored.updated_by = by
        stored.save(update_fields=None if created else [*SECRET_FIELDS, "updated_by", "updated_at"])
        record_key_change(stored, created, actor=by)
    logger.info("team %s key set by user %s", provider, getattr(by, "pk", None))
    return stored


def team_key_availability(user) -> list[dict]:
    """For each keyed provider: whether a team key exists and whether this user may use it."""
    allowed = may_use_team_keys(user)
    present = set(TeamKey.objects.values_list("provider", flat=True))
    return [
        {
            "provider": name,
            "label": provider_label(name),
            "team_key": name in present,
            "available": allowed and name in present,
        }
        for name in keyed_provider_names()
    ]


# --- Test connection ------------------------------------------------------------------------


@dataclass
class ConnectionResult:
    """The answer of a key test, in words, with how long the provider took."""

    ok: bool
    message: str
    latency_ms: int | None
    source: str = KeySource.NONE
    status: str = ""  # a KeyStatus value; empty when nothing was checked


def _scrub(text: str, secret: str) -> str:
    """The text with the secret (and any long piece of it) masked out."""
    text = str(text)
    if secret:
        text = text.replace(secret, "••••")
    return text[:500]


def check_connection(user, provider_name: str) -> ConnectionResult:
    """Ask the provider whether the key this user would generate with works; record the
    answer on the stored key it came from."""
    check_provider_name(provider_name)
    provider = get_provider(provider_name)
    label = provider_label(provider_name)
    if provider is None:
        _fail("provider", f"{label} is not installed on this server yet.")
    key = resolve_api_key(user, provider_name)
    if key is None:
        return ConnectionResult(False, missing_key_message(label), None)
    started = time.monotonic()
    try:
        check = provider.check_key(key.value)
    except Exception as exc:  # a provider bug must not leak the key in a traceback message
        check = KeyCheck(
            KeyStatus.UNVERIFIED, f"The check could not complete ({type(exc).__name__})."
        )
        logger.warning("provider %s: check_key raised %s", provider_name, type(exc).__name__)
    latency_ms = round((time.monotonic() - started) * 1000)
    check = with_known_restriction(user, provider_name, key.source, check)
    message = _scrub(check.message or KEY_STATUS_WORDS[check.status], key.value)
    record_key_status(user, provider_name, key.source, check.status, message)
    return ConnectionResult(check.ok, message, latency_ms, key.source, str(check.status))


# --- Preferences ----------------------------------------------------------------------------


def update_preferences(user, changes: dict) -> Preferences:
    """Apply the given preference fields, validate them all together and save only those."""
    prefs = Preferences.for_user(user)
    unknown = set(changes) - set(PREFERENCE_FIELDS)
    if unknown:
        raise ValidationError({name: ["Not a preference."] for name in sorted(unknown)})
    for name, value in changes.items():
        setattr(prefs, name, value)
    prefs.full_clean(exclude=["user"])
    if changes:
        names = ["default_project_id" if n == "default_project" else n for n in changes]
        prefs.save(update_fields=[*names, "updated_at"])
    return prefs


# --- API tokens -----------------------------------------------------------------------------


def create_named_token(user, name: str) -> tuple[NamedToken, str]:
    """A new API token with a name; the plaintext exists only in this return value."""
    name = (name or "").strip()
    if not name:
        _fail("name", "Give the token a name, e.g. the script that will use it.")
    if len(name) > 100:
        _fail("name", "Use at most 100 characters.")
    with transaction.atomic():
        instance, token = AuthToken.objects.create(user)
        named = NamedToken.objects.create(token=instance, name=name)
        audit.record(
            "token.created",
            actor=user,
            obj=named,
            details={"name": name, "expires_at": instance.expiry},
        )
    logger.info("user %s created API token %s", user.pk, named.pk)
    return named, token


def revoke_token(named: NamedToken) -> None:
    """Delete the token (it stops working at once) and its name."""
    with transaction.atomic():
        audit.record(
            "token.revoked",
            obj=named,
            details={"name": named.name, "owner": named.token.user.get_username()},
        )
        named.token.delete()  # cascades to the NamedToken
    logger.info("API token %s revoked", named.pk)


def end_sessions_and_tokens(user, *, reason: str) -> tuple[int, int]:
    """Sign ``user`` out everywhere: delete every API token (and its name) and every stored
    session. Called when the password changes, the account is deactivated or deleted
    (settings_app.signals; ``reason``: "password_changed", "deactivated", "deleted"). Returns
    (tokens, sessions) deleted; tokens deleted are one ``token.revoked`` entry with their
    count, names and the reason (never a token).

    A request that is changing its own password keeps its session: Django's
    ``update_session_auth_hash`` moves it to a new key after this runs.
    """
    return end_sessions_and_tokens_of_many([user], reason=reason)[user.pk]


def end_sessions_and_tokens_of_many(users, *, reason: str) -> dict[int, tuple[int, int]]:
    """``end_sessions_and_tokens`` for several users (the admin's bulk deactivation), the
    stored sessions read in one pass whatever their number; {user id: (tokens, sessions)}."""
    sessions = _delete_sessions_of_many({user.pk for user in users})
    ended = {}
    for user in users:
        tokens = AuthToken.objects.filter(user_id=user.pk)
        names = sorted(NamedToken.objects.filter(token__in=tokens).values_list("name", flat=True))
        named = (
            NamedToken.objects.filter(token__in=tokens).delete()[1].get(NamedToken._meta.label, 0)
        )
        count = tokens.delete()[1].get(AuthToken._meta.label, 0)
        if count:
            # No object id: an admin deletion of the user claims the user, not its tokens.
            audit.record(
                "token.revoked",
                object_type=AuthToken._meta.label_lower,
                object_label=f"{count} API token(s) of {user.get_username()}",
                details={
                    "count": count,
                    "names": names[:100],
                    "owner": user.get_username(),
                    "reason": reason,
                },
            )
        own_sessions = sessions.get(user.pk, 0)
        if count or own_sessions:
            logger.info(
                "user %s: %s, %s API token(s) (%s named) and %s session(s) ended",
                user.pk,
                reason,
                count,
                named,
                own_sessions,
            )
        ended[user.pk] = (count, own_sessions)
    return ended


def _delete_sessions_of_many(user_ids) -> dict[int, int]:
    """Delete the stored sessions signed in as any of ``user_ids``, in one pass over the
    live sessions; {user id: sessions deleted}. Only database-backed session engines can be
    searched; with the others Django's own checks (the password hash in the session,
    ``is_active``) refuse the session at its next request."""
    store_class = import_module(settings.SESSION_ENGINE).SessionStore
    if not hasattr(store_class, "get_model_class") or not user_ids:
        return {}
    wanted = {str(user_id): user_id for user_id in user_ids}
    deleted: dict[int, int] = {}
    rows = store_class.get_model_class().objects.filter(expire_date__gt=timezone.now())
    for key, data in rows.values_list("session_key", "session_data").iterator():
        user_id = wanted.get(str(store_class().decode(data).get("_auth_user_id")))
        if user_id is not None:
            store_class(key).delete()  # also drops a cached copy (cached_db)
            deleted[user_id] = deleted.get(user_id, 0) + 1
    return deleted


# --- Rotation -------------------------------------------------------------------------------


def rotate_encryption_key(old: str, new: str) -> int:
    """Re-encrypt every stored secret (provider keys, backend credentials, authenticator
    secrets) from ``old`` to ``new`` in one transaction; returns how many were re-encrypted.
    Nothing changes when any value does not open with ``old``."""
    if not old or not new:
        raise ValueError("Both the old and the new key are needed.")
    if old == new:
        raise ValueError("The new key is the same as the old one.")
    count = 0
    with transaction.atomic():
        for model in (ApiKey, TeamKey, Backend, TotpDevice):
            table = connection.ops.quote_name(model._meta.db_table)
            column = connection.ops.quote_name(model._meta.get_field("secret").column)
            with connection.cursor() as cursor:
                # Raw read: the ORM field would decrypt with the current key.
                cursor.execute(f"SELECT id, {column} FROM {table} ORDER BY id")  # noqa: S608
                rows = cursor.fetchall()
            for pk, ciphertext in rows:
                if ciphertext is None:  # a backend without credentials
                    continue
                try:
                    plaintext = decrypt_text(bytes(ciphertext), old)
                except UndecryptableSecret:
                    raise UndecryptableSecret(
                        f"{model._meta.verbose_name} {pk} does not open with the old key; "
                        "nothing was changed."
                    ) from None
                model.objects.filter(pk=pk).update(
                    secret=Value(encrypt_text(plaintext, new), output_field=BinaryField())
                )
                count += 1
    logger.info("re-encrypted %s stored keys with a new ENCRYPTION_KEY", count)
    return count
