"""Full-text search (q) over prompt, title, notes and tags, on SQLite FTS5 and PostgreSQL."""

import pytest
from django.db import connection

from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def found(client, q, **extra):
    response = client.get("/api/gallery", {"q": q, **extra})
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["results"]}


def test_search_uses_the_backends_own_full_text_engine():
    assert connection.vendor in ("sqlite", "postgresql")
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'gallery_image_fts'")
            (sql,) = cursor.fetchone()
        assert "prefix='2 3 4'" in sql
    else:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN "
                "('image_search', 'image_text_search', 'generation_prompt_search')"
            )
            definitions = dict(cursor.fetchall())
        # one index on one table: 0004 replaced 0003's two
        assert set(definitions) == {"image_search"}
        definition = definitions["image_search"].lower()
        assert "gin" in definition and "to_tsvector" in definition
        assert all(
            column in definition for column in ("search_prompt", "title", "notes", "tag_names")
        )


def test_search_finds_words_in_prompt_title_notes_and_tags(owner, owner_api):
    by_prompt = make_image(owner, prompt="a lighthouse at dusk")
    by_title = make_image(owner, title="Harbour lighthouse")
    by_notes = make_image(owner, notes="client liked the lighthouse")
    by_tag = make_image(owner, tags=["lighthouse"])
    make_image(owner, prompt="a cat on a sofa")
    assert found(owner_api, "lighthouse") == {by_prompt.pk, by_title.pk, by_notes.pk, by_tag.pk}


def test_every_word_must_match_somewhere_and_words_match_as_prefixes(owner, owner_api):
    both = make_image(owner, prompt="a red fox in snow", tags=["winter"])
    make_image(owner, prompt="a red fox in summer")
    assert found(owner_api, "fox winter") == {both.pk}
    assert found(owner_api, "RED Win") == {both.pk}
    assert found(owner_api, "light") == set()


def test_search_follows_edits_to_title_notes_and_tags(owner, owner_api):
    image = make_image(owner, prompt="abstract")
    assert found(owner_api, "meadow") == set()
    owner_api.patch(f"/api/gallery/{image.pk}", {"title": "Meadow study"}, format="json")
    assert found(owner_api, "meadow") == {image.pk}
    owner_api.patch(f"/api/gallery/{image.pk}", {"title": "", "tags": ["dawn"]}, format="json")
    assert found(owner_api, "meadow") == set()
    assert found(owner_api, "dawn") == {image.pk}
    owner_api.post(
        "/api/gallery/bulk",
        {"ids": [image.pk], "action": "add_tag", "tag": "golden hour"},
        format="json",
    )
    assert found(owner_api, "golden") == {image.pk}
    owner_api.post(
        "/api/gallery/bulk",
        {"ids": [image.pk], "action": "remove_tag", "tag": "golden hour"},
        format="json",
    )
    assert found(owner_api, "golden") == set()


def test_query_syntax_characters_are_searched_as_plain_words(owner, owner_api):
    image = make_image(owner, prompt="neon city OR night")
    for q in ('"neon', "neon*", "city) OR (", "NEAR(neon", "neon & !city", "night:*", "-"):
        response = owner_api.get("/api/gallery", {"q": q})
        assert response.status_code == 200, (q, response.content)
    assert found(owner_api, '"neon') == {image.pk}


def test_search_never_reaches_outside_what_the_user_sees(owner, outsider, outsider_api):
    make_image(owner, prompt="secret harbour plans")
    mine = make_image(outsider, prompt="my harbour")
    assert found(outsider_api, "harbour") == {mine.pk}


def test_search_combines_with_filters_and_pagination(owner, owner_api):
    matches = [make_image(owner, prompt=f"tower {i}", rating=i % 3) for i in range(5)]
    make_image(owner, prompt="bridge", rating=2)
    first = owner_api.get("/api/gallery", {"q": "tower", "page_size": 2, "sort": "rating"})
    body = first.json()
    seen = [r["id"] for r in body["results"]]
    while body["next"]:
        body = owner_api.get(body["next"]).json()
        seen += [r["id"] for r in body["results"]]
    assert sorted(seen) == sorted(i.pk for i in matches)
    assert found(owner_api, "tower", rating_min=2) == {i.pk for i in matches if i.rating == 2}


