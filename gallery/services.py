"""Storing image files and cleaning them up: every multi-step file operation lives here."""

import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import transaction
from django.db.models import Case, Q, Value, When
from django.db.models.functions import Lower

from gallery.models import (
    MAX_ID,
    MAX_RATING,
    MAX_TAGS_PER_IMAGE,
    GenerationInput,
    Image,
    Tag,
    normalize_tag,
)
from imagegen.core import audit
from imagegen.core.exceptions import Forbidden, NotFound
from imagegen.core.imaging import ValidatedImage, make_thumbnail
from imagegen.core.permissions import CHANGE, CONTRIBUTE, MOVE
from imagegen.core.storage import image_name, thumbnail_name
from projects.models import Project

logger = logging.getLogger(__name__)


@dataclass
class StoredFiles:
    """Names of one image's original and thumbnail, and which of them this call created."""

    file: str
    thumbnail: str
    created: list[str] = field(default_factory=list)


def store_image_files(image: ValidatedImage) -> StoredFiles:
    """Store the original bytes and a WebP thumbnail under names built from the hash.

    On local storage the original is written (temp file, fsync, rename) on a second thread
    while this one makes and writes the thumbnail: file I/O and Pillow both release the GIL,
    so the two overlap (bench figure 1). Either failing removes whatever this call created.
    Not for S3: django-storages keeps one connection per thread, and a new thread per image
    would open a new one every time.
    """
    stored = StoredFiles(
        file=image_name(image.sha256, image.extension),
        thumbnail=thumbnail_name(image.sha256, settings.THUMBNAIL_SIZE),
    )
    original = None
    try:
        if not default_storage.exists(stored.file):
            original = _Save(
                stored.file, image.data, background=isinstance(default_storage, FileSystemStorage)
            )
            if original.error is not None:  # written inline, and failed: stop here
                raise original.error
        if not default_storage.exists(stored.thumbnail):
            thumb = make_thumbnail(image.decoded, settings.THUMBNAIL_SIZE)
            default_storage.save(stored.thumbnail, ContentFile(thumb))
            stored.created.append(stored.thumbnail)
    except BaseException:
        if original is not None and original.wait() is None:
            stored.created.insert(0, stored.file)
        discard_unreferenced(stored.created)
        raise
    if original is not None:
        error = original.wait()
        if error is not None:
            discard_unreferenced(stored.created)
            raise error
        stored.created.insert(0, stored.file)
    return stored


def stored_image(image: ValidatedImage, files: StoredFiles, **fields) -> Image:
    """An unsaved Image row for a validated, stored image: its files, size, format and hash
    from the ingest, every other field from ``fields`` (the generation, owner, …)."""
    return Image(
        file=files.file,
        thumbnail=files.thumbnail,
        width=image.width,
        height=image.height,
        format=image.format,
        bytes=len(image.data),
        sha256=image.sha256,
        **fields,
    )


class _Save:
    """``default_storage.save(name, data)``, on a thread of its own when ``background``;
    ``wait()`` returns the exception it raised, or None once the file is in place."""

    def __init__(self, name: str, data: bytes, background: bool = True):
        self.error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(
                target=self._run, args=(name, data), daemon=True, name="ingest-save"
            )
            self._thread.start()
        else:
            self._run(name, data)

    def _run(self, name: str, data: bytes) -> None:
        try:
            default_storage.save(name, ContentFile(data))
        except BaseException as exc:  # handed to wait()
            self.error = exc

    def wait(self) -> BaseException | None:
        if self._thread is not None:
            self._thread.join()
        return self.error


def discard_unreferenced(names: list[str]) -> None:
    """Delete these storage names unless an Image row still refers to one of them, or a
    generation's drawn mask (a GenerationInput that never was a gallery image). An input that
    was a gallery image keeps no file alive: deleting the image deletes its bytes, and the
    lineage then says "deleted"."""
    if not names:
        return
    referenced = set(
        Image.objects.filter(Q(file__in=names) | Q(thumbnail__in=names))
        .values_list("file", "thumbnail")
        .iterator()
    )
    still_used = {name for pair in referenced for name in pair}
    still_used.update(
        GenerationInput.objects.filter(file__in=names, image_ref__isnull=True).values_list(
            "file", flat=True
        )
    )
    for name in names:
        if name in still_used:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.warning("could not delete stored file %s", name, exc_info=True)


