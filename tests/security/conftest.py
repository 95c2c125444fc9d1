"""Security fixtures: the shared world of tests/security/world.py."""

import pytest
from django.test import RequestFactory

from tests.gallery.conftest import editor, viewer  # noqa: F401
from tests.security.world import build_world, ensure_admin_rows


@pytest.fixture
def world(owner, viewer, editor, outsider, admin_user):  # noqa: F811
    """The owner's shared project and everything around it, plus a row per admin model."""
    built = build_world(owner, viewer, editor, outsider, admin_user)
    built.admin_rows = ensure_admin_rows(built)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    built.staff_request = request
    return built
