"""Pages render times in the signed-in user's time zone (Preferences.time_zone); staff who
must use two-factor sign-in (MFA_REQUIRED_FOR_STAFF) set it up before anything else."""

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils import timezone

from settings_app import two_factor
from settings_app.models import time_zone_for
from settings_app.tokens import MalformedHeader, token_key

# The API answers in one zone for every client (session or token: DRF authenticates after the
# middleware runs) and says which where it matters; file answers render no times.
SKIPPED_PREFIXES = ("/api/", "/files/", "/static/")


class UserTimeZoneMiddleware:
    """Activate the user's zone for the page request, and go back to the default after."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if (
            request.path_info.startswith(SKIPPED_PREFIXES)
            or user is None
            or not user.is_authenticated
        ):
            return self.get_response(request)
        timezone.activate(time_zone_for(user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()


# What a staff member who must still set up two-factor sign-in may reach: the set-up itself,
# signing out and in, the theme switch, the live stream every page opens; static files are
# served before this runs. The API is reached with a token by scripts (untouched: the
# session's user is not the token's) and answers 403 to such a session.
ENROLMENT_ALLOWED = (
    "/settings/two-factor/",
    "/settings/theme/",
    "/login/",
    "/logout/",
    "/admin/logout/",
    "/api-auth/logout/",
    "/live/events",
    "/static/",
)
API_PREFIXES = ("/api/", "/v1/", "/files/")


class TwoFactorEnrolmentMiddleware:
    """With MFA_REQUIRED_FOR_STAFF, a staff member signed in with a password who has no
    authenticator yet reaches only the set-up page (and signing out) until they have one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if (
            not settings.MFA_REQUIRED_FOR_STAFF
            or path.startswith(ENROLMENT_ALLOWED)
            or not must_enrol(request)
        ):
            return self.get_response(request)
        if path.startswith(API_PREFIXES):
            if _names_a_token(request):  # the token's user, not the session's, is served
                return self.get_response(request)
            return JsonResponse(
                {"detail": "Set up two-factor sign-in under Settings first."}, status=403
            )
        return redirect("two-factor")


def _names_a_token(request) -> bool:
    # A token scheme is authenticated by the token or refused (401), never by the session.
    try:
        return token_key(request.META.get("HTTP_AUTHORIZATION")) is not None
    except MalformedHeader:
        return True


def must_enrol(request) -> bool:
    """A staff session opened with a password here, whose account has no authenticator."""
    user = getattr(request, "user", None)
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_staff
        and two_factor.applies(user, request.session.get(BACKEND_SESSION_KEY))
        and not two_factor.is_enabled(user)
    )
