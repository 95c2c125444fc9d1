"""Template context shared by every page."""

from django.conf import settings

from settings_app.models import Preferences, Theme
from settings_app.oidc.config import current as oidc_settings


def preferences(request):
    """The theme to render with (the user's stored choice, dark when there is none), whether
    keyboard shortcuts are on, whether self sign-up is open and whether this is desktop mode."""
    context = {
        "theme": Theme.DARK,
        "shortcuts_enabled": True,
        "allow_signup": settings.ALLOW_SIGNUP and not settings.OIDC_ONLY,
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


def sign_in(request):
    """The login page's choices: ``oidc_login`` (the provider button's label, or None while
    OpenID Connect is off) and ``login_password_form`` (hidden by OIDC_ONLY unless ``?local=1``:
    superusers still sign in with a password there)."""
    conf = oidc_settings()
    if not conf.enabled:
        return {"oidc_login": None, "login_password_form": True}
    local = request.GET.get("local") == "1"
    return {
        "oidc_login": {"name": conf.provider_name, "only": conf.only, "local": local},
        "login_password_form": not conf.only or local,
    }
