"""/api/projects: list, create, read, change with members, delete; every role."""

from decimal import Decimal

import pytest
from django.core.files.storage import default_storage

from gallery.models import Image
from projects.models import Project, ProjectMembership
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def test_create_and_read_a_project_with_counts_cover_and_members(owner, owner_api, member):
    response = owner_api.post(
        "/api/projects",
        {
            "name": " Posters ",
            "description": "spring",
            "members": [{"username": "member", "role": "editor"}],
        },
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "Posters"
    assert body["owner"] == "owner" and body["role"] == "owner"
    assert body["members"] == [{"username": "member", "role": "editor"}]
    assert (body["image_count"], Decimal(body["total_cost_usd"])) == (0, 0)
    project = Project.objects.get(pk=body["id"])
    first = make_image(owner, project=project, cost_usd=Decimal("0.5"))
    latest = make_image(member, project=project, cost_usd=Decimal("0.25"))
    body = owner_api.get(f"/api/projects/{project.pk}").json()
    assert body["image_count"] == 2
    assert Decimal(body["total_cost_usd"]) == Decimal("0.75")
    assert body["cover_image"] is None
    assert body["cover_thumbnail_url"] == f"http://testserver/files/thumbnails/{latest.pk}"
    body = owner_api.patch(
        f"/api/projects/{project.pk}", {"cover_image": first.pk}, format="json"
    ).json()
    assert body["cover_image"] == first.pk
    assert body["cover_thumbnail_url"] == f"http://testserver/files/thumbnails/{first.pk}"


def test_list_shows_owned_and_shared_projects_with_the_users_role(
    owner, viewer_api, owner_api, outsider_api, shared_project, django_assert_max_num_queries
):
    Project.objects.create(owner=owner, name="Private")
    for i in range(3):
        make_image(owner, project=shared_project, tags=[f"t{i}"])
    with django_assert_max_num_queries(3):
        rows = owner_api.get("/api/projects").json()["results"]
    assert {r["name"] for r in rows} == {"Shared", "Private"}
    (row,) = viewer_api.get("/api/projects").json()["results"]
    assert (row["name"], row["role"], row["image_count"]) == ("Shared", "viewer", 3)
    assert row["members"] == [
        {"username": "editor", "role": "editor"},
        {"username": "viewer", "role": "viewer"},
    ]
    assert outsider_api.get("/api/projects").json()["results"] == []


def test_anonymous_gets_401_or_403(api, shared_project):
    assert api.get("/api/projects").status_code in (401, 403)
    assert api.post("/api/projects", {"name": "x"}).status_code in (401, 403)
    for method in ("get", "patch", "put", "delete"):
        assert getattr(api, method)(f"/api/projects/{shared_project.pk}").status_code in (401, 403)


def test_outsider_gets_404_for_everything(outsider_api, shared_project):
    url = f"/api/projects/{shared_project.pk}"
    assert outsider_api.get(url).status_code == 404
    assert outsider_api.patch(url, {"name": "x"}, format="json").status_code == 404
    assert outsider_api.put(url, {"name": "x"}, format="json").status_code == 404
    assert outsider_api.delete(url).status_code == 404
    assert Project.objects.filter(pk=shared_project.pk, name="Shared").exists()


@pytest.mark.parametrize("who", ["viewer_api", "editor_api"])
def test_members_read_but_only_the_owner_changes_or_deletes(who, request, shared_project):
    client = request.getfixturevalue(who)
    url = f"/api/projects/{shared_project.pk}"
    assert client.get(url).status_code == 200
    assert client.patch(url, {"name": "Mine now"}, format="json").status_code == 403
    assert client.patch(url, {"members": []}, format="json").status_code == 403
    assert client.put(url, {"name": "Mine now"}, format="json").status_code == 403
    assert client.delete(url).status_code == 403
    assert client.delete(url + "?delete_images=true").status_code == 403
    shared_project.refresh_from_db()
    assert shared_project.name == "Shared"
    assert shared_project.memberships.count() == 2


def test_owner_replaces_members_and_access_follows(
    owner_api, viewer_api, editor_api, shared_project, owner, member
):
    image = make_image(owner, project=shared_project)
    response = owner_api.patch(
        f"/api/projects/{shared_project.pk}",
        {
            "members": [
                {"username": "viewer", "role": "editor"},
                {"username": "member", "role": "viewer"},
            ],
        },
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["members"] == [
        {"username": "member", "role": "viewer"},
        {"username": "viewer", "role": "editor"},
    ]
    assert editor_api.get(f"/api/gallery/{image.pk}").status_code == 404
    assert (
        viewer_api.patch(f"/api/gallery/{image.pk}", {"project": None}, format="json").status_code
        == 200
    )  # now an editor


def test_bad_project_input_is_a_400_with_field_errors(owner, owner_api, shared_project):
    other = make_image(owner)  # not in the project
    cases = [
        ({"name": ""}, "name"),
        ({"name": "Shared"}, "name"),
        ({"name": "New", "members": [{"username": "nobody", "role": "viewer"}]}, "members"),
        ({"name": "New", "members": [{"username": "viewer", "role": "admin"}]}, "members"),
        ({"name": "New", "members": [{"username": "owner", "role": "editor"}]}, "members"),
    ]
    for body, field in cases:
        response = owner_api.post("/api/projects", body, format="json")
        assert response.status_code == 400, (body, response.content)
        assert field in response.json(), response.json()
    response = owner_api.patch(
        f"/api/projects/{shared_project.pk}", {"cover_image": other.pk}, format="json"
    )
    assert response.status_code == 400
    assert "cover_image" in response.json()
    assert Project.objects.count() == 1


def test_delete_keeps_images_unassigned_in_their_owners_galleries(
    owner, owner_api, editor, editor_api, shared_project
):
    mine = make_image(owner, project=shared_project)
    theirs = make_image(editor, project=shared_project)
    assert owner_api.delete(f"/api/projects/{shared_project.pk}").status_code == 204
    assert not Project.objects.exists()
    assert not ProjectMembership.objects.exists()
    assert set(Image.objects.values_list("pk", "project")) == {(mine.pk, None), (theirs.pk, None)}
    assert [r["id"] for r in editor_api.get("/api/gallery").json()["results"]] == [theirs.pk]


def test_delete_with_delete_images_removes_images_and_files(
    owner, owner_api, shared_project, django_capture_on_commit_callbacks
):
    inside = make_image(owner, project=shared_project)
    outside = make_image(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_api.delete(f"/api/projects/{shared_project.pk}?delete_images=true")
    assert response.status_code == 204
    assert list(Image.objects.values_list("pk", flat=True)) == [outside.pk]
    assert not default_storage.exists(inside.file)
    assert default_storage.exists(outside.file)


def test_moving_the_cover_image_out_clears_the_cover(owner, owner_api, shared_project):
    cover = make_image(owner, project=shared_project)
    other = make_image(owner, project=shared_project)
    owner_api.patch(f"/api/projects/{shared_project.pk}", {"cover_image": cover.pk}, format="json")
    owner_api.post(
        "/api/gallery/bulk",
        {"ids": [other.pk], "action": "move", "project": shared_project.pk},
        format="json",
    )
    shared_project.refresh_from_db()
    assert shared_project.cover_image_id == cover.pk
    owner_api.patch(f"/api/gallery/{cover.pk}", {"project": None}, format="json")
    shared_project.refresh_from_db()
    assert shared_project.cover_image_id is None


def test_a_rename_that_loses_a_race_for_the_name_is_a_400(
    owner, owner_api, shared_project, monkeypatch
):
    # Another request takes the name between the check and the save: the unique
    # constraint's IntegrityError is the same field error, not a 500.
    from projects import services

    Project.objects.create(owner=owner, name="Taken")
    monkeypatch.setattr(services, "_check_name", lambda owner, name, project=None: name)
    response = owner_api.patch(
        f"/api/projects/{shared_project.pk}", {"name": "Taken"}, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"name": ["You already have a project with this name."]}
