"""A project groups a team's generations and images."""

from django.conf import settings
from django.db import models


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Projects the user may see: the ones they own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)

    def writable_by(self, user):
        """Projects the user may add generations and images to."""
        return self.visible_to(user)


class Project(models.Model):
    """A named collection of images, owned by one user."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="project_unique_name_per_owner")
        ]

    def __str__(self):
        return self.name
