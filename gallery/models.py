"""Images: the stored results of generations."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class ImageQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Images the user may see: their own. Everything else is a 404."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def files_visible_to(self, user):
        """Images whose files the user may download: their own, or any for an admin who
        holds the view permission (the admin shows thumbnails)."""
        if user.is_authenticated and user.is_staff and user.has_perm("gallery.view_image"):
            return self.all()
        return self.visible_to(user)


class Image(models.Model):
    """One stored image file with its thumbnail, produced by a generation."""

    generation = models.ForeignKey(
        "generation.Generation", on_delete=models.CASCADE, related_name="images"
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    project = models.ForeignKey(
        "projects.Project", null=True, blank=True, on_delete=models.SET_NULL,
        related_name="images",
    )
    index = models.PositiveSmallIntegerField(default=0, help_text="Position in its generation")
    # Storage names, built only from the content hash (see gallery/storage.py).
    file = models.CharField(max_length=200)
    thumbnail = models.CharField(max_length=200)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    format = models.CharField(max_length=10)
    bytes = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    seed = models.BigIntegerField(null=True, blank=True)
    favorite = models.BooleanField(default=False)
    title = models.CharField(max_length=200, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    objects = ImageQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="image_owner_newest"),
            models.Index(fields=["owner", "favorite", "-id"], name="image_owner_favorite"),
            models.Index(fields=["project", "-id"], name="image_project_newest"),
        ]

    def __str__(self):
        return self.title or f"Image {self.pk}"

    @property
    def content_type(self) -> str:
        return {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}.get(
            self.format, "application/octet-stream"
        )

    @property
    def extension(self) -> str:
        return {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}.get(self.format, "bin")