@pytest.mark.django_db
def test_sqlite_search_triggers_exist_and_read_only_the_image_table():
    """Later migrations that rebuild generation_generation (SQLite's way to alter a table)
    must not be blocked, and a rebuild of gallery_image must not silently drop them."""
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
            "AND tbl_name = 'gallery_image'"
        )
        triggers = dict(cursor.fetchall())
    assert set(triggers) == {
        "gallery_image_fts_insert",
        "gallery_image_fts_update",
        "gallery_image_fts_delete",
    }
    assert not any("generation_generation" in sql for sql in triggers.values())


def test_prefixes_of_every_length_match_and_infixes_do_not(owner, owner_api):
    lighthouse = make_image(owner, prompt="a lighthouse at dusk")
    make_image(owner, prompt="a cat on a sofa")
    for q in ("l", "li", "lig", "ligh", "light", "lightho", "lighthouse", "LIGHTHO"):
        assert found(owner_api, q) == {lighthouse.pk}, q
    for q in ("ighthouse", "lighthouses", "house", "lx"):
        assert found(owner_api, q) == set(), q


def test_two_words_must_both_match_in_any_of_the_texts(owner, owner_api):
    in_prompt = make_image(owner, prompt="stormy harbour watercolor")
    split = make_image(owner, prompt="stormy harbour", title="Watercolour study")
    tagged = make_image(owner, prompt="harbour at night", tags=["watercolor"])
    make_image(owner, prompt="stormy lighthouse watercolor")
    assert found(owner_api, "harbour watercolor") == {in_prompt.pk, tagged.pk}
    assert found(owner_api, "harb water") == {in_prompt.pk, split.pk, tagged.pk}
    assert found(owner_api, "watercolor harbour stormy") == {in_prompt.pk}
    assert found(owner_api, "stud harb") == {split.pk}


def test_hostile_characters_are_separators_on_both_engines(owner, owner_api):
    snake = make_image(owner, prompt="snake_case and foo-bar", notes="n°5 café")
    make_image(owner, prompt="something else")
    for q in (
        "'",
        "\\",
        ":*",
        "&|!",
        "<->",
        "*",
        "_",
        "__",
        "'; DROP TABLE gallery_image;--",
        "(",
        ")",
        '""',
        "NOT",
        "a:*b",
        "\x00",
    ):
        response = owner_api.get("/api/gallery", {"q": q})
        assert response.status_code in (200, 400), (q, response.content)
    assert found(owner_api, "snake_case") == {snake.pk}
    assert found(owner_api, "case snake") == {snake.pk}  # "_" separates words
    assert found(owner_api, "foo-bar") == {snake.pk}
    assert found(owner_api, "bar:*") == {snake.pk}
    assert found(owner_api, "n°5") == {snake.pk}
    assert found(owner_api, "CAFÉ") == {snake.pk}
    assert found(owner_api, "snake & !foo") == {snake.pk}  # operators are not operators
    assert found(owner_api, "snake | nothing") == set()


def test_sqlite_prefix_indexes_agree_with_the_content_after_every_kind_of_change(owner, owner_api):
    """FTS5's integrity-check compares the index, prefix indexes included, with the stored
    columns; the row set must follow inserts, edits, tag changes and deletes."""
    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    images = [make_image(owner, prompt=f"tower{i} bridge", tags=["old"]) for i in range(3)]
    owner_api.patch(
        f"/api/gallery/{images[0].pk}", {"title": "Tallest tower", "tags": ["new"]}, format="json"
    )
    owner_api.delete(f"/api/gallery/{images[1].pk}")
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO gallery_image_fts(gallery_image_fts, rank) VALUES ('integrity-check', 1)"
        )
        cursor.execute("SELECT rowid, prompt, title, tags FROM gallery_image_fts ORDER BY rowid")
        rows = cursor.fetchall()
    assert rows == [
        (images[0].pk, "tower0 bridge", "Tallest tower", "new"),
        (images[2].pk, "tower2 bridge", "", "old"),
    ]
    assert found(owner_api, "ta") == {images[0].pk}
    assert found(owner_api, "ne") == {images[0].pk}
    assert found(owner_api, "ol") == {images[2].pk}
    assert found(owner_api, "tow") == {images[0].pk, images[2].pk}
    assert found(owner_api, "tower1") == set()


def test_postgres_search_is_answered_by_the_one_image_index(owner):
    """The GIN index is built from the expression the query uses, or the planner could not
    use it (with sequential scans off, it must)."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only")
    from gallery.models import Image
    from gallery.search import search_images

    make_image(owner, prompt="a lighthouse")
    query = search_images(Image.objects.all(), "lightho dusk")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "image_search" in plan, plan
    assert "generation_generation" not in plan, plan
    assert plan.count("Bitmap Index Scan") == 1, plan
