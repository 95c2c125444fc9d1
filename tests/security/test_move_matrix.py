"""The move matrix: every operation that changes which project an object belongs to, as every
relation an actor can have to the object, into every kind of target.

The rule (docs/security.md, "Moves between containers and malformed input"): the actor must
be allowed to take the object out of its container (``move``), and the move must not show
the object to anyone its owner had not already shared it with, unless the actor is the
owner. For images: a non-owner may move an image only to no project or into another project
owned by the image's owner that the actor may contribute to; the owner may move their image
into any project they may contribute to. Style presets: only their owner shares them.

A refused move changes nothing in the database.
"""

from dataclasses import dataclass

import pytest

from gallery.models import Image
from generation.models import StylePreset
from projects.models import Project, ProjectMembership, Role
from tests.gallery.factories import make_image
from tests.users import client_for, make_user

ACTORS = ("object_owner", "source_owner", "editor", "viewer", "outsider")
# no project; a project of the object's owner; one of the actor's; one of a third user where
# the actor is an editor; and one the actor may not contribute to at all.
TARGETS = ("none", "owners_project", "actors_project", "third_party_project", "unwritable")


@dataclass
class MoveWorld:
    users: dict
    image: Image
    style: StylePreset
    source: Project
    targets: dict


def _project(owner, name, editors=(), viewers=()):
    project = Project.objects.create(owner=owner, name=name)
    for user in editors:
        ProjectMembership.objects.create(project=project, user=user, role=Role.EDITOR)
    for user in viewers:
        ProjectMembership.objects.create(project=project, user=user, role=Role.VIEWER)
    return project


@pytest.fixture
def move_world(db):
    """Alice's image and preset in Pat's project S (Alice is an editor there, Ed an editor,
    Vic a viewer; Otto sees nothing of it). Every actor may contribute to Alice's other
    project and to Thea's; each actor owns a project of their own; nobody but Thea may
    contribute to her private project."""
    alice, pat, ed, vic, otto, thea = (
        make_user(name) for name in ("alice", "pat", "ed", "vic", "otto", "thea")
    )
    users = {
        "object_owner": alice,
        "source_owner": pat,
        "editor": ed,
        "viewer": vic,
        "outsider": otto,
    }
    source = _project(pat, "S", editors=[alice, ed], viewers=[vic])
    owners_project = _project(alice, "Alice's other", editors=[pat, ed, vic, otto])
    third_party = _project(thea, "Thea's", editors=[alice, pat, ed, vic, otto])
    unwritable = _project(thea, "Thea's private")
    own = {role: _project(user, f"{user.username}'s own") for role, user in users.items()}
    image = make_image(alice, project=source)
    style = StylePreset.objects.create(
        owner=alice, name="Alice's style", template="{prompt}, ink", project=source
    )
    targets = {
        "none": None,
        "owners_project": owners_project,
        "third_party_project": third_party,
        "unwritable": unwritable,
    }
    return MoveWorld(users, image, style, source, {**targets, "own": own})


def _target_id(world, actor, target):
    if target == "actors_project":
        return world.targets["own"][actor].pk
    project = world.targets[target]
    return None if project is None else project.pk


def _snapshot():
    return (
        sorted(Image.objects.values_list("pk", "project_id", "owner_id")),
        sorted(StylePreset.objects.values_list("pk", "project_id", "owner_id")),
        sorted(Project.objects.values_list("pk", "owner_id", "cover_image_id")),
        sorted(ProjectMembership.objects.values_list("project_id", "user_id", "role")),
    )


# actor -> target -> status, for a single image PATCH.
IMAGE_PATCH = {
    "object_owner": {
        "none": 200,
        "owners_project": 200,
        "actors_project": 200,
        "third_party_project": 200,
        "unwritable": 400,
    },
    "source_owner": {
        "none": 200,
        "owners_project": 200,
        "actors_project": 403,
        "third_party_project": 403,
        "unwritable": 400,
    },
    "editor": {
        "none": 200,
        "owners_project": 200,
        "actors_project": 403,
        "third_party_project": 403,
        "unwritable": 400,
    },
    "viewer": dict.fromkeys(TARGETS, 403),
    "outsider": dict.fromkeys(TARGETS, 404),
}
# The bulk action refuses the ids it may not move there with 404 and the ids (as for every
# other id it may not act on); a target the user may not contribute to is a 400 first.
IMAGE_BULK = {
    actor: {
        target: (400 if target == "unwritable" else 404 if status in (403, 404) else status)
        for target, status in row.items()
    }
    for actor, row in IMAGE_PATCH.items()
}
STYLE_SHARE = {
    "object_owner": {
        "none": 200,
        "owners_project": 200,
        "actors_project": 200,
        "third_party_project": 200,
        "unwritable": 400,
    },
    "source_owner": dict.fromkeys(TARGETS, 403),
    "editor": dict.fromkeys(TARGETS, 403),
    "viewer": dict.fromkeys(TARGETS, 403),
    "outsider": dict.fromkeys(TARGETS, 404),
}


