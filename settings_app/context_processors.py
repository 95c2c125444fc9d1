"""Template context shared by every page."""

from django.conf import settings

from settings_app.models import Preferences, Theme


def preferences(request):
    """The theme to render with (the user's stored choice, dark when there is none), whether
    keyboard shortcuts are on, whether self sign-up is open and whether this is desktop mode."""
    context = {
        "theme": Theme.DARK,
        "shortcuts_enabled": True,
        "allow_signup": settings.ALLOW_SIGNUP,
        # Desktop mode has one user, signed in by the window: no "Log out" (docs/desktop.md).
        "desktop": settings.DESKTOP,
    }
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return context
    try:
        prefs = user.preferences
    except Preferences.DoesNotExist:
        return context
    return {**context, "theme": prefs.theme, "shortcuts_enabled": prefs.shortcuts_enabled}
