"""Full-text search over prompt, title, notes and tags, built for the database in use.

SQLite: an FTS5 table ``gallery_image_fts`` (rowid = image id) kept in sync by triggers on
``gallery_image``; the prompt comes from ``gallery_image.search_prompt``, a copy of the
generation's prompt (which never changes). The triggers read only ``gallery_image``: a trigger
reading ``generation_generation`` would make SQLite refuse every later migration that rebuilds
that table. A migration that rebuilds ``gallery_image`` itself drops these triggers with the
old table and must re-create them (``SQLITE_CREATE`` below); a test checks they
exist after migrating.

PostgreSQL: GIN expression indexes over the same ``SearchVector`` expressions that
``gallery.search`` queries with, on the image's text columns and on the generation's prompt.
"""

from django.db import migrations, models

SQLITE_CREATE = [
    """CREATE VIRTUAL TABLE IF NOT EXISTS gallery_image_fts
       USING fts5(prompt, title, notes, tags, tokenize='unicode61')""",
    """CREATE TRIGGER IF NOT EXISTS gallery_image_fts_insert AFTER INSERT ON gallery_image
       BEGIN
         INSERT INTO gallery_image_fts(rowid, prompt, title, notes, tags)
         VALUES (NEW.id,
                 NEW.search_prompt,
                 NEW.title, NEW.notes, NEW.tag_names);
       END""",
    """CREATE TRIGGER IF NOT EXISTS gallery_image_fts_update
       AFTER UPDATE OF title, notes, tag_names ON gallery_image
       BEGIN
         UPDATE gallery_image_fts SET title = NEW.title, notes = NEW.notes,
                tags = NEW.tag_names
         WHERE rowid = NEW.id;
       END""",
    """CREATE TRIGGER IF NOT EXISTS gallery_image_fts_delete AFTER DELETE ON gallery_image
       BEGIN
         DELETE FROM gallery_image_fts WHERE rowid = OLD.id;
       END""",
    """UPDATE gallery_image SET search_prompt = COALESCE(
         (SELECT prompt FROM generation_generation WHERE id = gallery_image.generation_id), '')""",
    """INSERT INTO gallery_image_fts(rowid, prompt, title, notes, tags)
       SELECT id, search_prompt, title, notes, tag_names FROM gallery_image""",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS gallery_image_fts_insert",
    "DROP TRIGGER IF EXISTS gallery_image_fts_update",
    "DROP TRIGGER IF EXISTS gallery_image_fts_delete",
    "DROP TABLE IF EXISTS gallery_image_fts",
]


def postgres_indexes():
    """(model label, GIN index) pairs this migration creates on PostgreSQL: the expressions
    gallery.search queried with at the time (defined here, so later changes to
    gallery.search do not change what this migration does; 0004 replaces them)."""
    from django.contrib.postgres.indexes import GinIndex
    from django.contrib.postgres.search import SearchVector

    return [
        ("gallery.Image", GinIndex(SearchVector("title", "notes", "tag_names", config="simple"),
                                   name="image_text_search")),
        ("generation.Generation", GinIndex(SearchVector("prompt", config="simple"),
                                           name="generation_prompt_search")),
    ]


def create_search(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for model_name, index in postgres_indexes():
            schema_editor.add_index(apps.get_model(*model_name.split(".")), index)


def drop_search(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        for model_name, index in postgres_indexes():
            schema_editor.remove_index(apps.get_model(*model_name.split(".")), index)


class Migration(migrations.Migration):

    dependencies = [
        ("gallery", "0002_image_rating_and_tags"),
    ]

    operations = [
        migrations.AddField(
            model_name="image",
            name="search_prompt",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(create_search, drop_search),
    ]
