"""Images in (issue #16): an image's origin (generated or uploaded) and the inputs of each
generation (the lineage).

On SQLite, adding the non-null ``origin`` column rebuilds ``gallery_image``, and a rebuilt
table has lost its triggers: the full-text triggers of 0004 are made again after it (and,
going back, after the column is removed again)."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


# The triggers of 0004, written out here so that this migration never changes with the code.
SQLITE_TRIGGERS = [
    "DROP TRIGGER IF EXISTS gallery_image_fts_insert",
    "DROP TRIGGER IF EXISTS gallery_image_fts_update",
    "DROP TRIGGER IF EXISTS gallery_image_fts_delete",
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
]


def remake_triggers(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_TRIGGERS:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0005_image_project_rating"),
        ("generation", "0012_images_in"),
        ("projects", "0002_memberships_and_cover_image"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(migrations.RunPython.noop, remake_triggers),
        migrations.CreateModel(
            name="GenerationInput",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "image_ref",
                    models.BigIntegerField(
                        blank=True,
                        help_text="The id the image had (kept after it is deleted).",
                        null=True,
                    ),
                ),
                (
                    "role",
                    models.CharField(
                        choices=[("input", "Input image"), ("mask", "Mask")],
                        default="input",
                        max_length=10,
                    ),
                ),
                ("position", models.PositiveSmallIntegerField(default=0)),
                ("file", models.CharField(max_length=200)),
                ("sha256", models.CharField(max_length=64)),
                ("format", models.CharField(max_length=10)),
                ("width", models.PositiveIntegerField()),
                ("height", models.PositiveIntegerField()),
            ],
            options={
                "ordering": ["generation", "position"],
            },
        ),
        migrations.AddField(
            model_name="image",
            name="origin",
            field=models.CharField(
                choices=[("generated", "Generated"), ("upload", "Uploaded")],
                default="generated",
                max_length=10,
            ),
        ),
        migrations.AddIndex(
            model_name="image",
            index=models.Index(fields=["owner", "origin", "-id"], name="image_owner_origin"),
        ),
        migrations.AddField(
            model_name="generationinput",
            name="generation",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="inputs",
                to="generation.generation",
            ),
        ),
        migrations.AddField(
            model_name="generationinput",
            name="image",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="used_in",
                to="gallery.image",
            ),
        ),
        migrations.AddIndex(
            model_name="generationinput",
            index=models.Index(fields=["file"], name="input_file"),
        ),
        migrations.RunPython(remake_triggers, migrations.RunPython.noop),
    ]
