"""A generation is one request to a provider for one or more images; its state lives here."""

from django.conf import settings
from django.db import models
from django.utils import timezone

from gallery.models import Origin
from imagegen.core.permissions import CHANGE, DELETE, VIEW, PermissionQuerySet
from imagegen.providers.base import Operation


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


FINISHED_STATUSES = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

# An upload is recorded as a finished generation of this operation (provider and model
# "upload"), so every image has one: it never runs, costs nothing and is left out of the
# generation lists and the usage figures.
UPLOAD = "upload"


class OperationChoice(models.TextChoices):
    GENERATE = Operation.GENERATE, "Generate"
    EDIT = Operation.EDIT, "Edit"
    INPAINT = Operation.INPAINT, "Inpaint"
    OUTPAINT = Operation.OUTPAINT, "Outpaint"
    UPSCALE = Operation.UPSCALE, "Upscale"
    REMOVE_BACKGROUND = Operation.REMOVE_BACKGROUND, "Remove background"
    UPLOAD = UPLOAD, "Upload"


class GenerationQuerySet(PermissionQuerySet):
    actions = (VIEW, CHANGE, DELETE)

    def _scope(self, user, action):
        """Generations the user may see, cancel or retry (change) and delete: their own.
        Everything else is a 404."""
        return self.filter(owner=user)

    def finished(self):
        return self.filter(status__in=FINISHED_STATUSES)

    def runs(self):
        """Generations that ran (or will run) at a provider: every one but uploads."""
        return self.exclude(operation=UPLOAD)


