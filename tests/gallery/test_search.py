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
            cursor.execute("SELECT name FROM sqlite_master WHERE name = 'gallery_image_fts'")
            assert cursor.fetchone() is not None
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname IN "
                           "('image_text_search', 'generation_prompt_search')")
            definitions = [row[0] for row in cursor.fetchall()]
        assert len(definitions) == 2
        assert all("gin" in d.lower() and "to_tsvector" in d for d in definitions)


def test_search_finds_words_in_prompt_title_notes_and_tags(owner, owner_api):
    by_prompt = make_image(owner, prompt="a lighthouse at dusk")
    by_title = make_image(owner, title="Harbour lighthouse")
    by_notes = make_image(owner, notes="client liked the lighthouse")
    by_tag = make_image(owner, tags=["lighthouse"])
    make_image(owner, prompt="a cat on a sofa")
    assert found(owner_api, "lighthouse") == {by_prompt.pk, by_title.pk, by_notes.pk,
                                              by_tag.pk}


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
    owner_api.post("/api/gallery/bulk", {"ids": [image.pk], "action": "add_tag",
                                         "tag": "golden hour"}, format="json")
    assert found(owner_api, "golden") == {image.pk}
    owner_api.post("/api/gallery/bulk", {"ids": [image.pk], "action": "remove_tag",
                                         "tag": "golden hour"}, format="json")
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
        cursor.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                       "AND tbl_name = 'gallery_image'")
        triggers = dict(cursor.fetchall())
    assert set(triggers) == {"gallery_image_fts_insert", "gallery_image_fts_update",
                             "gallery_image_fts_delete"}
    assert not any("generation_generation" in sql for sql in triggers.values())
