"""The gallery source of live updates: new images, for everyone who may see them."""

import pytest

from gallery import live
from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def test_the_first_call_is_the_newest_id_with_no_events(owner):
    image = make_image(owner)
    assert live.new_images(None) == ([], image.pk)


def test_an_image_without_a_project_is_for_its_owner(owner, outsider):
    _, marker = live.new_images(None)
    image = make_image(owner)
    events, marker = live.new_images(marker)
    assert events == [({owner.pk}, "image", {"id": image.pk, "project": None})]
    assert live.new_images(marker) == ([], marker)


def test_an_image_in_a_project_is_for_its_owner_the_projects_owner_and_members(
    owner, viewer, editor, outsider, shared_project
):
    _, marker = live.new_images(None)
    image = make_image(editor, project=shared_project)
    events, _ = live.new_images(marker)
    assert events == [
        ({owner.pk, viewer.pk, editor.pk}, "image", {"id": image.pk, "project": shared_project.pk})
    ]


def test_a_project_without_members_is_its_owner_only(owner):
    project = Project.objects.create(owner=owner, name="Solo")
    _, marker = live.new_images(None)
    image = make_image(owner, project=project)
    assert live.new_images(marker)[0] == [
        ({owner.pk}, "image", {"id": image.pk, "project": project.pk})
    ]


def test_a_large_burst_is_announced_in_batches(owner, monkeypatch):
    monkeypatch.setattr(live, "BATCH", 2)
    _, marker = live.new_images(None)
    ids = [make_image(owner).pk for _ in range(3)]
    first, marker = live.new_images(marker)
    second, marker = live.new_images(marker)
    assert [e[2]["id"] for e in first + second] == ids
