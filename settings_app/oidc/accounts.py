"""Accounts from OpenID Connect claims: find by the (issuer, subject) link, create, refresh
the profile and sync the groups. docs/identity.md states the rules.

- An identity finds its account only through its ``OidcIdentity`` link, never by email or
  username: a provider account never takes over a local one.
- A new account is named from ``preferred_username``, else the email's local part, else
  ``user``; a name already taken (any case) gets ``-2``, ``-3``... It has an unusable
  password, so it signs in only through the provider.
- Email, first and last name are refreshed from the claims at each sign-in; the username
  stays as created.
- With OIDC_GROUPS_CLAIM, the claim's groups are created when missing and joined; a group the
  previous sign-in's claim set and this one's no longer lists is left. Memberships an admin
  gave by hand are kept. A missing claim (or one that is not a list) leaves memberships as
  they are, with a warning.
- With OIDC_ALLOWED_DOMAINS, the email must be in one of them and must not be marked
  unverified (``email_verified: false``; a provider that does not send the claim, as Entra
  ID does not, is trusted to have checked it).
"""

import logging
import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from imagegen.core import audit
from settings_app.models import OidcIdentity
from settings_app.oidc import linking
from settings_app.oidc.config import OidcSettings
from settings_app.oidc.errors import SignInFailed

logger = logging.getLogger("imagegen.oidc")

_NOT_IN_USERNAME = re.compile(r"[^\w.@+-]")
USERNAME_MAX = 150
GROUP_NAME_MAX = 150
# Tries at a new account's name when other first sign-ins take the same one at once.
NAME_ATTEMPTS = 5


def check_claims(claims: dict, conf: OidcSettings) -> None:
    """Raise SignInFailed when the claims may not sign in (no subject; email domain)."""
    if not isinstance(claims.get("sub"), str) or not claims["sub"]:
        raise SignInFailed("token", "no sub claim")
    if not conf.allowed_domains:
        return
    email = claims.get("email")
    domain = email.rpartition("@")[2].lower() if isinstance(email, str) and "@" in email else ""
    if domain not in conf.allowed_domains:
        raise SignInFailed("domain", f"email domain {domain or '(none)'!r} not allowed")
    if claims.get("email_verified") is False or claims.get("email_verified") == "false":
        raise SignInFailed("domain", "email not verified by the provider")


def sign_in(issuer: str, claims: dict, conf: OidcSettings, *, link_to=None):
    """The account of these (already verified) claims, created on the first sign-in, with its
    profile and groups refreshed; atomic: a failure leaves no account and no change.
    ``link_to``: the signed-in account whose owner asked to link it (settings_app.oidc.linking),
    linked to the claims' identity instead of finding or creating one."""
    check_claims(claims, conf)
    User = get_user_model()
    with transaction.atomic():
        identity = (
            OidcIdentity.objects.select_for_update()
            .select_related("user")
            .filter(issuer=issuer, subject=claims["sub"])
            .first()
        )
        if link_to is not None:
            identity = linking.link_account(link_to, identity, issuer, claims["sub"])
        elif identity is None:
            identity = _create_account(User, issuer, claims)
        user = identity.user
        if not user.is_active:
            raise SignInFailed("inactive", f"account {user.pk} is inactive")
        # Profile and group changes are the sign-in's, made by the user through the provider.
        with audit.acting(user, via="oidc", issuer=issuer):
            if _apply_profile(user, claims):
                user.save(update_fields=["email", "first_name", "last_name"])
            if conf.groups_claim:
                identity.synced_groups = sync_groups(user, identity, claims.get(conf.groups_claim))
        identity.last_sign_in_at = timezone.now()
        identity.save(update_fields=["synced_groups", "last_sign_in_at"])
    return user


def _create_account(User, issuer: str, claims: dict) -> OidcIdentity:
    """A new account linked to the claims' subject (first sign-in), each attempt in a
    savepoint. A name taken meanwhile by another person's first sign-in is retried with the
    next free one; the same person's first sign-in in another tab finds that tab's link."""
    for attempt in range(1, NAME_ATTEMPTS + 1):
        user = User(username=unique_username(claims))
        user.set_unusable_password()
        _apply_profile(user, claims)
        try:
            # The account is made by its own sign-in (the request is still anonymous).
            with transaction.atomic(), audit.acting(user, via="oidc", issuer=issuer):
                user.save()
                identity = OidcIdentity.objects.create(
                    user=user, issuer=issuer, subject=claims["sub"]
                )
        except IntegrityError:
            identity = (
                OidcIdentity.objects.select_related("user")
                .filter(issuer=issuer, subject=claims["sub"])
                .first()
            )
            if identity is not None:
                return identity
            if attempt == NAME_ATTEMPTS:
                raise
            logger.info("OIDC sign-in: a new account's name was taken meanwhile; retrying")
            continue
        logger.info("OIDC sign-in created account %s (subject of %s)", user.pk, issuer)
        return identity
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _text(claims: dict, key: str, limit: int) -> str:
    value = claims.get(key)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _apply_profile(user, claims: dict) -> bool:
    """Set email and names from the claims; True when something changed."""
    fields = {
        "email": _text(claims, "email", 254),
        "first_name": _text(claims, "given_name", 150),
        "last_name": _text(claims, "family_name", 150),
    }
    changed = False
    for field, value in fields.items():
        if getattr(user, field) != value:
            setattr(user, field, value)
            changed = True
    return changed


def unique_username(claims: dict) -> str:
    """A username no account has (compared without case) from preferred_username, else the
    email's local part, else "user"."""
    User = get_user_model()
    base = ""
    for candidate in (claims.get("preferred_username"), claims.get("email")):
        if isinstance(candidate, str) and candidate.strip():
            text = candidate.strip()
            if candidate is claims.get("email"):
                text = text.partition("@")[0]
            base = _NOT_IN_USERNAME.sub("", text)[: USERNAME_MAX - 8]
            if base:
                break
    base = base or "user"
    name, number = base, 1
    while User.objects.filter(username__iexact=name).exists():
        number += 1
        name = f"{base}-{number}"
    return name


def _group_names(value) -> list[str] | None:
    """The group names a claim value lists (one text is one group); None when it lists none
    we can read (missing, not a list)."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return None
    names = {item.strip()[:GROUP_NAME_MAX] for item in value if isinstance(item, str)}
    return sorted(name for name in names if name)


def sync_groups(user, identity: OidcIdentity, claim_value) -> list[str]:
    """Join the claim's groups (created when missing) and leave the ones the previous claim
    set that this one no longer lists; returns the names now set from the claim. A claim that
    is missing or not a list changes nothing (it is not "no groups": losing a claim must not
    widen access, as leaving every group with a policy would): a warning, and the names the
    previous sign-in set are kept. An empty list is no groups."""
    names = _group_names(claim_value)
    if names is None:
        logger.warning(
            "OIDC sign-in of account %s: the groups claim is missing or not a list (%s; "
            "Entra ID sends no groups past 200, see docs/identity.md); memberships unchanged",
            user.pk,
            type(claim_value).__name__,
        )
        return list(identity.synced_groups or [])
    groups = []
    for name in names:
        group, _ = Group.objects.get_or_create(name=name)
        groups.append(group)
    user.groups.add(*groups)
    dropped = set(identity.synced_groups or []) - set(names)
    if dropped:
        user.groups.remove(*Group.objects.filter(name__in=dropped))
    return names
