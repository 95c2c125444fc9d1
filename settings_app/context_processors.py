"""Template context shared by every page."""

from settings_app.models import Preferences, Theme


def preferences(request):
    """The theme to render with: the user's stored choice, dark when there is none."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"theme": Theme.DARK}
    try:
        return {"theme": user.preferences.theme}
    except Preferences.DoesNotExist:
        return {"theme": Theme.DARK}
