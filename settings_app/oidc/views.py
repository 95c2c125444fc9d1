"""The sign-in views: start (/oidc/authenticate/), callback (/oidc/callback/) and logout
(/logout/, RP-initiated at the provider when it offers an end_session_endpoint).

mozilla-django-oidc's views, with the endpoints from discovery and every failure shown on
registration/oidc_failed.html (not the plain-text error mapping: the page must offer a way
back). Both sign-in views are a 404 while OIDC is off.
"""

import logging
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib import auth, messages
from django.contrib.auth import views as auth_views
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.generic import View
from mozilla_django_oidc.views import OIDCAuthenticationCallbackView, OIDCAuthenticationRequestView

from settings_app.oidc import linking
from settings_app.oidc.backends import CREDENTIAL, library_setting
from settings_app.oidc.config import cached_provider_info, current, provider_info
from settings_app.oidc.errors import REASONS, SignInFailed

logger = logging.getLogger("imagegen.oidc")

# What mozilla-django-oidc keeps in the session from a token answer.
SESSION_TOKENS = ("oidc_id_token", "oidc_access_token")


def failure_page(request, failure: SignInFailed):
    """The page for a failed sign-in (or link: it leads back to Settings), with its status."""
    status, title, message = REASONS[failure.reason]
    conf = current()
    return render(
        request,
        "registration/oidc_failed.html",
        {
            "title": title,
            "message": message,
            "status": status,
            "provider_name": conf.provider_name,
            "password_sign_in": not conf.only,
            # Someone signed in came from Settings (a link): lead back there, never to a
            # sign-in that would open another account.
            "linking": request.user.is_authenticated,
        },
        status=status,
    )


class _SignInView:
    """Shared by both sign-in views: mozilla-django-oidc's settings from ours, a 404 while
    OIDC is off, and a failure answered with its page."""

    get_settings = staticmethod(library_setting)

    def __init__(self, **kwargs):
        # The library's views read fixed endpoint settings here; ours come from discovery.
        View.__init__(self, **kwargs)

    def dispatch(self, request, *args, **kwargs):
        if not current().enabled:
            raise Http404("Single sign-on is off.")
        try:
            return super().dispatch(request, *args, **kwargs)
        except SignInFailed as failure:
            logger.warning("OIDC sign-in failed (%s): %s", failure.reason, failure.detail)
            return failure_page(request, failure)


class AuthenticateView(_SignInView, OIDCAuthenticationRequestView):
    """Sends the browser to the provider with state, nonce and a PKCE (S256) challenge."""

    def get(self, request):
        conf = current()
        info = provider_info(conf)
        link_until = None
        if request.GET.get("link") == "1":
            # Settings → Single sign-on: only with the ticket its password form gave.
            request.oidc_linking = True
            link_until = linking.take_ticket(request.session, request.user)
        self.OIDC_OP_AUTH_ENDPOINT = info.authorization_endpoint
        self.OIDC_RP_CLIENT_ID = conf.client_id
        response = super().get(request)
        if link_until is not None:
            # The answer for this state (and no other), before the ticket's end, links the
            # account.
            state = parse_qs(urlsplit(response["Location"]).query)["state"][0]
            states = request.session["oidc_states"]
            states[state][linking.FLOW_KEY] = request.user.pk
            states[state][linking.FLOW_UNTIL] = link_until
            request.session["oidc_states"] = states
            request.session["oidc_login_next"] = reverse("settings") + "#single-sign-on"
        return response

    def get_extra_params(self, request):
        params = dict(super().get_extra_params(request))
        if getattr(request, "oidc_linking", False):
            # Whoever is at the keyboard signs in at the provider now: a provider session
            # left open in this browser does not link itself.
            params["prompt"] = "login"
        return params


class CallbackView(_SignInView, OIDCAuthenticationCallbackView):
    """The provider's answer: the state must be one this session started (it is used up
    here, answer or error), then the backend exchanges the code and signs the person in
    with django.contrib.auth.login."""

    def get(self, request):
        states = request.session.get("oidc_states")
        state = request.GET.get("state")
        flow = None
        if isinstance(states, dict) and state and state in states:
            flow = states.pop(state)
            request.session["oidc_states"] = states
            request.session.save()
        link_user = flow.get(linking.FLOW_KEY) if isinstance(flow, dict) else None
        if link_user is not None:
            request.oidc_linking = True  # a failure leads back to Settings
        error = request.GET.get("error")
        if error:
            reason = "denied" if error == "access_denied" else "provider_error"
            raise SignInFailed(reason, f"provider answered error={error[:64]!r}")
        if flow is None:
            raise SignInFailed("state", "state missing or unknown to this session")
        if not request.GET.get("code"):
            raise SignInFailed("state", "no code")
        issuer = request.GET.get("iss")
        if issuer is not None and issuer != provider_info().issuer:
            # RFC 9207: the answer comes from another provider (a mix-up attack).
            raise SignInFailed("state", "iss parameter names another issuer")
        # As the library does: reload the session after the slow token exchange, so a
        # sign-in in another tab is not overwritten.
        request.session = request.session.__class__(request.session.session_key)
        token_request = {"nonce": flow.get("nonce"), "code_verifier": flow.get("code_verifier")}
        kept_tokens = {}
        if link_user is not None:
            linking.check_flow(flow, request.user)
            request.oidc_link_to = request.user  # the backend links instead of signing in
            # The library stores the answer's tokens before the account is decided: a refused
            # link must not leave another person's ID token (the logout hint) here.
            kept_tokens = {key: request.session.get(key) for key in SESSION_TOKENS}
        try:
            self.user = auth.authenticate(request, **{CREDENTIAL: token_request})
            if self.user is None:
                # The backend kept why (django-axes' lockout page replaces this one if it
                # refused).
                raise getattr(request, "oidc_failure", None) or SignInFailed("token", "no account")
        except SignInFailed:
            for key, value in kept_tokens.items():
                if value is None:
                    request.session.pop(key, None)
                else:
                    request.session[key] = value
            raise
        response = self.login_success()
        if link_user is not None:
            name = current().provider_name
            messages.success(request, f"Your account is linked: sign in with {name} from now on.")
        return response


def provider_logout_url(request) -> str | None:
    """Where to end the provider's session (RP-initiated logout), or None for a local logout
    only: needs the ID token of an OIDC sign-in and an end_session_endpoint."""
    id_token = request.session.get("oidc_id_token")
    conf = current()
    if not id_token or not conf.enabled:
        return None
    info = cached_provider_info(conf)
    if info is None:
        try:
            info = provider_info(conf)
        except SignInFailed:
            return None  # the provider is down: sign out here at least
    if not info.end_session_endpoint:
        return None
    query = urlencode(
        {
            "id_token_hint": id_token,
            "client_id": conf.client_id,
            "post_logout_redirect_uri": request.build_absolute_uri(reverse("login")),
        }
    )
    separator = "&" if "?" in info.end_session_endpoint else "?"
    return f"{info.end_session_endpoint}{separator}{query}"


class LogoutView(auth_views.LogoutView):
    """Django's logout; after an OIDC sign-in it then sends the browser on to the provider's
    end_session_endpoint through a page of our own (a redirect straight from the form's POST
    would be refused by the form-action CSP)."""

    def post(self, request, *args, **kwargs):
        provider_url = provider_logout_url(request)
        response = super().post(request, *args, **kwargs)
        if provider_url is None:
            return response
        return render(
            request,
            "registration/oidc_signing_out.html",
            {"provider_url": provider_url, "provider_name": current().provider_name},
        )
