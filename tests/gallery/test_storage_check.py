"""storage_check finds orphans, missing files and stale temp files, and --fix repairs;
regenerate_thumbnails rebuilds thumbnails at a size."""

import io
import os
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from gallery.models import GenerationInput, Image
from imagegen.core.imaging import validate_image
from imagegen.core.storage import image_name, thumbnail_name
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db

ORPHAN = image_name("ab" * 32, "png")
ORPHAN_THUMB = thumbnail_name("cd" * 32, 256)


def run(*args) -> str:
    out = io.StringIO()
    call_command("storage_check", *args, stdout=out)
    return out.getvalue()


def age(name: str, seconds: int = 7200) -> None:
    """Make a stored file look ``seconds`` old."""
    then = time.time() - seconds
    os.utime(default_storage.path(name), (then, then))


def plant(name: str, old: bool = True) -> None:
    default_storage.save(name, ContentFile(b"not referenced by any row"))
    if old:
        age(name)


def test_clean_storage_reports_nothing(owner):
    make_image(owner)
    assert "Storage and database agree." in run()


def test_finds_planted_orphans_without_deleting_them(owner):
    make_image(owner)
    plant(ORPHAN)
    plant(ORPHAN_THUMB)
    output = run()
    assert "Orphan files (no row refers to them): 2" in output
    assert ORPHAN in output and ORPHAN_THUMB in output
    assert "Run with --fix" in output
    assert default_storage.exists(ORPHAN)


def test_fix_deletes_orphans_and_keeps_referenced_files(owner):
    image = make_image(owner)
    age(image.file)
    plant(ORPHAN)
    plant(ORPHAN_THUMB)
    output = run("--fix")
    assert "Deleted 2 file(s)" in output
    assert not default_storage.exists(ORPHAN) and not default_storage.exists(ORPHAN_THUMB)
    assert default_storage.exists(image.file) and default_storage.exists(image.thumbnail)
    assert "Storage and database agree." in run()


def test_young_unreferenced_files_are_left_alone(owner):
    plant(ORPHAN, old=False)
    output = run("--fix")
    assert "Orphan files (no row refers to them): 0" in output
    assert "1 unreferenced file(s) younger than 3600 s left alone" in output
    assert default_storage.exists(ORPHAN)
    run("--fix", "--min-age", "0")
    assert not default_storage.exists(ORPHAN)


def test_finds_rows_whose_files_are_missing(owner):
    lost = make_image(owner)
    thumbless = make_image(owner)
    default_storage.delete(lost.file)
    default_storage.delete(thumbless.thumbnail)
    output = run()
    assert f"Rows whose original is missing: 1\n  image {lost.pk}: {lost.file}" in output
    assert f"Rows whose thumbnail is missing: 1\n  image {thumbless.pk}: " in output


def test_fix_rebuilds_a_missing_thumbnail_from_its_original(owner):
    image = make_image(owner)
    default_storage.delete(image.thumbnail)
    output = run("--fix")
    assert "rebuilt 1 thumbnail(s)" in output
    with default_storage.open(image.thumbnail) as handle:
        thumb = PILImage.open(handle)
        assert thumb.format == "WEBP" and max(thumb.size) <= 256
    assert "Storage and database agree." in run()


def test_fix_cannot_rebuild_a_thumbnail_without_its_original(owner):
    image = make_image(owner)
    default_storage.delete(image.file)
    default_storage.delete(image.thumbnail)
    output = run("--fix")
    assert "1 thumbnail(s) cannot be rebuilt" in output
    assert not default_storage.exists(image.thumbnail)


def test_stale_temp_files_are_reported_and_removed(owner):
    plant("temp/upload-stale")
    plant("temp/upload-fresh", old=False)
    output = run()
    assert "Stale files in temp/ (older than 3600 s): 1\n  temp/upload-stale" in output
    run("--fix")
    assert not default_storage.exists("temp/upload-stale")
    assert default_storage.exists("temp/upload-fresh")


def test_shared_content_is_not_an_orphan_while_one_row_uses_it(owner, member):
    first = make_image(owner)
    with default_storage.open(first.file) as handle:
        data = handle.read()
    second = make_image(member, data=data)
    age(first.file)
    assert second.file == first.file
    first.delete()
    run("--fix")
    assert default_storage.exists(second.file)


def test_regenerate_thumbnails_at_a_new_size_points_rows_at_them(owner):
    image = make_image(owner, data=_big_png())
    old = image.thumbnail
    out = io.StringIO()
    call_command("regenerate_thumbnails", "--size", "64", stdout=out)
    image.refresh_from_db()
    assert image.thumbnail == thumbnail_name(image.sha256, 64) != old
    assert "Wrote 1 thumbnail(s) at 64 px; pointed 1 row(s)" in out.getvalue()
    with default_storage.open(image.thumbnail) as handle:
        assert max(PILImage.open(handle).size) == 64
    assert not default_storage.exists(old)


def test_regenerate_thumbnails_rewrites_a_damaged_thumbnail(owner):
    image = make_image(owner, data=_big_png())
    default_storage.delete(image.thumbnail)
    default_storage.save(image.thumbnail, ContentFile(b"garbage"))
    call_command("regenerate_thumbnails", stdout=io.StringIO())
    with default_storage.open(image.thumbnail) as handle:
        assert PILImage.open(handle).format == "WEBP"
    assert Image.objects.get(pk=image.pk).thumbnail == image.thumbnail


def test_regenerate_thumbnails_refuses_a_silly_size():
    with pytest.raises(CommandError, match="--size"):
        call_command("regenerate_thumbnails", "--size", "5")


def _big_png() -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (300, 200), (200, 10, 10)).save(out, format="PNG")
    return out.getvalue()


# --- Generation inputs (docs/image-operations.md): a drawn mask's file is the row's ---------


def _drawn_mask(owner, *, image=None, image_ref=None) -> GenerationInput:
    """A mask stored for ``owner``'s new generation, as generation.inputs records one."""
    child = make_image(owner, operation="inpaint")
    mask = PILImage.new("L", (48, 32), 0)
    mask.paste(255, (0, 0, 10, 10))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    checked = validate_image(out.getvalue())
    name = image_name(checked.sha256, "png")
    default_storage.save(name, ContentFile(checked.data))
    age(name)
    return GenerationInput.objects.create(
        generation=child.generation,
        image=image,
        image_ref=image_ref,
        role="mask",
        file=name,
        sha256=checked.sha256,
        format="PNG",
        width=48,
        height=32,
    )


def test_a_drawn_mask_is_referenced_not_an_orphan(owner):
    mask = _drawn_mask(owner)
    assert "Orphan files (no row refers to them): 0" in run()
    output = run("--fix")
    assert "Deleted 0 file(s)" in output and "Storage and database agree." in output
    assert default_storage.exists(mask.file)


def test_a_deleted_parents_file_is_not_kept_by_the_lineage(owner):
    # The input was a gallery image, since deleted: the lineage keeps its id, not its bytes
    # (gallery.services.discard_unreferenced deletes them with the image).
    stale = _drawn_mask(owner, image_ref=987654)
    assert f"Orphan files (no row refers to them): 1\n  {stale.file}" in run()
    run("--fix")
    assert not default_storage.exists(stale.file)


def test_a_drawn_mask_whose_file_is_gone_is_reported(owner):
    mask = _drawn_mask(owner)
    default_storage.delete(mask.file)
    output = run()
    assert (
        f"Drawn masks whose file is missing: 1\n  generation input {mask.pk}: {mask.file}" in output
    )
    assert "Run with --fix" in output
