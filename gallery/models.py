"""Images: the stored results of generations."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from imagegen.core.permissions import (
    CHANGE,
    CONTRIBUTE,
    DELETE,
    DOWNLOAD,
    MOVE,
    VIEW,
    PermissionQuerySet,
)
from projects.models import Project

MAX_RATING = 5
# The largest id a BigAutoField holds: a larger one in a request is a 400, not a database
# error (SQLite cannot even bind it).
MAX_ID = 2**63 - 1
MAX_TAG_LENGTH = 50
MAX_TAGS_PER_IMAGE = 30
# Listing pages split for_user(user, "view") into at most this many index ranges (see visible_arms).
MAX_ARMS = 50
_TAG_CHARS = re.compile(r"^[\w\- .]+$")


def normalize_tag(raw: str) -> str:
    """A tag as stored: trimmed, lower case, inner whitespace collapsed; ValidationError when
    it is empty, too long or has characters other than letters, digits, space, - _ and ."""
    name = " ".join(str(raw).split()).lower()
    if not name:
        raise ValidationError("A tag cannot be empty.")
    if len(name) > MAX_TAG_LENGTH:
        raise ValidationError(f"A tag has at most {MAX_TAG_LENGTH} characters.")
    if not _TAG_CHARS.match(name):
        raise ValidationError(
            f"Tag {name!r}: use letters, digits, spaces, hyphens, underscores and dots."
        )
    return name


class ImageQuerySet(PermissionQuerySet):
    actions = (VIEW, CHANGE, DELETE, MOVE, DOWNLOAD)

    def _scope(self, user, action):
        """view: the user's own images, plus every image in a project they own or that is
        shared with them (viewer or editor); everything else is a 404. change (title, notes,
        tags, rating, favorite) and delete: their own. move (out of its project): their own, and
        any image in a project they may contribute to (its owner or an editor); where to is
        ``movable_to``.
        download (the files): view, or any image for an admin who holds the view permission
        (the admin shows thumbnails)."""
        if action in (CHANGE, DELETE):
            return self.filter(owner=user)
        if action == DOWNLOAD and user.is_staff and user.has_perm("gallery.view_image"):
            return self.all()
        projects = Project.objects.for_user(user, CONTRIBUTE if action == MOVE else VIEW)
        return self.filter(Q(owner=user) | Q(project__in=projects.values("pk")))

    def movable_to(self, user, target):
        """The images ``user`` may move into ``target`` (a Project, or None: no project). The
        one rule of every move path (docs/security.md): the user may take the image out of
        its project (``move``), and the move shows it to no one its owner had not already
        shared it with, unless the user is its owner. So: anyone who may move an image may
        give it back to its owner alone (no project); its owner may move it into any project
        they may contribute to; anyone else only into a project that the image's owner owns
        and that they may contribute to."""
        movable = self.for_user(user, MOVE)
        if target is None:
            return movable
        if not Project.objects.allows(user, CONTRIBUTE, target):
            return movable.none()
        return movable.filter(Q(owner=user) | Q(owner_id=target.owner_id))

    def visible_arms(self, user) -> list | None:
        """``for_user(user, "view")`` as one queryset per index range: the user's own images,
        then each visible project's (each narrowing this queryset, which need not be scoped
        yet; the page query keeps ``for_user`` itself). ``owner OR project IN (…)`` is planned
        as a walk of the images in sort order that stops after a page of matches: cheap for a
        user who owns many of them, a walk of the whole table for one who owns few or none;
        each arm walks only its own range. None (no split) beyond MAX_ARMS projects."""
        projects = self.visible_project_ids(user)
        if projects is None:
            return None
        return [self.filter(owner=user), *(self.filter(project_id=pk) for pk in projects)]

    def visible_project_ids(self, user) -> list | None:
        """The ids of the projects whose images the user sees; None beyond MAX_ARMS of them
        (or for an anonymous user, who sees none)."""
        if not user.is_authenticated:
            return None
        projects = list(
            Project.objects.for_user(user, VIEW)
            .order_by("pk")
            .values_list("pk", flat=True)[: MAX_ARMS + 1]
        )
        return projects if len(projects) <= MAX_ARMS else None


class Tag(models.Model):
    """A normalized label (lower case, single spaces) shared by every image that carries it."""

    name = models.CharField(max_length=MAX_TAG_LENGTH, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


def seed_of(image_seed, generation_seed, generation_images: int) -> int | None:
    """``Image.known_seed`` for rows read as values (the gallery's list)."""
    if image_seed is not None:
        return image_seed
    return generation_seed if generation_images == 1 else None


class Origin(models.TextChoices):
    GENERATED = "generated", "Generated"
    UPLOAD = "upload", "Uploaded"
    API = "api", "From API clients (/v1)"


class Image(models.Model):
    """One stored image file with its thumbnail, produced by a generation (an upload is a
    generation of operation "upload": every image has one)."""

    generation = models.ForeignKey(
        "generation.Generation", on_delete=models.CASCADE, related_name="images"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="images",
    )
    index = models.PositiveSmallIntegerField(default=0, help_text="Position in its generation")
    origin = models.CharField(max_length=10, choices=Origin.choices, default=Origin.GENERATED)
    # Storage names, built only from the content hash (see imagegen/core/storage.py).
    file = models.CharField(max_length=200)
    thumbnail = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    seed = models.BigIntegerField(null=True, blank=True)
    favorite = models.BooleanField(default=False)
    rating = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(MAX_RATING)], help_text="0 (unrated) to 5"
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="images")
    # The tag names joined by spaces: full-text search indexes it beside the title and notes
    # (the SQLite FTS5 triggers and the PostgreSQL GIN index both read this one column).
    tag_names = models.TextField(blank=True, default="", editable=False)
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    # A copy of the generation's prompt (which never changes), so that SQLite's full-text
    # triggers read only this table: a trigger that reads generation_generation would block
    # every later migration that SQLite implements by rebuilding that table.
    search_prompt = models.TextField(blank=True, default="", editable=False)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="image_owner_newest"),
            models.Index(fields=["owner", "favorite", "-id"], name="image_owner_favorite"),
            models.Index(fields=["project", "-id"], name="image_project_newest"),
            models.Index(fields=["owner", "-rating", "-id"], name="image_owner_rating"),
            models.Index(fields=["project", "-rating", "-id"], name="image_project_rating"),
            models.Index(fields=["owner", "origin", "-id"], name="image_owner_origin"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__lte=MAX_RATING), name="image_rating_at_most_5"
            ),
        ]

    def __str__(self):
        return self.title or f"Image {self.pk}"

    @property
    def known_seed(self) -> int | None:
        """The seed that reproduces this image: its own, else its generation's when that made
        this image alone. A batch's seed reproduces the batch, not one of its images
        (providers such as fal and Replicate report one seed per batch), so it is no image's
        seed: showing it, embedding it or remixing with it would be an invention."""
        return seed_of(self.seed, self.generation.seed, self.generation.num_images)

    @property
    def orientation(self) -> str:
        if self.width > self.height:
            return "landscape"
        return "portrait" if self.height > self.width else "square"

    @property
    def content_type(self) -> str:
        return {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(
            self.format, "application/octet-stream"
        )

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}.get(self.format, "bin")