class Generation(models.Model):
    """One request for images: its parameters, its progress and its outcome."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="generations"
    )
    project = models.ForeignKey(
        "projects.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    provider = models.CharField(max_length=32)
    model = models.CharField(max_length=200)
    prompt = models.TextField()
    negative_prompt = models.TextField(blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    num_images = models.PositiveSmallIntegerField(default=1)
    steps = models.PositiveSmallIntegerField(null=True, blank=True)
    cfg_scale = models.FloatField(null=True, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    params = models.JSONField(default=dict, blank=True)
    # Images in (docs/image-operations.md): what the generation does with its inputs (the
    # inputs themselves, with the mask, are gallery.GenerationInput rows: the lineage).
    operation = models.CharField(
        max_length=20, choices=OperationChoice.choices, default=Operation.GENERATE
    )
    strength = models.FloatField(null=True, blank=True)
    # ``scale`` (upscale) and ``margins`` {left, top, right, bottom} (outpaint).
    operation_params = models.JSONField(default=dict, blank=True)

    status = models.CharField(
        max_length=10, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    cancel_requested = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_request_id = models.CharField(max_length=200, blank=True)
    # Revised prompt, returned seed, safety flags, timings and logs as the provider gave them.
    provider_metadata = models.JSONField(default=dict, blank=True)
    cost_usd = models.DecimalField(max_digits=12, decimal_places=6, null=True, blank=True)
    cost_is_estimate = models.BooleanField(default=True)
    # Whose key paid for it: "user", "team", "environment", or "" for keyless providers.
    key_source = models.CharField(max_length=12, blank=True)
    # Self-hosted providers (docs/self-hosted-backends.md): the backend of the pool that runs
    # or ran it, how far it is (0..1, null when the provider reports no progress) and the
    # GPU time it took (the backend's own timings where reported, else the run time).
    backend = models.ForeignKey(
        "generation.Backend",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    progress = models.FloatField(null=True, blank=True)
    gpu_seconds = models.FloatField(null=True, blank=True)
    # Prompt tools (issue #7): the style preset applied and what the user typed before the
    # style and {a|b} variations made ``prompt`` / ``negative_prompt`` (empty: typed as sent).
    style = models.ForeignKey(
        "generation.StylePreset",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="generations",
    )
    prompt_text = models.TextField(blank=True)
    negative_prompt_text = models.TextField(blank=True)
    # Where it was asked from (docs/openai-gateway.md): "generated" (the studio and /api) or
    # "api" (the OpenAI-compatible /v1 gateway), which its images inherit; for the gateway,
    # the client's ``user`` field and User-Agent as sent.
    origin = models.CharField(
        max_length=10,
        choices=Origin.choices,
        default=Origin.GENERATED,
        help_text="api: asked through the /v1 gateway; generated: the studio or /api.",
    )
    client_user = models.CharField(
        max_length=256, blank=True, help_text="The /v1 client's own user field, as sent."
    )
    user_agent = models.CharField(
        max_length=300, blank=True, help_text="The /v1 client's User-Agent, as sent."
    )

    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    # When the state last changed (creation, claim, finish, cancel request, re-queue): what
    # the live-update watcher (generation/live.py) reads. Heartbeats do not move it.
    updated_at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = GenerationQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="gen_owner_newest"),
            models.Index(fields=["owner", "status", "-id"], name="gen_owner_status"),
            models.Index(fields=["status", "heartbeat_at"], name="gen_status_heartbeat"),
            models.Index(fields=["status", "id"], name="gen_status_oldest"),
            # Dashboard figures over days that are not the team's (generation.usage.windows).
            models.Index(fields=["created_at"], name="gen_created"),
            models.Index(fields=["owner", "created_at"], name="gen_owner_created"),
            models.Index(fields=["project", "created_at"], name="gen_project_created"),
        ]

    def __str__(self):
        return f"Generation {self.pk} ({self.status})"

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    # State changes are conditional updates so that two actors (a worker, a cancel, the
    # recovery sweep) never overwrite each other's outcome: ``attempts`` fences a run, so a
    # worker whose generation was re-queued and claimed again cannot finish it twice.
    # Each returns whether it applied.

    def request_fields(self) -> dict:
        """What was asked for, as a POST /api/generate body (retry and remix start here)."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "provider": self.provider,
            "model": self.model,
            "width": self.width,
            "height": self.height,
            "num_images": self.num_images,
            "steps": self.steps,
            "cfg_scale": self.cfg_scale,
            "seed": self.seed,
            "params": self.params,
            "project": self.project_id,
            **self.operation_fields(),
        }

    def operation_fields(self) -> dict:
        """The image-operation part of ``request_fields`` (empty for a plain generate); the
        inputs by the ids their images had."""
        if self.operation in (Operation.GENERATE, UPLOAD):
            return {}
        inputs = sorted(self.inputs.all(), key=lambda item: item.position)
        fields = {
            "operation": self.operation,
            "input_images": [i.image_ref for i in inputs if i.role == "input"],
        }
        mask = next((i for i in inputs if i.role == "mask"), None)
        if mask is not None and mask.image_ref is not None:
            # A drawn mask (never a gallery image) has no id to name: retry hands over the
            # recorded input itself (generation.services.retry_generation).
            fields["mask"] = mask.image_ref
        if self.strength is not None:
            fields["strength"] = self.strength
        if "scale" in self.operation_params:
            fields["scale"] = self.operation_params["scale"]
        if "margins" in self.operation_params:
            fields["outpaint"] = dict(self.operation_params["margins"])
        return fields

    def mark_succeeded(self, *, cost_usd=None, cost_is_estimate=True) -> bool:
        """running → succeeded, unless a cancel or another actor got there first."""
        now = timezone.now()
        applied = Generation.objects.filter(
            pk=self.pk, status=Status.RUNNING, cancel_requested=False, attempts=self.attempts
        ).update(
            status=Status.SUCCEEDED,
            finished_at=now,
            cost_usd=cost_usd,
            cost_is_estimate=cost_is_estimate,
            gpu_seconds=self.gpu_seconds,
            progress=1.0 if self.progress is not None else None,
            provider_request_id=self.provider_request_id,
            provider_metadata=self.provider_metadata,
            seed=self.seed,
            updated_at=now,
        )
        if applied:
            self.status, self.finished_at, self.updated_at = Status.SUCCEEDED, now, now
            self.cost_usd, self.cost_is_estimate = cost_usd, cost_is_estimate
        return bool(applied)

    def mark_failed(self, reason: str) -> bool:
        """queued/running → failed with a reason a person can read."""
        now = timezone.now()
        applied = Generation.objects.filter(
            pk=self.pk, status__in=(Status.QUEUED, Status.RUNNING), attempts=self.attempts
        ).update(
            status=Status.FAILED,
            error=reason[:2000],
            finished_at=now,
            provider_request_id=self.provider_request_id,
            provider_metadata=self.provider_metadata,
            gpu_seconds=self.gpu_seconds,
            updated_at=now,
        )
        if applied:
            self.status, self.error, self.finished_at = Status.FAILED, reason[:2000], now
            self.updated_at = now
        return bool(applied)

    def requeue(self) -> bool:
        """running → queued for another attempt (a dead worker, a backend that stopped
        answering): the run's claim, backend and progress are let go."""
        applied = Generation.objects.filter(
            pk=self.pk, status=Status.RUNNING, attempts=self.attempts
        ).update(
            status=Status.QUEUED,
            started_at=None,
            heartbeat_at=None,
            backend=None,
            progress=None,
            updated_at=timezone.now(),
        )
        if applied:
            self.status, self.started_at, self.heartbeat_at = Status.QUEUED, None, None
            self.backend_id, self.progress = None, None
        return bool(applied)

    def mark_canceled(self) -> bool:
        """queued/running → canceled."""
        now = timezone.now()
        applied = Generation.objects.filter(
            pk=self.pk, status__in=(Status.QUEUED, Status.RUNNING), attempts=self.attempts
        ).update(status=Status.CANCELED, finished_at=now, cancel_requested=True, updated_at=now)
        if applied:
            self.status, self.finished_at, self.cancel_requested = Status.CANCELED, now, True
            self.updated_at = now
        return bool(applied)
