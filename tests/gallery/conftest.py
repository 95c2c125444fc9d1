"""Gallery fixtures: a project owned by ``owner`` shared with a viewer and an editor."""

import pytest

from projects.models import Project, ProjectMembership, Role
from tests.conftest import _user, client_for


@pytest.fixture
def viewer(db):
    return _user("viewer")


@pytest.fixture
def editor(db):
    return _user("editor")


@pytest.fixture
def shared_project(owner, viewer, editor):
    project = Project.objects.create(owner=owner, name="Shared")
    ProjectMembership.objects.create(project=project, user=viewer, role=Role.VIEWER)
    ProjectMembership.objects.create(project=project, user=editor, role=Role.EDITOR)
    return project


@pytest.fixture
def viewer_api(viewer):
    return client_for(viewer)


@pytest.fixture
def editor_api(editor):
    return client_for(editor)


@pytest.fixture
def member_api(member):
    return client_for(member)
