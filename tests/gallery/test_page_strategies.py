"""visible_page finds a page faster in some cases (per-range arms of for_user(user, "view")
when nothing is filtered; on PostgreSQL a search window, then all the matches), but the page must be
exactly the one plain keyset_page gives: same rows, same order, same cursors, same scope."""

import pytest
from django.db import connection

from gallery import search
from gallery.list_rows import COLUMNS
from gallery.listing import GalleryQuerySerializer, filter_images, keyset_page, visible_page
from gallery.models import Image
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

PROMPTS = ["red fox", "blue whale", "red panda", "green frog", "red kite"]


@pytest.fixture
def spread(owner, viewer, outsider, shared_project, member):
    """Images of four users: the viewer's few and old, the owner's many (some in the shared
    project, which the viewer sees), the outsider's and the member's (never visible to the
    viewer)."""
    made = [make_image(viewer, prompt="red viewer original", rating=3)]
    for i in range(24):
        user = (owner, outsider, member)[i % 3]
        project = shared_project if user is owner and i % 2 == 0 else None
        made.append(
            make_image(
                user,
                prompt=PROMPTS[i % 5],
                rating=i % 4,
                project=project,
                tags=["tagged"] if i % 4 == 0 else (),
            )
        )
    made.append(make_image(viewer, prompt="red viewer recent", rating=1))
    return made


def params_for(query: dict) -> dict:
    form = GalleryQuerySerializer(data=query)
    assert form.is_valid(), form.errors
    return form.validated_data


def reference(user, params, size):
    filtered = filter_images(Image.objects.all(), params).for_user(user, "view")
    return keyset_page(filtered, params["sort"], params.get("cursor"), size, columns=COLUMNS)


def walk_both_ways(user, query: dict, size: int) -> set:
    """Every page forward and back again, compared with the plain keyset page; the ids."""
    seen = set()
    cursor, pages = None, 0
    previous = None
    while True:
        params = params_for({**query, **({"cursor": cursor} if cursor else {})})
        got = visible_page(user, Image.objects.all(), params, size, columns=COLUMNS)
        want = reference(user, params, size)
        assert got.items == want.items, (query, cursor)
        assert (got.next_cursor, got.previous_cursor) == (want.next_cursor, want.previous_cursor)
        seen |= {row["id"] for row in got.items}
        pages += 1
        assert pages < 50
        if got.next_cursor is None:
            previous = got.previous_cursor
            break
        cursor = got.next_cursor
    while previous:
        params = params_for({**query, "cursor": previous})
        got = visible_page(user, Image.objects.all(), params, size, columns=COLUMNS)
        want = reference(user, params, size)
        assert got.items == want.items and got.previous_cursor == want.previous_cursor
        previous = got.previous_cursor
    return seen


@pytest.mark.parametrize("share", [0.0, 1.0])
@pytest.mark.parametrize("sort", ["newest", "oldest", "rating"])
@pytest.mark.parametrize("size", [1, 2, 5, 50])
def test_unfiltered_pages_match_the_plain_query_for_every_user(
    spread, owner, viewer, outsider, member, sort, size, share, monkeypatch
):
    """Arms, or (PostgreSQL, statistics saying the user owns much) the plain query."""
    from gallery import listing

    monkeypatch.setattr(listing, "owner_share", lambda user: share)
    for user in (owner, viewer, outsider, member):
        seen = walk_both_ways(user, {"sort": sort}, size)
        assert seen == set(Image.objects.for_user(user, "view").values_list("pk", flat=True))


def test_arms_never_widen_what_a_user_sees(spread, viewer, outsider):
    params = params_for({})
    page = visible_page(viewer, Image.objects.all(), params, 100, columns=COLUMNS)
    visible = set(Image.objects.for_user(viewer, "view").values_list("pk", flat=True))
    assert {row["id"] for row in page.items} == visible
    assert not visible & set(Image.objects.filter(owner=outsider).values_list("pk", flat=True))


@pytest.mark.parametrize("walk_rows", [1, 3, 7, 4000])
@pytest.mark.parametrize("mode", ["walk first", "matches of each arm"])
@pytest.mark.parametrize("sort", ["newest", "rating"])
def test_search_pages_match_the_plain_query_whichever_way_they_are_found(
    spread, owner, viewer, monkeypatch, walk_rows, mode, sort
):
    """On PostgreSQL: a bounded walk that fills the page or gives up (small WALK_ROWS), and
    the matches of each arm, at every depth and in both directions. On SQLite there is no
    such strategy and this checks the plain search."""
    monkeypatch.setattr(search, "WALK_ROWS", walk_rows)
    monkeypatch.setattr(search, "_walk_rows", lambda *args: 0 if mode == "walk first" else None)
    for user in (owner, viewer):
        for q in ("red", "re", "red fox", "whale", "nothing", "tagged red"):
            for size in (1, 2, 4):
                walk_both_ways(user, {"q": q, "sort": sort}, size)
        # with other filters too
        walk_both_ways(user, {"q": "red", "rating_min": 1, "sort": sort}, 2)
        walk_both_ways(user, {"q": "red", "project": "none", "sort": sort}, 2)


def test_the_walk_is_chosen_from_the_planners_statistics(monkeypatch, owner):
    stats = {
        ("image_search", "to_tsvector", True): (
            {"lighthouse": 0.02, "library": 0.02, "watercolor": 0.05},
            0.01,
        ),
        ("gallery_image", "owner_id", False): ({str(owner.pk): 0.5}, 0.01),
        ("gallery_image", "project_id", False): ({"7": 0.25}, 0.01),
    }
    monkeypatch.setattr(
        search,
        "_pg_stats",
        lambda table, column, elements=False: stats.get((table, column, elements)),
    )
    rows = search._walk_rows
    assert rows(["lighthouse"], owner, [], 51) == pytest.approx(51 / (0.02 * 0.5))
    assert rows(["li"], owner, [], 51) == pytest.approx(51 / (0.04 * 0.5))
    assert rows(["lighthouse", "water"], owner, [7], 51) == pytest.approx(51 / (0.02 * 0.05 * 0.75))
    assert rows(["zebra"], owner, [], 51) == pytest.approx(51 / (0.005 * 0.5))
    stats[("gallery_image", "owner_id", False)] = ({"999999": 0.5}, 0.01)
    assert rows(["lighthouse"], owner, [], 51) is None  # a user the statistics do not know
    stats.clear()
    assert rows(["lighthouse"], owner, [], 51) is None  # not analysed yet


def test_postgres_statistics_are_read(owner):
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    for i in range(30):
        make_image(owner, prompt=f"lighthouse {i % 3}")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE gallery_image")
    search._stats.clear()
    lexemes, rarest = search._pg_stats("image_search", "to_tsvector", elements=True)
    assert lexemes["lighthouse"] == pytest.approx(1.0)
    owners, _ = search._pg_stats("gallery_image", "owner_id")
    assert owners[str(owner.pk)] == pytest.approx(1.0)
    search._stats.clear()
