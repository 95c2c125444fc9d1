"""Linking an existing account to the identity provider, and unlinking it (Settings →
Single sign-on). docs/identity.md states the rules.

An account made before single sign-on was set up (or with a password, by an administrator)
has no ``OidcIdentity``: signing in through the provider would make a second account. Its
owner links it instead:

1. ``start`` checks the account's password, and its two-factor code when it has two-factor
   sign-in on (a session left open is not enough to tie a provider identity to the account,
   and linking must not be an easier way round the code than turning it off). Wrong ones
   count toward django-axes' lockout like a wrong password at sign-in. It puts a ticket in
   the session, good for ``TICKET_SECONDS``.
2. The browser goes to ``/oidc/authenticate/?link=1``, which takes the ticket and marks the
   sign-in it starts (its state) as a link of that account until the ticket's end; the
   provider is asked to sign the person in afresh (``prompt=login``).
3. The provider's answer for that state (and only it), before the ticket's end, links the
   identity it names to the account signed in, which must still be the ticket's:
   ``accounts.sign_in(link_to=user)``. An identity already linked to another account, or a
   second identity of the provider for one account, is refused; nothing changes.

``unlink`` removes the link, after the password too. An account without a usable password (made
by the provider) has no other way in, so it cannot unlink; nor, with OIDC_ONLY, can an
account that may not use its password (anyone but a superuser).
"""

import time

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_login_failed
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from imagegen.core import audit
from settings_app import two_factor
from settings_app.models import OidcIdentity
from settings_app.oidc.config import OidcSettings, cached_provider_info
from settings_app.oidc.config import current as current_conf
from settings_app.oidc.errors import SignInFailed

TICKET_KEY = "oidc_link_ticket"
TICKET_SECONDS = 600
# The keys, in a started sign-in's state, of the account it links (instead of signing in)
# and of the time (epoch seconds) after which its answer no longer may.
FLOW_KEY = "link_user"
FLOW_UNTIL = "link_until"
WRONG_PASSWORD = "That is not your password."
LOCKED = "Too many wrong attempts: try again later."


def identity_of(user, conf: OidcSettings) -> OidcIdentity | None:
    """The user's link to the configured provider, or None (another issuer's link, from
    before a change of provider, does not count)."""
    if not conf.enabled or not user.is_authenticated:
        return None
    info = cached_provider_info(conf)
    issuer = (info.issuer if info is not None else conf.issuer).rstrip("/")
    identities = OidcIdentity.objects.filter(user=user)
    if issuer:
        # The stored issuer is discovery's, which may end in "/" (Auth0); OIDC_ISSUER is
        # kept without it.
        identities = identities.filter(issuer__in=[issuer, f"{issuer}/"])
    return identities.order_by("-last_sign_in_at").first()


def may_unlink(user, conf: OidcSettings) -> bool:
    """Whether the account keeps a way in without the provider: a usable password that it
    may use (OIDC_ONLY lets only superusers sign in with one)."""
    return user.has_usable_password() and (not conf.only or user.is_superuser)


def _check_credentials(request, user, password: str, code: str | None = None) -> None:
    """The password (and, when ``code`` is not None, the two-factor code) of the signed-in
    user, as django-axes guards a sign-in: refused while it locks the user out, and a wrong
    one counted (``user_login_failed``)."""
    credentials = {get_user_model().USERNAME_FIELD: user.get_username()}
    if settings.AXES_ENABLED and AxesProxyHandler.is_locked(request, credentials):
        raise ValidationError({"password": LOCKED})
    if not password or not user.has_usable_password() or not user.check_password(password):
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        raise ValidationError({"password": WRONG_PASSWORD})
    if code is not None:
        check = two_factor.verify(user, code)
        if not check.ok:
            user_login_failed.send(sender=__name__, credentials=credentials, request=request)
            raise two_factor.code_error(check)


def start(request, password: str, code: str = "") -> None:
    """Check the signed-in user's password (and code, with two-factor sign-in on) and give
    the session a ticket to link the account."""
    user, conf = request.user, current_conf()
    if identity_of(user, conf) is not None:
        raise ValidationError("Your account is linked already: unlink it first.")
    _check_credentials(request, user, password, code if two_factor.is_enabled(user) else None)
    request.session[TICKET_KEY] = {"user": user.pk, "expires": time.time() + TICKET_SECONDS}


def take_ticket(session, user) -> float:
    """Use up the session's ticket for ``user`` and answer its end (epoch seconds);
    SignInFailed("link") without a valid one."""
    ticket = session.pop(TICKET_KEY, None)
    if (
        not isinstance(ticket, dict)
        or not user.is_authenticated
        or ticket.get("user") != user.pk
        or not isinstance(ticket.get("expires"), (int, float))
        or ticket["expires"] < time.time()
    ):
        raise SignInFailed("link", "no valid link ticket in the session")
    return float(ticket["expires"])


def check_flow(flow: dict, user) -> None:
    """The answer to a link's sign-in: it must come back to the account that started it,
    before the ticket's end; SignInFailed("link") otherwise."""
    until = flow.get(FLOW_UNTIL)
    if not user.is_authenticated or user.pk != flow.get(FLOW_KEY):
        raise SignInFailed("link", "the link was started by another session's account")
    if not isinstance(until, (int, float)) or until < time.time():
        raise SignInFailed("link", "the link's sign-in came back after its ticket ended")


def link_account(user, identity: OidcIdentity | None, issuer: str, subject: str):
    """The link of ``user`` to (issuer, subject), made now; ``identity`` is the one found
    for that pair (locked), if any. Called by accounts.sign_in inside its transaction."""
    if identity is not None:
        if identity.user_id != user.pk:
            raise SignInFailed("linked_elsewhere", "identity linked to another account")
        return identity  # linked already: a sign-in like any other
    # One link at a time per account (PostgreSQL; SQLite's IMMEDIATE transaction already
    # serialises writers); the unique constraints catch what slips past.
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk"))
    if OidcIdentity.objects.filter(user=user, issuer=issuer).exists():
        raise SignInFailed("linked_other", "account linked to another identity of the issuer")
    try:
        with transaction.atomic():
            identity = OidcIdentity.objects.create(user=user, issuer=issuer, subject=subject)
    except IntegrityError as exc:  # a link made meanwhile, by another request
        if OidcIdentity.objects.filter(issuer=issuer, subject=subject).exists():
            raise SignInFailed("linked_elsewhere", "identity linked meanwhile") from exc
        raise SignInFailed("linked_other", "account linked meanwhile") from exc
    audit.record("user.sso_linked", actor=user, obj=user, details={"issuer": issuer})
    return identity


def unlink(request, password: str) -> None:
    """Remove the signed-in user's link to the configured provider, after the password."""
    user, conf = request.user, current_conf()
    identity = identity_of(user, conf)
    if identity is None:
        raise ValidationError("Your account is not linked to single sign-on.")
    if not may_unlink(user, conf):
        raise ValidationError(
            "Your account has no password it may sign in with, so the identity provider is "
            "its only way in: it cannot be unlinked. Ask an administrator."
        )
    _check_credentials(request, user, password)
    with transaction.atomic():
        identity.delete()
        audit.record("user.sso_unlinked", actor=user, obj=user, details={"issuer": identity.issuer})
