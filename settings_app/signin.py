"""Signing in with a password, and the second step for accounts with two-factor sign-in.

``/login/`` is the one password form of the site: the admin's login and the browsable API's
send people there (:func:`admin_login`, :func:`api_auth_login`), so every password sign-in
takes the same second step. When the password is right and the account has an authenticator
(``two_factor.is_enabled``), nobody is signed in yet: the session holds the pending user, the
backend that checked the password and a deadline (``PENDING_SECONDS``), and ``/login/verify/``
asks for a code. Only a right code calls ``login()``, so ``user_logged_in`` fires once, after
the second factor; a wrong code fires ``user_login_failed`` (django-axes counts it like a wrong
password, towards the same lockout), and after ``MAX_ATTEMPTS`` wrong codes the pending sign-in
is dropped. ``next`` is kept through both steps and only ever followed to this site.
"""

import time
from urllib.parse import urlencode

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_lockout_response
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    REDIRECT_FIELD_NAME,
    get_user_model,
    login,
    user_login_failed,
)
from django.contrib.auth.views import LoginView
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.crypto import constant_time_compare
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters

from settings_app import two_factor
from settings_app.forms import TwoFactorCodeForm
from settings_app.oidc.config import current as oidc_settings

PENDING_KEY = "two_factor_pending"
# How long the code step may take after the password step, and how many wrong codes it allows.
PENDING_SECONDS = 300
MAX_ATTEMPTS = 5


def safe_next(request, default: str = "") -> str:
    """The ``next`` of the request (POST, else GET) when it leads to this site, else ``default``."""
    target = request.POST.get(REDIRECT_FIELD_NAME) or request.GET.get(REDIRECT_FIELD_NAME, "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _with_next(url: str, target: str) -> str:
    return f"{url}?{urlencode({REDIRECT_FIELD_NAME: target})}" if target else url


def password_login_url(target: str = "") -> str:
    """Back to the password form (after an expired or failed code step, the admin's login),
    with ``next``. Under OIDC_ONLY the form shows only with ``local=1`` (superusers' way in),
    so the URL carries it: the person coming back signed in with a password."""
    query = {REDIRECT_FIELD_NAME: target} if target else {}
    if oidc_settings().only:
        query["local"] = "1"
    return f"{reverse('login')}?{urlencode(query)}" if query else reverse("login")


# --- The pending sign-in ----------------------------------------------------------------------


def start_pending(request, user) -> None:
    """Remember that ``user`` gave the right password; nobody is signed in yet."""
    request.session.cycle_key()  # a session id seen before the password is not the one after
    request.session[PENDING_KEY] = {
        "user": str(user.pk),
        "backend": user.backend,
        "auth_hash": user.get_session_auth_hash(),
        "until": time.time() + PENDING_SECONDS,
        "attempts": 0,
    }


def drop_pending(request) -> None:
    request.session.pop(PENDING_KEY, None)


def pending_user(request):
    """(user, backend, pending) for a pending sign-in still in time, whose password has not
    changed since; None otherwise (an expired one is dropped, with a message)."""
    pending = request.session.get(PENDING_KEY)
    if not pending:
        return None
    user = get_user_model()._default_manager.filter(pk=pending["user"], is_active=True).first()
    if pending["until"] < time.time():
        drop_pending(request)
        messages.error(request, "The sign-in took too long. Enter your password again.")
        return None
    if user is None or not constant_time_compare(
        pending["auth_hash"], user.get_session_auth_hash()
    ):
        drop_pending(request)
        return None
    return user, pending["backend"], pending


# --- The views --------------------------------------------------------------------------------


class TwoFactorLoginView(LoginView):
    """Django's login view; an account with two-factor sign-in goes on to the code step."""

    redirect_authenticated_user = True

    def form_valid(self, form):
        user = form.get_user()
        if not two_factor.is_enabled(user):
            return super().form_valid(form)
        start_pending(self.request, user)
        return redirect(_with_next(reverse("login-verify"), self.get_redirect_url()))


@never_cache
@csrf_protect
@sensitive_post_parameters("code")
def verify(request):
    """The second step: a code from the authenticator app, or a recovery code (spent)."""
    target = safe_next(request)
    found = pending_user(request)
    if found is None:
        return redirect(password_login_url(target))
    user, backend, pending = found
    credentials = {get_user_model().USERNAME_FIELD: user.get_username()}
    if settings.AXES_ENABLED and AxesProxyHandler.is_locked(request, credentials):
        drop_pending(request)
        return get_lockout_response(request, credentials=credentials)
    form = TwoFactorCodeForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        check = two_factor.verify(user, form.cleaned_data["code"])
        if check.ok:
            drop_pending(request)
            login(request, user, backend=backend)
            if check.recovery:
                left = two_factor.recovery_codes_left(user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Make new ones under Settings → Two-factor sign-in.",
                )
            return redirect(target or settings.LOGIN_REDIRECT_URL)
        # Counted like a wrong password (django-axes listens), and by this sign-in.
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        pending["attempts"] += 1
        request.session.modified = True
        if getattr(request, "axes_locked_out", False):
            drop_pending(request)
            return get_lockout_response(request, credentials=credentials)
        if pending["attempts"] >= MAX_ATTEMPTS:
            drop_pending(request)
            messages.error(request, "Too many wrong codes. Enter your password again.")
            return redirect(password_login_url(target))
        if check.wait_until is not None:
            form.add_error("code", "Too many wrong codes just now: wait a minute, then retry.")
        else:
            form.add_error("code", two_factor.WRONG_CODE)
    return render(
        request,
        "registration/verify.html",
        {
            "form": form,
            "next": target,
            "pending_username": user.get_username(),
            "start_again_url": password_login_url(target),
        },
    )


@never_cache
def admin_login(request, extra_context=None):
    """The admin's login page: the site's (``/login/``), so it takes the same second step.
    Nothing is ever posted here: a password sent to this URL is not read."""
    target = safe_next(request, reverse("admin:index"))
    if request.user.is_authenticated:
        if admin.site.has_permission(request):
            return redirect(target)
        raise PermissionDenied  # signed in, but not to the admin: the 403 page says so
    # The password form, which OIDC_ONLY keeps for superusers (the admin's people).
    return redirect(password_login_url(target))


@never_cache
def api_auth_login(request):
    """The browsable API's "Log in": the site's login page, coming back to the API."""
    target = safe_next(request, reverse("api-root"))
    if request.user.is_authenticated:
        return redirect(target)
    return redirect(_with_next(reverse("login"), target))


def session_backend(request) -> str | None:
    """The backend that signed this session in (a password one, or an identity provider's)."""
    return request.session.get(BACKEND_SESSION_KEY)
