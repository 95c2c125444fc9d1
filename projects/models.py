"""A project groups a team's generations and images; its owner shares it with members."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import (
    Count,
    DecimalField,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Sum,
)
from django.db.models.functions import Coalesce

from imagegen.core.permissions import CHANGE, CONTRIBUTE, DELETE, VIEW, PermissionQuerySet


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    EDITOR = "editor", "Editor"


class ProjectQuerySet(PermissionQuerySet):
    actions = (VIEW, CONTRIBUTE, CHANGE, DELETE)

    def _scope(self, user, action):
        """view: the projects the user owns and the ones shared with them. contribute (add
        generations and images, remove images): the ones they own and the ones where they
        are an editor. change (settings, members) and delete: their own."""
        if action in (CHANGE, DELETE):
            return self.filter(owner=user)
        shared = ProjectMembership.objects.filter(user=user)
        if action == CONTRIBUTE:
            shared = shared.filter(role=Role.EDITOR)
        return self.filter(Q(owner=user) | Q(pk__in=shared.values("project_id")))

    def with_stats(self):
        """Annotate image_count, total_cost_usd (what generating into the project cost) and
        latest_image_id, and prefetch members: a constant number of queries for any list."""
        # The image and generation models sit in apps above this one: they are reached
        # through their relations to Project, not imported.
        Image = Project.images.field.model  # noqa: N806 - a model class
        Generation = Project.generations.field.model  # noqa: N806

        money = DecimalField(max_digits=14, decimal_places=6)
        images = Image.objects.filter(project=OuterRef("pk")).order_by()
        spent = Generation.objects.filter(project=OuterRef("pk")).order_by()
        return (
            self.select_related("owner")
            .prefetch_related(
                Prefetch("memberships", queryset=ProjectMembership.objects.select_related("user"))
            )
            .annotate(
                image_count=Coalesce(
                    Subquery(
                        images.values("project").annotate(n=Count("pk")).values("n"),
                        output_field=IntegerField(),
                    ),
                    0,
                ),
                total_cost_usd=Coalesce(
                    Subquery(
                        spent.values("project").annotate(total=Sum("cost_usd")).values("total"),
                        output_field=money,
                    ),
                    Decimal("0"),
                    output_field=money,
                ),
                latest_image_id=Subquery(images.order_by("-id").values("pk")[:1]),
            )
        )


class Project(models.Model):
    """A named collection of images, owned by one user and shared with members."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    cover_image = models.ForeignKey(
        "gallery.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ProjectMembership",
        related_name="shared_projects",
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
        """'owner', 'editor', 'viewer', or None when the project is not shared with the user.
        Reads the prefetched members (``with_stats``) when there are any."""
        if user.pk == self.owner_id:
            return "owner"
        for membership in self.memberships.all():
            if membership.user_id == user.pk:
                return membership.role
        return None


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
