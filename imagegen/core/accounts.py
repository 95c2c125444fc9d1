"""Account bootstrap: the first administrator."""

import secrets

from django.conf import settings
from django.contrib.auth import get_user_model


def ensure_initial_admin() -> tuple[str, str | None] | None:
    """Create the first superuser when no user exists yet.

    Uses ADMIN_USERNAME/ADMIN_PASSWORD when both are set; otherwise ``admin`` with a random
    password. Returns (username, password) when it created one, the password only when it was
    generated (to be shown once); None when users already exist.
    """
    User = get_user_model()
    if User.objects.exists():
        return None
    username, password = settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD
    generated = None
    if not (username and password):
        username = "admin"
        password = generated = secrets.token_urlsafe(12)
    User.objects.create_superuser(username=username, email="", password=password)
    return username, generated
