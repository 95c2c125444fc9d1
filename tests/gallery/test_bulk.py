"""POST /api/gallery/bulk: every action, all or nothing, only over images the user may change."""

import pytest
from django.core.files.storage import default_storage

from gallery.models import Image
from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def bulk(client, **body):
    return client.post("/api/gallery/bulk", body, format="json")


def state(image):
    image.refresh_from_db()
    return (image.favorite, image.rating, image.project_id, image.tag_names)


def test_favorite_unfavorite_rating_and_tags_apply_to_every_listed_image(owner, owner_api):
    images = [make_image(owner) for _ in range(3)]
    pks = [i.pk for i in images]
    response = bulk(owner_api, ids=pks, action="favorite")
    assert response.status_code == 200
    assert response.json() == {"action": "favorite", "count": 3, "ids": pks}
    assert bulk(owner_api, ids=pks, action="set_rating", rating=4).status_code == 200
    assert bulk(owner_api, ids=pks, action="add_tag", tag="Keep").status_code == 200
    assert bulk(owner_api, ids=pks[:1], action="unfavorite").status_code == 200
    assert [state(i) for i in images] == [
        (False, 4, None, "keep"),
        (True, 4, None, "keep"),
        (True, 4, None, "keep"),
    ]
    assert bulk(owner_api, ids=pks, action="remove_tag", tag="keep").status_code == 200
    assert {state(i)[3] for i in images} == {""}
    assert set(images[0].tags.values_list("name", flat=True)) == set()


def test_move_to_a_project_and_back_out(owner, owner_api):
    project = Project.objects.create(owner=owner, name="Target")
    images = [make_image(owner) for _ in range(2)]
    pks = [i.pk for i in images]
    assert bulk(owner_api, ids=pks, action="move", project=project.pk).status_code == 200
    assert set(Image.objects.filter(pk__in=pks).values_list("project", flat=True)) == {project.pk}
    assert bulk(owner_api, ids=pks, action="move", project=None).status_code == 200
    assert set(Image.objects.filter(pk__in=pks).values_list("project", flat=True)) == {None}


def test_delete_removes_rows_and_then_unshared_files(
    owner, owner_api, django_capture_on_commit_callbacks
):
    images = [make_image(owner) for _ in range(2)]
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(owner_api, ids=[i.pk for i in images], action="delete")
    assert response.status_code == 200
    assert not Image.objects.exists()
    assert not any(default_storage.exists(i.file) for i in images)


@pytest.mark.parametrize(
    "action,extra",
    [
        ("delete", {}),
        ("favorite", {}),
        ("set_rating", {"rating": 5}),
        ("add_tag", {"tag": "x"}),
        ("move", {"project": None}),
    ],
)
def test_another_users_id_changes_nothing_and_is_named(
    owner, owner_api, outsider, action, extra, django_capture_on_commit_callbacks
):
    mine = [
        make_image(owner, project=Project.objects.create(owner=owner, name=f"P{i}"))
        for i in range(2)
    ]
    theirs = make_image(outsider)
    before = [state(i) for i in mine]
    with django_capture_on_commit_callbacks(execute=True):
        response = bulk(
            owner_api, ids=[mine[0].pk, theirs.pk, mine[1].pk, 999999], action=action, **extra
        )
    assert response.status_code == 404
    body = response.json()
    assert body["ids"] == [theirs.pk, 999999]
    assert "Nothing was changed" in body["detail"]
    assert [state(i) for i in mine] == before
    assert Image.objects.count() == 3


def test_viewer_cannot_bulk_change_shared_images_and_editor_may_only_move_them(
    owner, viewer_api, editor_api, shared_project
):
    image = make_image(owner, project=shared_project)
    for action, extra in (("favorite", {}), ("delete", {}), ("move", {"project": None})):
        response = bulk(viewer_api, ids=[image.pk], action=action, **extra)
        assert response.status_code == 404
        assert response.json()["ids"] == [image.pk]
    assert bulk(editor_api, ids=[image.pk], action="favorite").status_code == 404
    assert bulk(editor_api, ids=[image.pk], action="move", project=None).status_code == 200
    assert state(image)[2] is None


def test_bad_bodies_answer_400_with_field_errors(owner, owner_api):
    image = make_image(owner)
    cases = [
        ({"ids": [], "action": "favorite"}, "ids"),
        ({"ids": ["a"], "action": "favorite"}, "ids"),
        ({"ids": [image.pk], "action": "explode"}, "action"),
        ({"ids": [image.pk], "action": "move"}, "project"),
        ({"ids": [image.pk], "action": "set_rating", "rating": 9}, "rating"),
        ({"ids": [image.pk], "action": "set_rating"}, "rating"),
        ({"ids": [image.pk], "action": "add_tag"}, "tag"),
        ({"ids": [image.pk], "action": "add_tag", "tag": "<script>"}, "tag"),
        ({"ids": [image.pk], "action": "move", "project": 424242}, "project"),
    ]
    for body, field in cases:
        response = owner_api.post("/api/gallery/bulk", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), (body, response.json())
    assert state(image) == (False, 0, None, "")