def _image_patch(client, world, project):
    return client.patch(f"/api/gallery/{world.image.pk}", {"project": project}, format="json")


def _image_bulk(client, world, project):
    body = {"ids": [world.image.pk], "action": "move", "project": project}
    return client.post("/api/gallery/bulk", body, format="json")


def _style_share(client, world, project):
    return client.patch(
        f"/api/prompts/styles/{world.style.pk}", {"project": project}, format="json"
    )


OPERATIONS = {
    "image_patch": (_image_patch, IMAGE_PATCH, lambda w: Image.objects.get(pk=w.image.pk)),
    "image_bulk_move": (_image_bulk, IMAGE_BULK, lambda w: Image.objects.get(pk=w.image.pk)),
    "style_share": (_style_share, STYLE_SHARE, lambda w: StylePreset.objects.get(pk=w.style.pk)),
}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_move_matrix(move_world, operation, actor, target):
    call, expected_table, reload = OPERATIONS[operation]
    expected = expected_table[actor][target]
    project = _target_id(move_world, actor, target)
    before = _snapshot()
    response = call(client_for(move_world.users[actor]), move_world, project)
    assert response.status_code == expected, response.content
    assert response["Content-Type"] == "application/json"
    if expected == 200:
        assert reload(move_world).project_id == project
    else:
        assert "detail" in response.json() or "project" in response.json()
        assert _snapshot() == before


def test_an_editor_cannot_hand_the_owners_image_to_their_own_audience(db):
    """The probe: Dave, an editor of Alice's project P, makes his own project Q shared with
    Carol and moves Alice's image into it; Carol must never see the image or its file."""
    alice, dave, carol = make_user("alice"), make_user("dave"), make_user("carol")
    p = _project(alice, "P", editors=[dave])
    q = _project(dave, "Q", viewers=[carol])
    image = make_image(alice, project=p)
    dave_api, carol_api = client_for(dave), client_for(carol)

    single = dave_api.patch(f"/api/gallery/{image.pk}", {"project": q.pk}, format="json")
    bulk = dave_api.post(
        "/api/gallery/bulk", {"ids": [image.pk], "action": "move", "project": q.pk}, format="json"
    )

    assert single.status_code == 403
    assert bulk.status_code == 404 and bulk.json()["ids"] == [image.pk]
    image.refresh_from_db()
    assert image.project_id == p.pk
    assert carol_api.get(f"/api/gallery/{image.pk}").status_code == 404
    assert carol_api.get(f"/files/images/{image.pk}").status_code == 404
    assert carol_api.get(f"/files/thumbnails/{image.pk}").status_code == 404
    # Dave may still hand the image back to Alice alone.
    response = dave_api.patch(f"/api/gallery/{image.pk}", {"project": None}, format="json")
    assert response.status_code == 200
    image.refresh_from_db()
    assert image.project_id is None


def test_a_bulk_move_with_one_image_that_may_not_go_there_moves_nothing(db):
    """All or nothing: the editor's own image may go into their project, the owner's may
    not, so neither moves and the refused id is named."""
    alice, dave = make_user("alice"), make_user("dave")
    p = _project(alice, "P", editors=[dave])
    q = _project(dave, "Q")
    theirs, mine = make_image(alice, project=p), make_image(dave, project=p)
    response = client_for(dave).post(
        "/api/gallery/bulk",
        {"ids": [theirs.pk, mine.pk], "action": "move", "project": q.pk},
        format="json",
    )
    assert response.status_code == 404
    assert response.json()["ids"] == [theirs.pk]
    assert sorted(Image.objects.values_list("project_id", flat=True)) == [p.pk, p.pk]
