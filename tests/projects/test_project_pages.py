"""The project pages: members shown with the owner and counted, destructive actions styled
and confirmed in a danger zone below everything else, a cover placeholder, the settings
panel collapsed, "Generate into this project", and leaving a shared project."""

import re

import pytest
from django.test import Client

from projects.models import Project, ProjectMembership
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def client_for(user) -> Client:
    """Django's test client signed in as ``user`` (the pages use the session)."""
    client = Client()
    client.force_login(user)
    return client


def page(user, project):
    response = client_for(user).get(f"/projects/{project.pk}/")
    assert response.status_code == 200
    return response.content.decode()


def test_members_list_the_owner_and_count_them(owner, shared_project):
    html = page(owner, shared_project)
    assert "<summary>Members (3) and settings</summary>" in html
    names = re.findall(r'<span class="member-name">([^<]+)</span>', html)
    roles = re.findall(r'<span class="muted member-role">([^<]+)</span>', html)
    listed = list(zip(names, roles, strict=True))
    assert listed[0] == ("owner", "owner")  # first, with their role
    assert sorted(listed[1:]) == [("editor", "editor"), ("viewer", "viewer")]


def test_a_project_without_members_counts_its_owner(owner):
    project = Project.objects.create(owner=owner, name="Solo")
    assert "<summary>Members (1) and settings</summary>" in page(owner, project)


def test_the_settings_panel_is_collapsed(owner):
    # It used to open itself for an owner with no members yet.
    project = Project.objects.create(owner=owner, name="Solo")
    (details,) = re.findall(r"<details[^>]*project-settings[^>]*>", page(owner, project))
    assert " open" not in details


def test_delete_is_a_confirmed_danger_button_in_a_danger_zone_after_save(owner, shared_project):
    html = page(owner, shared_project)
    form = re.search(r'<form[^>]*action="/projects/\d+/delete/"[^>]*>.*?</form>', html, re.S)
    assert 'data-confirm="Delete this project?"' in form.group(0)
    assert '<button class="danger" type="submit">Delete project</button>' in form.group(0)
    zone = html.index("Danger zone")
    assert html.index(">Save</button>") < html.index('class="browser"') < zone < form.start()


def test_remove_member_is_confirmed_and_destructive(owner, shared_project):
    html = page(owner, shared_project)
    removes = re.findall(
        r'<form[^>]*action="/projects/\d+/members/"[^>]*data-confirm="([^"]+)"', html
    )
    assert sorted(removes) == ["Remove editor from Shared?", "Remove viewer from Shared?"]
    assert 'class="link danger" type="submit" aria-label="Remove viewer"' in html


@pytest.mark.parametrize("role", ["owner", "editor"])
def test_generate_into_this_project(role, request, shared_project):
    user = request.getfixturevalue(role)
    html = page(user, shared_project)
    assert f'href="/generate/?project={shared_project.pk}">Generate into this project</a>' in html


def test_a_viewer_is_not_offered_to_generate_into_it_but_may_leave(viewer, shared_project):
    html = page(viewer, shared_project)
    assert "Generate into this project" not in html and "Delete project" not in html
    assert f'action="/projects/{shared_project.pk}/leave/"' in html
    assert '<button class="danger" type="submit">Leave project</button>' in html


def test_a_member_leaves_a_shared_project(viewer, shared_project):
    client = client_for(viewer)
    response = client.post(f"/projects/{shared_project.pk}/leave/")
    assert response.status_code == 302 and response["Location"] == "/projects/"
    assert not ProjectMembership.objects.filter(project=shared_project, user=viewer).exists()
    assert ProjectMembership.objects.filter(project=shared_project).count() == 1  # the editor
    assert client.get(f"/projects/{shared_project.pk}/").status_code == 404


def test_the_owner_cannot_leave(owner, shared_project):
    client = client_for(owner)
    response = client.post(f"/projects/{shared_project.pk}/leave/", follow=True)
    assert "delete it instead of leaving it" in response.content.decode()
    assert Project.objects.filter(pk=shared_project.pk).exists()
    assert ProjectMembership.objects.filter(project=shared_project).count() == 2


def test_an_outsider_cannot_leave_what_they_cannot_see(outsider, shared_project):
    assert client_for(outsider).post(f"/projects/{shared_project.pk}/leave/").status_code == 404


def test_cards_show_a_cover_or_a_placeholder_with_the_initial(owner):
    empty = Project.objects.create(owner=owner, name="moodboard")
    full = Project.objects.create(owner=owner, name="Posters")
    image = make_image(owner, project=full)
    html = client_for(owner).get("/projects/").content.decode()
    assert '<span class="project-cover placeholder" aria-hidden="true">M</span>' in html
    assert f'<img class="project-cover" src="/files/thumbnails/{image.pk}"' in html
    assert html.count("project-cover placeholder") == 1
    assert empty.name in html


def test_cards_count_the_owner_as_a_member(owner, shared_project):
    html = client_for(owner).get("/projects/").content.decode()
    assert "Yours · 3 members" in html