# --- Curation: tags, edits, favorites, deletion, bulk actions, remix ---------------------------

MAX_BULK_IDS = 1000
OWN_FIELDS = ("title", "notes", "tags", "rating", "favorite")


class ImagesRefused(NotFound):
    """Some of the ids asked for are not images the user may change; nothing was changed.
    404 with the refused ``ids`` beside the message."""

    def __init__(self, ids, what: str = "change"):
        self.ids = sorted(ids)
        super().__init__(
            f"Nothing was changed: No image you may {what} with id "
            f"{', '.join(map(str, self.ids))}.",
            extra={"ids": self.ids},
        )


def normalize_tags(names) -> list[str]:
    """Distinct normalized tag names in order; ValidationError on the tags field otherwise."""
    try:
        cleaned = list(dict.fromkeys(normalize_tag(name) for name in names))
    except ValidationError as exc:
        raise ValidationError({"tags": exc.messages}) from None
    if len(cleaned) > MAX_TAGS_PER_IMAGE:
        raise ValidationError({"tags": [f"An image has at most {MAX_TAGS_PER_IMAGE} tags."]})
    return cleaned


def _tags_named(names: list[str]) -> list[Tag]:
    existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    missing = [Tag(name=name) for name in names if name not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {tag.name: tag for tag in Tag.objects.filter(name__in=names)}
    return [existing[name] for name in names]


def sync_tag_names(image_ids) -> None:
    """Rewrite the searchable ``tag_names`` column of these images from their tags."""
    names: dict[int, list[str]] = {pk: [] for pk in image_ids}
    rows = Image.tags.through.objects.filter(image_id__in=names).values_list(
        "image_id", "tag__name"
    )
    for image_id, name in rows:
        names[image_id].append(name)
    images = [Image(pk=pk, tag_names=", ".join(sorted(tags))) for pk, tags in names.items()]
    Image.objects.bulk_update(images, ["tag_names"], batch_size=500)


def set_tags(image: Image, names) -> list[str]:
    """Replace the image's tags with these (normalized) names; return them."""
    cleaned = normalize_tags(names)
    with transaction.atomic():
        image.tags.set(_tags_named(cleaned))
        image.tag_names = ", ".join(sorted(cleaned))
        image.save(update_fields=["tag_names"])
    return cleaned


def _check_target_project(user, project):
    """The project images may be moved into: None, or one the user may write to."""
    if project is None:
        return None
    project_id = getattr(project, "pk", project)
    target = Project.objects.for_user(user, "contribute").filter(pk=project_id).first()
    if target is None:
        raise ValidationError({"project": ["No such project you may add images to."]})
    return target


def _forget_covers(image_ids, target) -> None:
    """A project's cover must be one of its images: clear covers these images leave."""
    Project.objects.filter(cover_image_id__in=list(image_ids)).exclude(
        pk=getattr(target, "pk", None)
    ).update(cover_image=None)


def move_targets(user, image: Image):
    """The projects ``user`` may move ``image`` into (what the action bar's picker offers),
    by the rule of ``Image.objects.movable_to``: none when they may not move it at all; its
    owner: every project they may contribute to; anyone else: those of the image's owner that
    they may contribute to. By name. (Giving it back to no project is always allowed once
    the image may be moved.)"""
    if not Image.objects.allows(user, MOVE, image):
        return Project.objects.none()
    targets = Project.objects.for_user(user, CONTRIBUTE)
    if not Image.objects.allows(user, CHANGE, image):  # not its owner
        targets = targets.filter(owner_id=image.owner_id)
    return targets.order_by(Lower("name"), "pk")


def update_image(user, image: Image, data: dict) -> Image:
    """Change an image's title, notes, tags, rating, favorite (its owner only) and project
    (``Image.objects.movable_to``: its owner into any project they may contribute to; an
    owner/editor of its current project to no project or into a project of the image's
    owner that they may contribute to). Forbidden when the user may see the image but not
    make this change; Image.DoesNotExist when it was deleted since it was looked up."""
    own_changes = [name for name in OWN_FIELDS if name in data]
    with transaction.atomic():
        # Under the write lock (IMMEDIATE on SQLite, the row lock on PostgreSQL): a concurrent
        # delete has either happened, and this is a DoesNotExist, or waits for us.
        if not Image.objects.select_for_update().filter(pk=image.pk).exists():
            raise Image.DoesNotExist(f"image {image.pk} is gone")
        if own_changes and not Image.objects.allows(user, "change", image):
            raise Forbidden("Only the image's owner may change " + ", ".join(own_changes) + ".")
        fields = []
        if "project" in data:
            if not Image.objects.for_user(user, "move").filter(pk=image.pk).exists():
                raise Forbidden("You may not move this image out of its project.")
            target = _check_target_project(user, data["project"])
            if not Image.objects.movable_to(user, target).filter(pk=image.pk).exists():
                raise Forbidden(
                    "Only the image's owner may move it into a project its owner does not own."
                )
            image.project = target
            fields.append("project")
            _forget_covers([image.pk], target)
        for name in ("title", "notes", "favorite"):
            if name in data:
                setattr(image, name, data[name])
                fields.append(name)
        if "rating" in data:
            if not 0 <= data["rating"] <= MAX_RATING:
                raise ValidationError({"rating": [f"Give a rating from 0 to {MAX_RATING}."]})
            image.rating = data["rating"]
            fields.append("rating")
        if fields:
            image.save(update_fields=fields)
        if "tags" in data:
            set_tags(image, data["tags"])
    return image


def toggle_favorite(image: Image) -> bool:
    """Flip the image's favorite flag in one UPDATE; return the new state. Raises
    Image.DoesNotExist when the image was deleted since it was looked up."""
    with transaction.atomic():
        changed = Image.objects.filter(pk=image.pk).update(
            favorite=Case(When(favorite=True, then=Value(False)), default=Value(True))
        )
        if not changed:
            raise Image.DoesNotExist(f"image {image.pk} is gone")
        image.refresh_from_db(fields=["favorite"])
    return image.favorite


def delete_images(images, *, record: bool = True) -> int:
    """Delete these image rows; once the transaction commits, delete their original and
    thumbnail files unless another row still refers to the same content. Return the count.
    ``record``: write the audit entry (one, with the count); False when the caller's own
    entry counts them (a project deleted with its images)."""
    images = list(images)
    if not images:
        return 0
    names = sorted({name for image in images for name in (image.file, image.thumbnail)})
    ids = [image.pk for image in images]
    with transaction.atomic():
        if record:
            _record_deletion(images)
        # Lock the rows first, as every edit does (update_image): an edit that adds a tag
        # meanwhile then either commits before the delete collects the tag rows, or finds the
        # image gone. Without the lock PostgreSQL refused the commit (a tag row inserted
        # between the delete's two statements): a 500 under load (the soak found it).
        list(Image.objects.select_for_update().filter(pk__in=ids).values_list("pk", flat=True))
        Image.objects.filter(pk__in=ids).delete()
        transaction.on_commit(lambda: discard_unreferenced(names))
    logger.info("deleted %d image(s)", len(images))
    return len(images)


def delete_project_images(sender, project, with_images: bool, **kwargs) -> int:
    """Receiver of projects' ``project_deleting``: delete the project's images with it when
    asked (the default leaves them in their owners' galleries). Return how many."""
    if not with_images:
        return 0
    return delete_images(
        Image.objects.filter(project=project).only("pk", "file", "thumbnail"), record=False
    )


def _record_deletion(images: list[Image]) -> None:
    """The audit entry of an image deletion: the image itself, or the count and ids."""
    if len(images) == 1:
        audit.record("image.deleted", obj=images[0], object_label=f"Image {images[0].pk}")
        return
    audit.record(
        "image.deleted",
        object_type=Image._meta.label_lower,
        object_label=f"{len(images)} images",
        details={"count": len(images), "ids": [image.pk for image in images]},
    )


BULK_ACTIONS = ("delete", "favorite", "unfavorite", "move", "add_tag", "remove_tag", "set_rating")


def bulk_change(user, ids, action: str, *, project=None, tag=None, rating=None) -> int:
    """Apply one action to every listed image, all or nothing. ``move`` needs a target the
    user may contribute to (or None to unassign) and images the user may move there
    (``Image.objects.movable_to(user, target)``); every other action needs the user's own
    images. ImagesRefused (changing nothing) names
    the ids that are not such images. Return how many images the action covered."""
    ids = list(dict.fromkeys(ids))
    if action not in BULK_ACTIONS:
        raise ValidationError({"action": [f"Unknown action; one of: {', '.join(BULK_ACTIONS)}."]})
    if not ids:
        raise ValidationError({"ids": ["Give at least one image id."]})
    if len(ids) > MAX_BULK_IDS:
        raise ValidationError({"ids": [f"At most {MAX_BULK_IDS} images at once."]})
    if action == "set_rating" and (rating is None or not 0 <= rating <= MAX_RATING):
        raise ValidationError({"rating": [f"Give a rating from 0 to {MAX_RATING}."]})
    if action in ("add_tag", "remove_tag"):
        if not tag:
            raise ValidationError({"tag": ["Give a tag."]})
        try:
            tag = normalize_tag(tag)
        except ValidationError as exc:
            raise ValidationError({"tag": exc.messages}) from None
    with transaction.atomic():
        if action == "move":
            target = _check_target_project(user, project)
            scope = Image.objects.movable_to(user, target)
        else:
            target, scope = None, Image.objects.for_user(user, "change")
        images = scope.filter(pk__in=ids)
        # Locked like the rows update_image changes, so a concurrent delete waits for the tags
        # this adds (see delete_images).
        found = set(images.select_for_update().values_list("pk", flat=True))
        refused = set(ids) - found
        if refused:
            raise ImagesRefused(refused, "move there" if action == "move" else "change")
        if action == "delete":
            return delete_images(images.only("pk", "file", "thumbnail"))
        if action in ("favorite", "unfavorite"):
            images.update(favorite=action == "favorite")
        elif action == "set_rating":
            images.update(rating=rating)
        elif action == "move":
            images.update(project=target)
            _forget_covers(found, target)
        elif action == "add_tag":
            (tag_row,) = _tags_named([tag])
            Image.tags.through.objects.bulk_create(
                [Image.tags.through(image_id=pk, tag_id=tag_row.pk) for pk in found],
                ignore_conflicts=True,
            )
            sync_tag_names(found)
        elif action == "remove_tag":
            Image.tags.through.objects.filter(image_id__in=found, tag__name=tag).delete()
            sync_tag_names(found)
    return len(found)


def remix_body(user, image: Image) -> dict:
    """A ready POST /api/generate body that repeats the image's generation: same prompt,
    model, size and parameters, the image's own seed, one image, and its project when the
    user may still generate into it."""
    generation = image.generation
    project = None
    if (
        image.project_id
        and Project.objects.for_user(user, "contribute").filter(pk=image.project_id).exists()
    ):
        project = image.project_id
    if generation.operation == "upload":  # nothing to repeat: start from the picture
        return {"operation": "edit", "input_images": [image.pk], "project": project}
    seed = image.known_seed
    body = {**generation.request_fields(), "num_images": 1, "seed": seed, "project": project}
    return _usable_inputs(user, body)


def _usable_inputs(user, body: dict) -> dict:
    """Only the inputs the user may use: a parent they may not view (or one since deleted) is
    left out, as the lineage hides it, and so is a drawn mask (no image id to name)."""
    named = [*body.get("input_images", []), body.get("mask")]
    ids = [pk for pk in named if isinstance(pk, int)]
    visible = set(
        Image.objects.for_user(user, "view").filter(pk__in=ids).values_list("pk", flat=True)
    )
    if "input_images" in body:
        body["input_images"] = [pk for pk in body["input_images"] if pk in visible]
    if "mask" in body and body["mask"] not in visible:
        del body["mask"]
    return body


def remix_initial(user, image_id) -> dict:
    """Initial values for the Generate form from a visible image's settings ("use these
    settings"); empty when the id is not an image the user may see."""
    image_id = str(image_id)
    if not (image_id.isascii() and image_id.isdigit() and int(image_id) <= MAX_ID):
        return {}
    image = (
        Image.objects.for_user(user, "view")
        .select_related("generation")
        .filter(pk=int(image_id))
        .first()
    )
    if image is None:
        return {}
    body = remix_body(user, image)
    body.pop("params", None)
    return {key: value for key, value in body.items() if value is not None}
