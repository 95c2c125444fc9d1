"""Plain helpers behind the root fixtures (tests/conftest.py): the password every test user
has, making a user, an API client logged in as a user, and choosing ``member``'s role.

Test modules import these; they never import from a conftest (tests/test_conftest_hygiene.py).
"""

import pytest

PASSWORD = "correct horse battery staple"


def make_user(username, **extra):
    """A user with PASSWORD (``extra``: is_staff, email, ...)."""
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


def client_for(user):
    """A DRF APIClient authenticated as ``user``."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(user)
    return client


def member_as(*roles):
    """Run a test once per role ``member`` has on ``shared_project``: ``@member_as("viewer")``;
    ``None`` is a ``member`` on no project at all, for tests that do the sharing themselves
    (``@member_as(None)``). Without it ``member`` is an editor (tests/conftest.py)."""
    return pytest.mark.parametrize(
        "member_role", roles, ids=[f"member-{role or 'alone'}" for role in roles]
    )
