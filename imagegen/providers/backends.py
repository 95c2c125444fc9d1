"""The team's own GPU servers (backends) and the ComfyUI workflows offered as models.

Like the catalog's table, these rows belong to the ``generation`` app (app label, admin pages,
migrations); the classes live here so that the self-hosted providers read them without
importing any app above this package. Django registers them when ``generation.models``
imports this module. docs/self-hosted-backends.md explains the setup.

A backend is one server of one kind (ComfyUI, AUTOMATIC1111/Forge, an OpenAI-compatible image
server). Several backends of one kind are a pool behind one provider (``comfyui``, ``a1111``,
``openai_compatible``) whose models are the union of what they serve; the runner picks the
healthy backend with the most free capacity for each job (``generation.backends``).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from decimal import Decimal

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import DatabaseError, models

from imagegen.core.crypto import EncryptedSecretField


class BackendKind(models.TextChoices):
    COMFYUI = "comfyui", "ComfyUI"
    A1111 = "a1111", "AUTOMATIC1111 / Forge"
    OPENAI_COMPATIBLE = "openai_compatible", "OpenAI-compatible image server"


class BackendAuth(models.TextChoices):
    NONE = "none", "none"
    BASIC = "basic", "HTTP basic (user name and password)"
    BEARER = "bearer", "bearer token"


class BackendSource(models.TextChoices):
    ADMIN = "admin", "added by an admin"
    ENVIRONMENT = "environment", "from the environment (COMFYUI_BASE_URL, …)"


class BackendQuerySet(models.QuerySet):
    def with_running(self):
        """Each backend with ``running``: the jobs it runs now (distinct: a groups filter
        joins rows that would count a job twice)."""
        return self.annotate(
            running=models.Count(
                "generations",
                filter=models.Q(generations__status="running"),  # generation.models.Status
                distinct=True,
            )
        )

    def usable_by(self, user):
        """Enabled backends the user may send work to: those without groups are everyone's;
        the others belong to the members of their groups (and to superusers)."""
        rows = self.filter(enabled=True)
        if user is not None and getattr(user, "is_superuser", False):
            return rows
        group_ids = list(user.groups.values_list("id", flat=True)) if user is not None else []
        return rows.filter(models.Q(groups=None) | models.Q(groups__in=group_ids)).distinct()


class Backend(models.Model):
    """One GPU server: where it is, how to reach it, how much it may run, what it costs and
    what the last health check found."""

    kind = models.CharField(max_length=20, choices=BackendKind.choices)
    name = models.CharField(
        max_length=100, unique=True, help_text="How people and the admin name it, e.g. gpu-1."
    )
    base_url = models.URLField(
        max_length=500,
        help_text="Where the server answers, e.g. http://10.0.0.5:8188 (ComfyUI), "
        "http://10.0.0.5:7860 (AUTOMATIC1111/Forge, started with --api) or "
        "http://10.0.0.5:8080/v1 (an OpenAI-compatible server). A private address is fine.",
    )
    auth = models.CharField(max_length=10, choices=BackendAuth.choices, default=BackendAuth.NONE)
    username = models.CharField(max_length=150, blank=True, help_text="For HTTP basic.")
    secret = EncryptedSecretField(
        null=True,
        blank=True,
        help_text="The password (HTTP basic) or the token (bearer). Stored encrypted; never "
        "shown again.",
    )
    enabled = models.BooleanField(default=True)
    max_concurrent = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="How many jobs it runs at once; more wait here for a free slot.",
    )
    price_per_gpu_second = models.DecimalField(
        max_digits=12,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal(0))],
        help_text="USD per GPU-second, counted in spend and budgets. Empty: free.",
    )
    typical_seconds = models.FloatField(
        default=20.0,
        validators=[MinValueValidator(0.0)],
        help_text="GPU-seconds one image usually takes, for cost estimates before a run.",
    )
    offered_models = models.TextField(
        blank=True,
        help_text="Offer only these of the models it lists, one id per line (AUTOMATIC1111: "
        "checkpoint names; OpenAI-compatible: model ids, e.g. to leave out its chat models). "
        "Empty: every model it lists. ComfyUI offers the workflows instead.",
    )
    edits = models.BooleanField(
        default=False,
        help_text="OpenAI-compatible servers: it also serves /v1/images/edits.",
    )
    groups = models.ManyToManyField(
        "auth.Group",
        blank=True,
        related_name="backends",
        help_text="Who may use it. None: everyone.",
    )
    source = models.CharField(
        max_length=12, choices=BackendSource.choices, default=BackendSource.ADMIN, editable=False
    )
    # What the last health check found (generation.backends.check_backend).
    healthy = models.BooleanField(default=True, editable=False)
    unhealthy_since = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(max_length=500, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # What it listed: checkpoints (A1111) or model ids (OpenAI-compatible), and the rest of
    # what a provider needs of its listing (A1111: samplers, upscalers).
    listed_models = models.JSONField(default=list, blank=True, editable=False)
    listed_extra = models.JSONField(default=dict, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BackendQuerySet.as_manager()

    class Meta:
        app_label = "generation"
        ordering = ["kind", "name"]
        verbose_name = "GPU backend"

    def __str__(self):
        return f"{self.name} ({self.get_kind_display()})"

    def offers(self, model_id: str) -> bool:
        """Whether the admin lets it offer this listed model (``offered_models``)."""
        wanted = {line.strip() for line in self.offered_models.splitlines() if line.strip()}
        return not wanted or model_id in wanted

    def target(self) -> BackendTarget:
        """What a provider thread needs to reach it (no database access there)."""
        return BackendTarget(
            id=self.pk,
            name=self.name,
            kind=self.kind,
            base_url=self.base_url.rstrip("/"),
            headers=auth_headers(self.auth, self.username, self.secret or ""),
            price_per_gpu_second=self.price_per_gpu_second,
            edits=self.edits,
            secrets=credential_forms(self.auth, self.username, self.secret or ""),
        )


def auth_headers(auth: str, username: str, secret: str) -> dict[str, str]:
    if auth == BackendAuth.BASIC:
        token = base64.b64encode(f"{username}:{secret}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    if auth == BackendAuth.BEARER:
        return {"Authorization": f"Bearer {secret}"}
    return {}


def credential_forms(auth: str, username: str, secret: str) -> tuple[str, ...]:
    """Every form in which the credentials could come back in an answer (to redact them)."""
    if auth == BackendAuth.NONE or not secret:
        return ()
    headers = auth_headers(auth, username, secret)
    return (secret, headers["Authorization"].split(" ", 1)[1])


@dataclass(frozen=True)
class BackendTarget:
    """One backend as a running job sees it. ``headers`` carry the credentials: never log,
    repeat or store them (``repr`` leaves them out)."""

    id: int
    name: str
    kind: str
    base_url: str
    headers: dict
    price_per_gpu_second: Decimal | None = None
    edits: bool = False
    secrets: tuple = ()  # the credentials as sent, to redact from what a backend answers

    def __repr__(self) -> str:
        return f"BackendTarget(id={self.id}, name={self.name!r}, kind={self.kind!r})"


class Workflow(models.Model):
    """A ComfyUI workflow in API format, offered as a model of the ``comfyui`` provider.

    ``fields`` maps the studio's fields to the workflow's node inputs, e.g.
    ``{"prompt": {"node": "6", "input": "text"}, "steps": {"node": "3", "input": "steps",
    "min": 1, "max": 60, "default": 25}}``; the Generate page shows exactly the mapped fields
    (providers/comfyui_workflows.py validates it and derives the model's spec)."""

    model_id = models.SlugField(
        max_length=100, unique=True, help_text="The model id people and the API use."
    )
    label = models.CharField(max_length=200)
    description = models.CharField(max_length=500, blank=True)
    operation = models.CharField(
        max_length=20,
        default="generate",
        help_text="What it does: generate, edit, inpaint, upscale or remove_background.",
    )
    workflow = models.JSONField(
        help_text="The workflow in API format (ComfyUI: Workflow → Export (API)).",
    )
    fields = models.JSONField(
        default=dict,
        blank=True,
        help_text="Which node input carries each field, with ranges and defaults.",
    )
    enabled = models.BooleanField(default=True)
    sort_order = models.PositiveSmallIntegerField(default=100)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "generation"
        ordering = ["sort_order", "model_id"]
        verbose_name = "ComfyUI workflow"

    def __str__(self):
        return f"{self.label} ({self.model_id})"


def configured_kinds() -> set[str]:
    """The self-hosted provider kinds with something to offer, in one query: an enabled
    backend that listed models (A1111, OpenAI-compatible) or, for ComfyUI, an enabled backend
    while an enabled workflow exists."""
    offering = (
        Backend.objects.annotate(has_workflow=models.Exists(Workflow.objects.filter(enabled=True)))
        .filter(enabled=True)
        .filter(
            models.Q(kind=BackendKind.COMFYUI, has_workflow=True)
            | (~models.Q(kind=BackendKind.COMFYUI) & ~models.Q(listed_models=[]))
        )
    )
    try:
        return set(offering.values_list("kind", flat=True).distinct())
    except DatabaseError:  # before the first migrate (``check``, ``migrate`` itself)
        return set()


def backend_timeout() -> int:
    """Seconds a self-hosted job may run (BACKEND_TIMEOUT; local GPUs are often slower than a
    cloud API, so they get their own limit)."""
    return settings.BACKEND_TIMEOUT