class InputRole(models.TextChoices):
    INPUT = "input", "Input image"
    MASK = "mask", "Mask"


class GenerationInput(models.Model):
    """One input of a generation (an image it edited, referenced, upscaled…, or its mask):
    the lineage. ``image`` is the gallery image it was, kept as ``image_ref`` once that image
    is deleted (the lineage then says "deleted"); a mask drawn in the mask editor has no
    gallery image at all. ``file`` is the stored original the provider was given (content
    addressed, like every image file): a retry reads it again, and it is kept while any row
    names it."""

    generation = models.ForeignKey(
        "generation.Generation", on_delete=models.CASCADE, related_name="inputs"
    )
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="used_in"
    )
    image_ref = models.BigIntegerField(
        null=True, blank=True, help_text="The id the image had (kept after it is deleted)."
    )
    role = models.CharField(max_length=10, choices=InputRole.choices, default=InputRole.INPUT)
    position = models.PositiveSmallIntegerField(default=0)
    file = models.CharField(max_length=200)
    sha256 = models.CharField(max_length=64)
    format = models.CharField(max_length=10)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        ordering = ["generation", "position"]
        indexes = [models.Index(fields=["file"], name="input_file")]

    def __str__(self):
        return f"{self.get_role_display()} {self.position} of generation {self.generation_id}"

    @property
    def state(self) -> str:
        """present (its gallery image exists), deleted (it had one) or drawn (a mask
        drawn for this generation, never a gallery image)."""
        if self.image_id is not None:
            return "present"
        return "deleted" if self.image_ref is not None else "drawn"
