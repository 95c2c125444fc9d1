"""GET /api/gallery and /api/gallery/{id}: shapes, scoping, filters, sorts and keyset pages."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

IMAGE_FIELDS = {
    "id",
    "generation",
    "prompt",
    "negative_prompt",
    "provider",
    "model",
    "width",
    "height",
    "seed",
    "steps",
    "cfg_scale",
    "url",
    "thumbnail_url",
    "favorite",
    "rating",
    "title",
    "notes",
    "tags",
    "project",
    "owner",
    "cost_usd",
    "created_at",
    "origin",
    "operation",
}


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_list_answers_results_next_previous_with_the_image_fields(owner, owner_api):
    image = make_image(owner, prompt="a red fox", tags=["Fox", "winter"], rating=4)
    body = owner_api.get("/api/gallery").json()
    assert set(body) == {"results", "next", "previous"}
    assert body["next"] is None and body["previous"] is None
    (row,) = body["results"]
    assert set(row) == IMAGE_FIELDS
    assert row["id"] == image.pk
    assert row["prompt"] == "a red fox"
    assert row["owner"] == "owner"
    assert row["tags"] == ["fox", "winter"]
    assert row["rating"] == 4
    assert row["steps"] == 20 and row["cfg_scale"] == 7.5 and row["seed"] == 42
    assert row["url"] == f"http://testserver/files/images/{image.pk}"
    assert row["thumbnail_url"] == f"http://testserver/files/thumbnails/{image.pk}"
    assert Decimal(row["cost_usd"]) == Decimal("0.04")


def test_anonymous_gets_401_or_403(api, owner):
    image = make_image(owner)
    for url in ("/api/gallery", f"/api/gallery/{image.pk}", f"/api/gallery/{image.pk}/remix"):
        assert api.get(url).status_code in (401, 403)
    assert api.patch(f"/api/gallery/{image.pk}", {"title": "x"}).status_code in (401, 403)
    assert api.delete(f"/api/gallery/{image.pk}").status_code in (401, 403)
    assert api.post(f"/api/gallery/{image.pk}/favorite").status_code in (401, 403)
    assert api.post(
        "/api/gallery/bulk", {"ids": [image.pk], "action": "favorite"}, format="json"
    ).status_code in (401, 403)
    assert api.get(f"/files/images/{image.pk}").status_code in (401, 403)
    assert api.get(f"/files/thumbnails/{image.pk}").status_code in (401, 403)


def test_outsider_sees_nothing_and_gets_404_for_each_image(owner, outsider_api, shared_project):
    own = make_image(owner)
    shared = make_image(owner, project=shared_project)
    assert ids(outsider_api.get("/api/gallery")) == []
    for image in (own, shared):
        for url in (f"/api/gallery/{image.pk}", f"/api/gallery/{image.pk}/remix"):
            assert outsider_api.get(url).status_code == 404
        assert (
            outsider_api.patch(
                f"/api/gallery/{image.pk}", {"title": "x"}, format="json"
            ).status_code
            == 404
        )
        assert outsider_api.delete(f"/api/gallery/{image.pk}").status_code == 404
        assert outsider_api.post(f"/api/gallery/{image.pk}/favorite").status_code == 404
        assert outsider_api.get(f"/files/images/{image.pk}").status_code == 404
        assert outsider_api.get(f"/files/thumbnails/{image.pk}").status_code == 404


def test_viewer_and_editor_see_the_shared_projects_images_but_not_the_owners_others(
    owner, viewer_api, editor_api, shared_project
):
    private = make_image(owner)
    shared = make_image(owner, project=shared_project)
    for client in (viewer_api, editor_api):
        assert ids(client.get("/api/gallery")) == [shared.pk]
        assert client.get(f"/api/gallery/{shared.pk}").status_code == 200
        assert client.get(f"/files/images/{shared.pk}").status_code == 200
        assert client.get(f"/files/thumbnails/{shared.pk}").status_code == 200
        assert client.get(f"/api/gallery/{private.pk}").status_code == 404
        assert client.get(f"/files/images/{private.pk}").status_code == 404


def test_project_owner_sees_an_editors_images_in_the_project(
    owner, owner_api, editor, shared_project
):
    editors = make_image(editor, project=shared_project)
    assert ids(owner_api.get("/api/gallery")) == [editors.pk]
    assert owner_api.get("/api/gallery?owner=editor").json()["results"][0]["owner"] == "editor"


def test_detail_has_parameters_public_metadata_and_lineage_without_raw_logs(owner, owner_api):
    first = make_image(owner, prompt="twins")
    second = make_image(owner, generation=first.generation, index=1)
    body = owner_api.get(f"/api/gallery/{first.pk}").json()
    assert set(body) >= IMAGE_FIELDS
    assert body["parameters"]["num_images"] == 1
    assert body["parameters"]["prompt"] == "twins"
    assert body["provider_metadata"] == {
        "request_id": "req-1",
        "revised_prompt": "twins, revised",
        "timings": {"total": 1},
    }
    assert "not for users" not in str(body)
    assert body["lineage"]["generation"] == first.generation_id
    assert body["lineage"]["siblings"] == [second.pk]


def test_filters_by_project_provider_model_favorite_rating_and_orientation(owner, owner_api):
    from projects.models import Project

    project = Project.objects.create(owner=owner, name="P")
    in_project = make_image(owner, project=project, width=16, height=8)
    favorite = make_image(owner, favorite=True, rating=5, width=8, height=16)
    other_model = make_image(owner, model="offline-gradient", rating=2, width=8, height=8)
    scripted = make_image(owner, provider="scripted", model="scripted-1", width=8, height=8)

    assert ids(owner_api.get(f"/api/gallery?project={project.pk}")) == [in_project.pk]
    assert set(ids(owner_api.get("/api/gallery?project=none"))) == {
        favorite.pk,
        other_model.pk,
        scripted.pk,
    }
    assert ids(owner_api.get("/api/gallery?provider=scripted")) == [scripted.pk]
    assert ids(owner_api.get("/api/gallery?model=offline-gradient")) == [other_model.pk]
    assert ids(owner_api.get("/api/gallery?favorite=true")) == [favorite.pk]
    assert len(ids(owner_api.get("/api/gallery?favorite=false"))) == 3
    assert ids(owner_api.get("/api/gallery?rating_min=3")) == [favorite.pk]
    assert ids(owner_api.get("/api/gallery?orientation=landscape")) == [in_project.pk]
    assert ids(owner_api.get("/api/gallery?orientation=portrait")) == [favorite.pk]
    assert set(ids(owner_api.get("/api/gallery?orientation=square"))) == {
        other_model.pk,
        scripted.pk,
    }


def test_tag_filter_is_repeatable_and_needs_every_tag(owner, owner_api):
    both = make_image(owner, tags=["cat", "night"])
    make_image(owner, tags=["cat"])
    make_image(owner, tags=["night"])
    assert len(ids(owner_api.get("/api/gallery?tag=cat"))) == 2
    assert ids(owner_api.get("/api/gallery?tag=cat&tag=NIGHT")) == [both.pk]


def test_created_after_and_before_bound_the_creation_time(owner, owner_api):
    now = timezone.now()
    old = make_image(owner, created_at=now - timedelta(days=10))
    new = make_image(owner, created_at=now)
    since = (now - timedelta(days=1)).date().isoformat()
    assert ids(owner_api.get(f"/api/gallery?created_after={since}")) == [new.pk]
    assert ids(owner_api.get(f"/api/gallery?created_before={since}")) == [old.pk]


def test_bad_filters_answer_400_with_field_errors(owner_api):
    response = owner_api.get(
        "/api/gallery?rating_min=9&orientation=round&sort=random&project=abc&favorite=maybe"
        "&created_after=yesterday&tag=%3Cscript%3E"
    )
    assert response.status_code == 400
    assert {
        "rating_min",
        "orientation",
        "sort",
        "project",
        "favorite",
        "created_after",
        "tag",
    } <= set(response.json())


@pytest.mark.parametrize("project", ["%C2%B2", "1" + "0" * 20])
def test_project_ids_no_database_can_hold_are_a_400(owner_client, owner_api, project):
    # "²" passes str.isdigit() but not int(); 10**20 does not fit a 64-bit id (SQLite
    # cannot bind it): both were 500s.
    response = owner_api.get(f"/api/gallery?project={project}")
    assert response.status_code == 400
    assert "project" in response.json()
    assert owner_client.get(f"/gallery/?project={project}").status_code == 400


@pytest.mark.parametrize(
    "path, body",
    [
        ("/api/gallery/bulk", {"ids": [10**20], "action": "favorite"}),
        ("/api/gallery/download", {"ids": [10**20]}),
    ],
)
def test_ids_beyond_64_bits_are_a_400(owner_api, path, body):
    response = owner_api.post(path, body, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()


@pytest.mark.parametrize("remix", ["%C2%B2", "1" + "0" * 20])
def test_a_remix_id_that_is_no_id_leaves_the_form_empty(owner_client, remix):
    assert owner_client.get(f"/generate/?remix={remix}").status_code == 200


def test_tampered_cursor_is_a_400(owner, owner_api):
    make_image(owner)
    response = owner_api.get("/api/gallery?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()


def walk(client, url):
    """Every page of a listing, following next links; the ids in order."""
    seen = []
    while url:
        body = client.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    return seen


def test_sorts_newest_oldest_and_rating_walk_every_image_once(owner, owner_api):
    images = [make_image(owner, rating=r) for r in (3, 5, 0, 5, 3, 1, 3)]
    pks = [i.pk for i in images]
    assert walk(owner_api, "/api/gallery?page_size=2") == sorted(pks, reverse=True)
    assert walk(owner_api, "/api/gallery?page_size=2&sort=oldest") == sorted(pks)
    by_rating = sorted(images, key=lambda i: (-i.rating, -i.pk))
    assert walk(owner_api, "/api/gallery?page_size=2&sort=rating") == [i.pk for i in by_rating]


def test_previous_link_walks_back_to_the_same_page(owner, owner_api):
    for rating in (1, 2, 2, 3, 4):
        make_image(owner, rating=rating)
    for sort in ("newest", "rating"):
        first = owner_api.get(f"/api/gallery?page_size=2&sort={sort}").json()
        second = owner_api.get(first["next"]).json()
        back = owner_api.get(second["previous"]).json()
        assert [r["id"] for r in back["results"]] == [r["id"] for r in first["results"]]
        assert back["previous"] is None


def test_pages_are_stable_while_new_images_arrive(owner, owner_api):
    old = [make_image(owner) for _ in range(5)]
    first = owner_api.get("/api/gallery?page_size=2").json()
    for _ in range(3):
        make_image(owner)  # arrives while the user scrolls
    rest = walk(owner_api, first["next"])
    assert [r["id"] for r in first["results"]] + rest == [i.pk for i in reversed(old)]


def test_page_size_defaults_to_items_per_page_and_caps_at_100(owner, owner_api, settings):
    settings.ITEMS_PER_PAGE = 3
    for _ in range(4):
        make_image(owner)
    assert len(ids(owner_api.get("/api/gallery"))) == 3
    assert owner_api.get("/api/gallery?page_size=101").status_code == 400


def test_query_count_does_not_grow_with_page_size(
    owner, owner_api, shared_project, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from gallery.models import Image

    for i in range(12):
        make_image(owner, tags=[f"t{i}", "common"], project=shared_project if i % 2 else None)
    for query in ("", "&q=common", "&q=common&tag=common", "&q=nomatch", "&favorite=false"):
        owner_api.get(f"/api/gallery?page_size=1{query}")  # PostgreSQL statistics, cached
        for size in (2, 12):
            # at most: the visible projects, a bounded walk (PostgreSQL search), the page,
            # its tags
            with django_assert_max_num_queries(4), CaptureQueriesContext(connection) as seen:
                found = ids(owner_api.get(f"/api/gallery?page_size={size}{query}"))
            assert len(found) == (0 if "nomatch" in query else size), query
            assert "COUNT(" not in " ".join(q["sql"].upper() for q in seen.captured_queries)
    assert Image.objects.count() == 12


def test_detail_query_count_is_fixed(owner, owner_api, django_assert_max_num_queries):
    image = make_image(owner, tags=["a", "b", "c"])
    # 5, and two for the lineage: the generation's inputs and the images made from it.
    with django_assert_max_num_queries(7):
        assert owner_api.get(f"/api/gallery/{image.pk}").status_code == 200
