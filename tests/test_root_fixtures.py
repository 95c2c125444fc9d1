"""The root conftest's fixtures do what its docstring says: how the users are related."""

import pytest

from projects.models import Project, ProjectMembership
from tests.users import member_as

pytestmark = pytest.mark.django_db


def roles(project):
    return dict(project.memberships.values_list("user__username", "role"))


# --- Users ------------------------------------------------------------------------------------

def test_member_is_an_editor_on_the_owners_shared_project(owner, member, shared_project):
    assert shared_project.owner == owner and shared_project.name == "Shared"
    assert roles(shared_project) == {"viewer": "viewer", "editor": "editor", "member": "editor"}
    assert list(Project.objects.all()) == [shared_project]


@member_as("viewer", "editor")
def test_member_role_is_chosen_per_test(member, member_role, shared_project, member_api):
    assert roles(shared_project)["member"] == member_role
    (row,) = member_api.get("/api/projects").json()["results"]
    assert (row["name"], row["role"]) == ("Shared", member_role)


@member_as(None)
def test_a_member_alone_is_on_no_project_and_makes_none(member):
    assert member.username == "member"
    assert not ProjectMembership.objects.exists() and not Project.objects.exists()


def test_the_shared_project_alone_has_its_viewer_and_editor(shared_project):
    assert roles(shared_project) == {"viewer": "viewer", "editor": "editor"}


def test_the_outsider_sees_nothing_of_it(outsider_api, member, shared_project):
    assert outsider_api.get("/api/projects").json()["results"] == []
    assert outsider_api.get(f"/api/projects/{shared_project.pk}").status_code == 404
