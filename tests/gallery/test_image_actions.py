"""The shared image action bar: what it offers to whom, its project picker (only projects the
move accepts), and the dated download name it links to."""

import re

import pytest
from django.template import Context, Template
from django.test import RequestFactory
from django.utils import timezone

from gallery.models import Image
from gallery.services import move_targets
from projects.models import Project, ProjectMembership, Role
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def render_bar(user, image, **extra) -> str:
    request = RequestFactory().get("/")
    request.user = user
    passed = " ".join(f"{name}={name}" for name in extra)
    template = Template(
        '{% include "gallery/_image_actions.html" with image=image ' + passed + " %}"
    )
    return template.render(Context({"request": request, "image": image, **extra}))


def actions_in(html: str) -> list[str]:
    return re.findall(r'data-action="(\w+)"', html)


def test_the_owner_gets_every_action(owner):
    image = make_image(owner, prompt="a red fox in snow", favorite=True, rating=3)
    html = render_bar(owner, image)
    assert actions_in(html) == [
        "favorite",
        "rating",
        "project",
        "tools",
        "download",
        "remix",
        "copy",
        "delete",
    ]
    assert 'role="toolbar"' in html and 'aria-pressed="true"' in html
    assert 'aria-label="Rating: 3 of 5"' in html
    assert f'href="/generate/?remix={image.pk}"' in html
    assert 'data-prompt="a red fox in snow"' in html
    assert "js/image_actions.js" in html and "css/image_actions.css" in html


def test_a_viewer_of_a_shared_project_cannot_change_move_or_delete(owner, viewer, shared_project):
    image = make_image(owner, project=shared_project)
    assert actions_in(render_bar(viewer, image)) == ["tools", "download", "remix", "copy"]


def test_an_editor_may_move_but_not_change(owner, editor, shared_project):
    image = make_image(owner, project=shared_project)
    assert actions_in(render_bar(editor, image)) == [
        "project",
        "tools",
        "download",
        "remix",
        "copy",
    ]


def test_what_the_page_passes_saves_the_queries(owner, django_assert_num_queries):
    image = make_image(owner)
    image = Image.objects.select_related("generation").get(pk=image.pk)
    with django_assert_num_queries(0):
        html = render_bar(owner, image, can_change=True, can_move=True)
    assert "delete" in actions_in(html)


def test_download_links_the_metadata_file_with_a_dated_meaningful_name(owner):
    image = make_image(owner, prompt="A red fox in snow")
    day = f"{timezone.localtime(image.created_at):%Y-%m-%d}"
    html = render_bar(owner, image)
    assert f'href="/api/gallery/{image.pk}/download"' in html
    assert f'download="{day}-a-red-fox-in-snow-{image.pk}.png"' in html


def project_picker(client, image) -> list[str]:
    response = client.get(f"/gallery/images/{image.pk}/projects/")
    assert response.status_code == 200
    return re.findall(r'data-project="(\d*)"', response.content.decode())


def test_picker_lists_every_project_the_owner_may_add_to(
    client, owner, viewer, shared_project, outsider
):
    mine = Project.objects.create(owner=owner, name="Mine")
    theirs = Project.objects.create(owner=outsider, name="Theirs")
    ProjectMembership.objects.create(project=theirs, user=owner, role=Role.EDITOR)
    looking = Project.objects.create(owner=outsider, name="Looking")
    ProjectMembership.objects.create(project=looking, user=owner, role=Role.VIEWER)
    image = make_image(owner, project=mine)
    client.force_login(owner)
    # By name; "No project" last; never a project the owner may only view.
    assert project_picker(client, image) == [
        str(mine.pk),
        str(shared_project.pk),
        str(theirs.pk),
        "",
    ]


def test_picker_offers_an_editor_only_the_images_owners_projects(
    client, owner, editor, shared_project
):
    own = Project.objects.create(owner=editor, name="Editor's own")
    image = make_image(owner, project=shared_project)
    client.force_login(editor)
    listed = project_picker(client, image)
    assert str(own.pk) not in listed  # would show the owner's image to the editor's people
    assert listed == [str(shared_project.pk), ""]


def test_picker_offers_a_viewer_nothing_and_an_outsider_a_404(
    client, owner, viewer, outsider, shared_project
):
    image = make_image(owner, project=shared_project)
    client.force_login(viewer)
    assert project_picker(client, image) == []
    client.force_login(outsider)
    assert client.get(f"/gallery/images/{image.pk}/projects/").status_code == 404


@pytest.mark.parametrize("who", ["owner", "editor", "viewer", "outsider"])
def test_move_targets_are_exactly_the_projects_the_move_accepts(
    request, who, owner, editor, viewer, outsider, shared_project
):
    user = request.getfixturevalue(who)
    Project.objects.create(owner=owner, name="Owner's second")
    Project.objects.create(owner=editor, name="Editor's")
    other = Project.objects.create(owner=outsider, name="Outsider's")
    ProjectMembership.objects.create(project=other, user=editor, role=Role.EDITOR)
    ProjectMembership.objects.create(project=other, user=owner, role=Role.EDITOR)
    image = make_image(owner, project=shared_project)
    offered = set(move_targets(user, image))
    for project in Project.objects.all():
        accepted = Image.objects.movable_to(user, project).filter(pk=image.pk).exists()
        assert (project in offered) == accepted, (who, project.name)
