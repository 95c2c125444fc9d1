"""A project groups a team's generations and images; its owner shares it with members."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"


class ProjectQuerySet(models.QuerySet):
    def visible_to(self, user):
        """Projects the user may see: the ones they own and the ones shared with them."""
        if not user.is_authenticated:
            return self.none()
        shared = ProjectMembership.objects.filter(user=user).values("project_id")
        return self.filter(Q(owner=user) | Q(pk__in=shared))

    def writable_by(self, user):
        """Projects the user may add generations and images to, and remove images from:
        the ones they own and the ones where they are an editor."""
        if not user.is_authenticated:
            return self.none()
        editing = ProjectMembership.objects.filter(user=user, role=Role.EDITOR).values(
            "project_id"
        )
        return self.filter(Q(owner=user) | Q(pk__in=editing))

    def owned_by(self, user):
        """Projects whose settings, members and existence the user controls: their own."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(owner=user)


class Project(models.Model):
    """A named collection of images, owned by one user and shared with members."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    cover_image = models.ForeignKey(
        "gallery.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="ProjectMembership", related_name="shared_projects",
        blank=True,
    )
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

    def role_of(self, user) -> str | None:
        """'owner', 'editor', 'viewer', or None when the project is not shared with the user."""
        if user.pk == self.owner_id:
            return "owner"
        membership = self.memberships.filter(user=user).first()
        return membership.role if membership else None


class ProjectMembership(models.Model):
    """One team member's access to someone else's project: viewer (sees its images) or
    editor (also adds, removes and generates images into it)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="project_memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.VIEWER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="membership_unique_user"),
        ]
        indexes = [models.Index(fields=["user", "role"], name="membership_user_role")]

    def __str__(self):
        return f"{self.user} is {self.role} of {self.project}"
