"""Gallery and project pages: filters, endless-scroll tiles, details panel, remix prefill,
and the project owner's forms."""

import pytest

from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def test_gallery_page_has_filters_tiles_bulk_bar_lightbox_and_script(owner_client, owner):
    make_image(owner, prompt="a quiet harbour")
    body = owner_client.get("/gallery/").content.decode()
    for marker in (
        'id="gallery-filters"',
        'name="q"',
        'id="bulk-bar"',
        'id="lightbox"',
        "js/gallery.js",
        "a quiet harbour",
        'loading="lazy"',
        "project-drop",
    ):
        assert marker in body, marker


def test_search_and_filters_narrow_the_tiles(owner_client, owner, outsider):
    make_image(owner, prompt="a quiet harbour", rating=5)
    make_image(owner, prompt="a busy market", rating=1)
    make_image(outsider, prompt="someone else's harbour")
    body = owner_client.get("/gallery/?q=harbour", **HTMX).content.decode()
    assert "a quiet harbour" in body and "market" not in body and "someone" not in body
    assert "<html" not in body  # htmx gets only the tiles
    body = owner_client.get("/gallery/?rating_min=3").content.decode()
    assert "a quiet harbour" in body and "market" not in body


def test_bad_filters_show_errors_with_a_400(owner_client):
    response = owner_client.get("/gallery/?rating_min=9")
    assert response.status_code == 400
    assert "rating_min" in response.content.decode()


def test_last_tile_loads_the_next_page_when_revealed(owner_client, owner, settings):
    settings.ITEMS_PER_PAGE = 2
    images = [make_image(owner, prompt=f"picture {i}") for i in range(3)]
    body = owner_client.get("/gallery/?q=picture").content.decode()
    assert body.count('class="tile-open"') == 2
    assert 'hx-trigger="revealed"' in body
    import re

    next_url = re.search(r'hx-get="(/gallery/\?[^"]+)"', body).group(1).replace("&amp;", "&")
    assert "q=picture" in next_url and "cursor=" in next_url
    rest = owner_client.get(next_url, **HTMX).content.decode()
    assert f'data-id="{images[0].pk}"' in rest
    assert 'hx-trigger="revealed"' not in rest


def test_details_panel_for_visible_images_only(client, owner, outsider, viewer, shared_project):
    image = make_image(owner, project=shared_project, prompt="panel prompt", tags=["sea"])
    client.force_login(viewer)
    body = client.get(f"/gallery/images/{image.pk}/panel/").content.decode()
    assert "panel prompt" in body and "sea" in body
    assert f"/generate/?remix={image.pk}" in body
    assert "details-edit" not in body  # a viewer cannot edit
    client.force_login(outsider)
    assert client.get(f"/gallery/images/{image.pk}/panel/").status_code == 404


def test_use_these_settings_prefills_the_generate_form(owner_client, owner, outsider):
    image = make_image(owner, prompt="remix me please", width=64, height=64)
    body = owner_client.get(f"/generate/?remix={image.pk}").content.decode()
    assert "remix me please" in body
    assert 'value="42"' in body  # the seed
    theirs = make_image(outsider, prompt="not yours to remix")
    body = owner_client.get(f"/generate/?remix={theirs.pk}").content.decode()
    assert "not yours to remix" not in body
    assert owner_client.get("/generate/?remix=abc").status_code == 200


def test_project_pages_show_shared_projects_members_and_images(
    client, owner, viewer, shared_project
):
    make_image(owner, project=shared_project, prompt="shared picture")
    client.force_login(viewer)
    listing = client.get("/projects/").content.decode()
    assert "Shared" in listing and "Shared by owner" in listing
    body = client.get(f"/projects/{shared_project.pk}/").content.decode()
    assert "shared picture" in body
    assert "editor" in body and "viewer" in body
    assert "you are viewer" in body  # Project.role_of, from the prefetched members
    assert "Add or change member" not in body  # not the owner


def test_owner_manages_members_and_others_cannot(client, owner, member, viewer, shared_project):
    client.force_login(owner)
    client.post(f"/projects/{shared_project.pk}/members/", {"username": "member", "role": "editor"})
    client.post(f"/projects/{shared_project.pk}/members/", {"remove": "viewer"})
    assert dict(shared_project.memberships.values_list("user__username", "role")) == {
        "member": "editor",
        "editor": "editor",
    }
    client.post(f"/projects/{shared_project.pk}/members/", {"username": "ghost", "role": "viewer"})
    assert shared_project.memberships.count() == 2
    client.force_login(member)
    client.post(f"/projects/{shared_project.pk}/members/", {"remove": "editor"})
    client.post(f"/projects/{shared_project.pk}/edit/", {"name": "Hijacked"})
    client.post(f"/projects/{shared_project.pk}/delete/")
    shared_project.refresh_from_db()
    assert shared_project.name == "Shared"
    assert shared_project.memberships.count() == 2


def test_owner_renames_and_deletes_a_project_keeping_images(owner_client, owner):
    project = Project.objects.create(owner=owner, name="Old")
    image = make_image(owner, project=project)
    owner_client.post(f"/projects/{project.pk}/edit/", {"name": "New", "description": "d"})
    project.refresh_from_db()
    assert (project.name, project.description) == ("New", "d")
    response = owner_client.post(f"/projects/{project.pk}/delete/")
    assert response.status_code == 302
    image.refresh_from_db()
    assert image.project_id is None


def test_the_new_project_form_checks_what_the_api_checks(owner_client, owner):
    # The form goes through projects.services.create_project: the description limit holds,
    # and a taken name is an error at the name field.
    Project.objects.create(owner=owner, name="Taken")
    long = owner_client.post("/projects/", {"name": "Long", "description": "x" * 10_001})
    assert long.status_code == 400 and "At most 10000 characters" in long.content.decode()
    taken = owner_client.post("/projects/", {"name": "Taken"})
    assert taken.status_code == 400
    assert "already have a project with this name" in taken.content.decode()
    assert list(Project.objects.values_list("name", flat=True)) == ["Taken"]


def test_outsider_gets_404_on_project_forms(client, owner, outsider, shared_project):
    client.force_login(outsider)
    for path in ("", "edit/", "members/", "delete/"):
        method = client.get if not path else client.post
        assert method(f"/projects/{shared_project.pk}/{path}").status_code == 404


def test_repeated_tags_survive_in_the_filter_bar(owner_client, owner):
    both = make_image(owner, prompt="two tags", tags=["a", "b"])
    make_image(owner, prompt="one tag", tags=["a"])
    body = owner_client.get("/gallery/?tag=a&tag=b").content.decode()
    assert 'type="hidden" name="tag" value="b"' in body
    assert f'data-id="{both.pk}"' in body and "one tag" not in body
