"""Security fixtures: the shared world of tests/security/world.py, around the root conftest's
``shared_project`` (owner, viewer, editor) and ``outsider``."""

import pytest
from django.test import RequestFactory

from tests.security.world import build_world, ensure_admin_rows


@pytest.fixture
def world(shared_project, viewer, editor, outsider, admin_user):
    """The owner's shared project and everything around it, plus a row per admin model."""
    built = build_world(shared_project, viewer, editor, outsider, admin_user)
    built.admin_rows = ensure_admin_rows(built)
    request = RequestFactory().get("/admin/")
    request.user = admin_user
    built.staff_request = request
    return built
