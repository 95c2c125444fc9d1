"""Linking an existing account to the identity provider, and unlinking it (Settings →
Single sign-on). docs/identity.md states the rules.

An account made before single sign-on was set up (or with a password, by an administrator)
has no ``OidcIdentity``: signing in through the provider would make a second account. Its
owner links it instead:

1. ``start`` checks the account's password (a session left open is not enough to tie a
   provider identity to the account) and puts a ticket in the session, good for
   ``TICKET_SECONDS``.
2. The browser goes to ``/oidc/authenticate/?link=1``, which takes the ticket and marks the
   sign-in it starts (its state) as a link of that account.
3. The provider's answer for that state (and only it) links the identity it names to the
   account signed in, which must still be the ticket's: ``accounts.sign_in(link_to=user)``.
   An identity already linked to another account is refused; nothing changes.

``unlink`` removes the link, after the password too. An account without a usable password (made
by the provider) has no other way in, so it cannot unlink; nor, with OIDC_ONLY, can an
account that may not use its password (anyone but a superuser).
"""

import time

from django.core.exceptions import ValidationError
from django.db import transaction

from imagegen.core import audit
from settings_app.models import OidcIdentity
from settings_app.oidc.config import OidcSettings, cached_provider_info
from settings_app.oidc.errors import SignInFailed

TICKET_KEY = "oidc_link_ticket"
TICKET_SECONDS = 600
# The key, in a started sign-in's state, of the account it links (instead of signing in).
FLOW_KEY = "link_user"


def identity_of(user, conf: OidcSettings) -> OidcIdentity | None:
    """The user's link to the configured provider, or None (another issuer's link, from
    before a change of provider, does not count)."""
    if not conf.enabled or not user.is_authenticated:
        return None
    info = cached_provider_info(conf)
    issuer = info.issuer if info is not None else conf.issuer
    identities = OidcIdentity.objects.filter(user=user)
    if issuer:
        identities = identities.filter(issuer=issuer)
    return identities.order_by("-last_sign_in_at").first()


def may_unlink(user, conf: OidcSettings) -> bool:
    """Whether the account keeps a way in without the provider: a usable password that it
    may use (OIDC_ONLY lets only superusers sign in with one)."""
    return user.has_usable_password() and (not conf.only or user.is_superuser)


def _check_password(user, password: str) -> None:
    if not password or not user.has_usable_password() or not user.check_password(password):
        raise ValidationError({"password": "That is not your password."})


def start(session, user, password: str) -> None:
    """Check the password and give the session a ticket to link ``user``."""
    _check_password(user, password)
    session[TICKET_KEY] = {"user": user.pk, "expires": time.time() + TICKET_SECONDS}


def take_ticket(session, user) -> None:
    """Use up the session's ticket for ``user``; SignInFailed("link") without a valid one."""
    ticket = session.pop(TICKET_KEY, None)
    if (
        not isinstance(ticket, dict)
        or not user.is_authenticated
        or ticket.get("user") != user.pk
        or not isinstance(ticket.get("expires"), (int, float))
        or ticket["expires"] < time.time()
    ):
        raise SignInFailed("link", "no valid link ticket in the session")


def link_account(user, identity: OidcIdentity | None, issuer: str, subject: str):
    """The link of ``user`` to (issuer, subject), made now; ``identity`` is the one found
    for that pair (locked), if any. Called by accounts.sign_in inside its transaction."""
    if identity is not None:
        if identity.user_id != user.pk:
            raise SignInFailed("linked_elsewhere", "identity linked to another account")
        return identity  # linked already: a sign-in like any other
    if OidcIdentity.objects.filter(user=user, issuer=issuer).exists():
        raise SignInFailed("linked_other", "account linked to another identity of the issuer")
    identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    audit.record("user.sso_linked", actor=user, obj=user, details={"issuer": issuer})
    return identity


def unlink(user, password: str, conf: OidcSettings) -> None:
    """Remove the user's link to the configured provider, after the password."""
    identity = identity_of(user, conf)
    if identity is None:
        raise ValidationError("Your account is not linked to single sign-on.")
    if not may_unlink(user, conf):
        raise ValidationError(
            "Your account has no password it may sign in with, so the identity provider is "
            "its only way in: it cannot be unlinked. Ask an administrator."
        )
    _check_password(user, password)
    with transaction.atomic():
        identity.delete()
        audit.record("user.sso_unlinked", actor=user, obj=user, details={"issuer": identity.issuer})
