"""Pages render times in the signed-in user's time zone (Preferences.time_zone)."""

from django.utils import timezone

from settings_app.models import time_zone_for

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
