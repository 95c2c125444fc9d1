"""Faster full-text search (issue #8, figure 5), same matches.

SQLite: the FTS5 table ``gallery_image_fts`` is rebuilt with prefix indexes (``prefix='2 3
4'``): FTS5 answers a prefix query of exactly 2, 3 or 4 characters from its own index instead
of expanding it over every matching term. The triggers are re-created with the table (and
the update trigger now also follows ``search_prompt``), then the table is filled again from
``gallery_image``.

PostgreSQL: one GIN index over one tsvector of the image row (``search_prompt``, title, notes,
tag names), the expression ``gallery.search.image_vector()`` queries with, replaces 0003's two
indexes (image text, generation prompt): one index on one table answers a search. Images
stored before 0003 may lack their prompt copy there (0003 filled it on SQLite only), so it is
filled first.
"""

from django.db import migrations

PREFIXES = "2 3 4"


def sqlite_create(prefix: str | None) -> list[str]:
    """The FTS5 table (with prefix indexes, or without as in 0003), its triggers, its rows."""
    options = f", prefix='{prefix}'" if prefix else ""
    return [
        f"""CREATE VIRTUAL TABLE gallery_image_fts
            USING fts5(prompt, title, notes, tags, tokenize='unicode61'{options})""",
        """CREATE TRIGGER gallery_image_fts_insert AFTER INSERT ON gallery_image
           BEGIN
             INSERT INTO gallery_image_fts(rowid, prompt, title, notes, tags)
             VALUES (NEW.id, NEW.search_prompt, NEW.title, NEW.notes, NEW.tag_names);
           END""",
        """CREATE TRIGGER gallery_image_fts_update
           AFTER UPDATE OF search_prompt, title, notes, tag_names ON gallery_image
           BEGIN
             UPDATE gallery_image_fts SET prompt = NEW.search_prompt, title = NEW.title,
                    notes = NEW.notes, tags = NEW.tag_names
             WHERE rowid = NEW.id;
           END""",
        """CREATE TRIGGER gallery_image_fts_delete AFTER DELETE ON gallery_image
           BEGIN
             DELETE FROM gallery_image_fts WHERE rowid = OLD.id;
           END""",
        """INSERT INTO gallery_image_fts(rowid, prompt, title, notes, tags)
           SELECT id, search_prompt, title, notes, tag_names FROM gallery_image""",
    ]


SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS gallery_image_fts_insert",
    "DROP TRIGGER IF EXISTS gallery_image_fts_update",
    "DROP TRIGGER IF EXISTS gallery_image_fts_delete",
    "DROP TABLE IF EXISTS gallery_image_fts",
]

# The index is built from the same SearchVector expression gallery.search.image_vector()
# queries with (written out here, so this migration never changes with the code);
# tests/gallery/test_search.py checks that the planner uses it for a search.
PG_FILL_PROMPT = """
    UPDATE gallery_image SET search_prompt = g.prompt FROM generation_generation g
    WHERE g.id = gallery_image.generation_id
      AND gallery_image.search_prompt IS DISTINCT FROM g.prompt"""


def _gin(name, *columns):
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return GinIndex(SearchVector(*columns, config="simple"), name=name)


def _pg_new():
    return [("gallery", "Image", _gin("image_search", "search_prompt", "title", "notes",
                                      "tag_names"))]


def _pg_old():  # 0003's two indexes
    return [("gallery", "Image", _gin("image_text_search", "title", "notes", "tag_names")),
            ("generation", "Generation", _gin("generation_prompt_search", "prompt"))]


def forwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in [*SQLITE_DROP, *sqlite_create(PREFIXES)]:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.execute(PG_FILL_PROMPT)
        for app, model, index in _pg_new():
            schema_editor.add_index(apps.get_model(app, model), index)
        for app, model, index in _pg_old():
            schema_editor.remove_index(apps.get_model(app, model), index)


def backwards(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in [*SQLITE_DROP, *sqlite_create(None)]:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for app, model, index in _pg_old():
            schema_editor.add_index(apps.get_model(app, model), index)
        for app, model, index in _pg_new():
            schema_editor.remove_index(apps.get_model(app, model), index)


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0003_image_full_text_search"),
        ("generation", "0001_initial"),
    ]

    operations = [
        migrations.RunPython(forwards, backwards),
    ]
