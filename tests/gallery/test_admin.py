"""The admin: images with thumbnails, rating and tag filters, tag search; projects with
members inline."""

import pytest

from gallery.models import Image
from projects.models import Project, ProjectMembership
from tests.gallery.factories import make_image
from tests.users import member_as

pytestmark = pytest.mark.django_db


def test_image_admin_filters_and_searches_by_rating_and_tags(client, admin_user, owner):
    tagged = make_image(owner, tags=["seascape"], rating=4)
    make_image(owner, title="plain")
    client.force_login(admin_user)
    body = client.get("/admin/gallery/image/?q=seascape").content.decode()
    assert f"/files/thumbnails/{tagged.pk}" in body
    assert "1 result" in body
    assert "1 result" in client.get("/admin/gallery/image/?rating=4").content.decode()
    assert client.get(f"/admin/gallery/image/{tagged.pk}/change/").status_code == 200


def test_editing_tags_in_the_admin_keeps_search_in_step(client, admin_user, owner):
    image = make_image(owner, tags=["old"])
    client.force_login(admin_user)
    from gallery.models import Tag

    new = Tag.objects.create(name="fresh")
    response = client.post(
        f"/admin/gallery/image/{image.pk}/change/",
        {
            "generation": image.generation_id,
            "owner": owner.pk,
            "project": "",
            "index": 0,
            "rating": 2,
            "tags": [new.pk],
            "title": "",
            "notes": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    image = Image.objects.get(pk=image.pk)
    assert image.tag_names == "fresh"


@member_as(None)  # counts the one membership it makes
def test_project_admin_edits_members_inline(client, admin_user, owner, member):
    project = Project.objects.create(owner=owner, name="Admin made")
    client.force_login(admin_user)
    assert client.get("/admin/projects/project/").status_code == 200
    body = client.get(f"/admin/projects/project/{project.pk}/change/").content.decode()
    assert "memberships-TOTAL_FORMS" in body
    response = client.post(
        f"/admin/projects/project/{project.pk}/change/",
        {
            "owner": owner.pk,
            "name": "Admin made",
            "description": "",
            "cover_image": "",
            "memberships-TOTAL_FORMS": 1,
            "memberships-INITIAL_FORMS": 0,
            "memberships-MIN_NUM_FORMS": 0,
            "memberships-MAX_NUM_FORMS": 1000,
            "memberships-0-user": member.pk,
            "memberships-0-role": "editor",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert ProjectMembership.objects.get().role == "editor"
