"""PUT/PATCH, DELETE, favorite and remix of one image, for every role."""

import pytest
from django.core.files.storage import default_storage

from gallery.models import Image
from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def test_owner_changes_title_notes_tags_rating_favorite_and_project(owner, owner_api):
    project = Project.objects.create(owner=owner, name="Mine")
    image = make_image(owner)
    response = owner_api.patch(
        f"/api/gallery/{image.pk}",
        {
            "title": "Dawn",
            "notes": "keep",
            "tags": [" Sea ", "sea", "Blue  Hour"],
            "rating": 5,
            "favorite": True,
            "project": project.pk,
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["title"], body["notes"], body["rating"], body["favorite"], body["project"]) == (
        "Dawn",
        "keep",
        5,
        True,
        project.pk,
    )
    assert body["tags"] == ["blue hour", "sea"]
    image.refresh_from_db()
    assert image.tag_names == "blue hour, sea"


def test_put_takes_the_same_fields(owner, owner_api):
    image = make_image(owner)
    response = owner_api.put(f"/api/gallery/{image.pk}", {"title": "T", "rating": 1}, format="json")
    assert response.status_code == 200
    assert response.json()["title"] == "T"


def test_bad_values_answer_400_with_field_errors_and_change_nothing(owner, owner_api):
    image = make_image(owner, title="kept")
    response = owner_api.patch(
        f"/api/gallery/{image.pk}",
        {"rating": 6, "tags": ["ok", "<b>"], "favorite": "perhaps"},
        format="json",
    )
    assert response.status_code == 400
    assert {"rating", "favorite"} <= set(response.json())
    response = owner_api.patch(
        f"/api/gallery/{image.pk}", {"title": "new", "tags": ["<b>"]}, format="json"
    )
    assert response.status_code == 400
    assert "tags" in response.json()
    image.refresh_from_db()
    assert image.title == "kept"


def test_moving_into_a_project_the_user_may_not_write_is_a_400(
    owner, owner_api, outsider, viewer, shared_project
):
    theirs = Project.objects.create(owner=outsider, name="Theirs")
    image = make_image(viewer)
    from tests.users import client_for

    for client, target, subject in (
        (owner_api, theirs.pk, make_image(owner)),
        (client_for(viewer), shared_project.pk, image),
    ):
        response = client.patch(f"/api/gallery/{subject.pk}", {"project": target}, format="json")
        assert response.status_code == 400
        assert "project" in response.json()
        subject.refresh_from_db()
        assert subject.project_id is None


def test_viewer_may_read_but_not_change_favorite_delete_or_move(owner, viewer_api, shared_project):
    image = make_image(owner, project=shared_project, title="orig")
    assert viewer_api.get(f"/api/gallery/{image.pk}").status_code == 200
    assert viewer_api.get(f"/api/gallery/{image.pk}/remix").status_code == 200
    assert (
        viewer_api.patch(f"/api/gallery/{image.pk}", {"title": "x"}, format="json").status_code
        == 403
    )
    assert (
        viewer_api.patch(f"/api/gallery/{image.pk}", {"project": None}, format="json").status_code
        == 403
    )
    assert viewer_api.post(f"/api/gallery/{image.pk}/favorite").status_code == 403
    assert viewer_api.delete(f"/api/gallery/{image.pk}").status_code == 403
    image.refresh_from_db()
    assert (image.title, image.project_id, image.favorite) == ("orig", shared_project.pk, False)


def test_editor_moves_images_in_and_out_but_cannot_edit_others_metadata(
    owner, editor, editor_api, shared_project
):
    owners = make_image(owner, project=shared_project)
    own = make_image(editor)
    assert (
        editor_api.patch(
            f"/api/gallery/{own.pk}", {"project": shared_project.pk}, format="json"
        ).status_code
        == 200
    )
    assert (
        editor_api.patch(f"/api/gallery/{owners.pk}", {"project": None}, format="json").status_code
        == 200
    )
    owners.refresh_from_db()
    own.refresh_from_db()
    assert (owners.project_id, own.project_id) == (None, shared_project.pk)
    # Out of the project, the owner's image is the owner's alone again.
    assert editor_api.get(f"/api/gallery/{owners.pk}").status_code == 404
    assert (
        editor_api.patch(f"/api/gallery/{own.pk}", {"rating": 3}, format="json").status_code == 200
    )
    in_project = make_image(owner, project=shared_project)
    assert (
        editor_api.patch(f"/api/gallery/{in_project.pk}", {"rating": 3}, format="json").status_code
        == 403
    )
    assert editor_api.delete(f"/api/gallery/{in_project.pk}").status_code == 403


def test_favorite_toggles_and_answers_the_new_state(owner, owner_api):
    image = make_image(owner)
    assert owner_api.post(f"/api/gallery/{image.pk}/favorite").json() == {
        "id": image.pk,
        "favorite": True,
    }
    assert owner_api.post(f"/api/gallery/{image.pk}/favorite").json()["favorite"] is False


def test_delete_removes_the_row_then_the_files_after_commit(
    owner, owner_api, django_capture_on_commit_callbacks
):
    image = make_image(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        assert owner_api.delete(f"/api/gallery/{image.pk}").status_code == 204
        assert not Image.objects.filter(pk=image.pk).exists()
        # Before the commit the files are still there.
        assert default_storage.exists(image.file)
        assert default_storage.exists(image.thumbnail)
    assert callbacks
    for callback in callbacks:
        callback()
    assert not default_storage.exists(image.file)
    assert not default_storage.exists(image.thumbnail)
    assert owner_api.get(f"/api/gallery/{image.pk}").status_code == 404


def test_delete_keeps_files_another_row_shares(
    owner, owner_api, member, django_capture_on_commit_callbacks
):
    image = make_image(owner, color=7)
    twin = make_image(member, color=7)  # same bytes, stored once
    assert (image.file, image.thumbnail) == (twin.file, twin.thumbnail)
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/api/gallery/{image.pk}").status_code == 204
    assert default_storage.exists(twin.file)
    assert default_storage.exists(twin.thumbnail)


def test_remix_is_a_ready_generate_body(owner, owner_api, run_jobs):
    run_jobs(
        owner_api,
        {
            "prompt": "a blue square",
            "width": 64,
            "height": 64,
            "seed": 9,
            "steps": 12,
            "cfg_scale": 5.5,
        },
    )
    image = Image.objects.get()
    body = owner_api.get(f"/api/gallery/{image.pk}/remix").json()
    assert body == {
        "prompt": "a blue square",
        "negative_prompt": "",
        "provider": "offline",
        "model": image.generation.model,
        "width": 64,
        "height": 64,
        "num_images": 1,
        "steps": 12,
        "cfg_scale": 5.5,
        "seed": 9,
        "params": {},
        "project": None,
    }
    run_jobs(owner_api, body)
    assert Image.objects.count() == 2


def test_remix_keeps_the_project_only_when_the_user_may_generate_into_it(
    owner, editor_api, viewer_api, shared_project
):
    image = make_image(owner, project=shared_project)
    assert editor_api.get(f"/api/gallery/{image.pk}/remix").json()["project"] == (shared_project.pk)
    assert viewer_api.get(f"/api/gallery/{image.pk}/remix").json()["project"] is None


def test_editor_generates_into_the_shared_project_and_viewer_cannot(
    owner, owner_api, editor_api, viewer_api, run_jobs, shared_project
):
    run_jobs(
        editor_api, {"prompt": "team work", "width": 64, "height": 64, "project": shared_project.pk}
    )
    image = Image.objects.get()
    assert (image.owner.username, image.project_id) == ("editor", shared_project.pk)
    assert owner_api.get(f"/api/gallery/{image.pk}").status_code == 200
    response = viewer_api.post(
        "/api/generate",
        {"prompt": "x", "width": 64, "height": 64, "project": shared_project.pk},
        format="json",
    )
    assert response.status_code == 400
    assert "project" in response.json()
