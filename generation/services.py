"""Business actions on generations: validate and create, cancel, retry, enqueue.

Views, the API and the admin call these; none of them contains this logic.
"""

import logging
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from gallery.services import discard_unreferenced, remix_initial
from generation import inputs
from generation.finish_hooks import generation_finished
from generation.models import Generation, Status, StylePreset
from generation.prompts import services as prompt_tools
from generation.usage.budgets import check_queued
from generation.usage.gate import admit_spending, lock_user
from generation.usage.policy import effective_limits, offered_models
from generation.validation import build_submission
from imagegen.core.exceptions import Conflict
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import GenerationRequest, Provider
from projects.models import Project
from settings_app.keys import has_usable_key, missing_key_message
from settings_app.models import Preferences

logger = logging.getLogger(__name__)


class GenerationConflict(Conflict):
    """The action does not apply to the generation in its current state (409)."""


def _within(value, allowed: tuple | None):
    if value is None or allowed is None or not allowed[0] <= value <= allowed[1]:
        return None
    return value


def form_initial(user, *, remix=None) -> dict[str, Any]:
    """The Generate form's starting values: the user's preferences (steps and CFG only where
    the preferred model takes those values, else the model's own default), or with
    ``remix`` (an image id, "use these settings") that visible image's settings."""
    prefs = Preferences.for_user(user)
    provider = get_provider(prefs.default_provider or "") or get_provider(DEFAULT_PROVIDER)
    provider_name = prefs.default_provider or DEFAULT_PROVIDER
    limits = effective_limits(user)
    offered = offered_models(user, provider, limits)
    if limits.restricted and not offered:
        # The user's groups allow no model of it: start on the first provider they may use.
        allowed = next((p for p in all_providers() if offered_models(user, p, limits)), None)
        if allowed is not None:
            provider, provider_name = allowed, allowed.name
            offered = offered_models(user, provider, limits)
    # A saved default model the provider no longer offers falls back silently to its default.
    spec = next((m for m in offered if m.id == prefs.default_model), None) or (
        offered[0] if offered else None
    )
    initial = {
        "provider": provider_name,
        "model": prefs.default_model if spec and spec.id == prefs.default_model else "",
        "width": prefs.default_width,
        "height": prefs.default_height,
        "num_images": prefs.default_num_images,
        "steps": _within(prefs.default_steps, spec.steps if spec else None),
        "cfg_scale": _within(prefs.default_cfg_scale, spec.cfg_scale if spec else None),
        "project": prefs.default_project_id,
    }
    if remix:
        initial.update(remix_initial(user, remix))
    return initial


@dataclass(frozen=True)
class CostEstimate:
    """A validated submission and what it should cost (``usd`` None: the provider cannot
    say before it runs)."""

    provider: Provider
    request: GenerationRequest
    usd: Decimal | None
    sources: inputs.Sources | None = None  # the input images and mask it names


def estimate_cost(user, data: dict[str, Any], *, prompt_required: bool = True) -> CostEstimate:
    """The one cost estimate: validate ``data`` as a submission (ValidationError otherwise)
    and price it from the catalog, without queueing anything. The API's estimate, the
    variation preview, the budget notice and the submission itself all ask here. A style
    named by id is checked as a submission checks it (one the user may not see is "No such
    style preset."); an instance has been checked by whoever resolved it."""
    if not isinstance(data.get("style"), StylePreset):
        prompt_tools.resolve_style(user, data.get("style"))
    provider, request, sources = build_submission(user, data, prompt_required=prompt_required)
    return CostEstimate(provider, request, provider.estimate_cost(request), sources)


def preview_submission(user, data: dict[str, Any]) -> dict[str, Any]:
    """What a submission would queue, without queueing it: the final prompts, how many, and
    the cost estimate for all of them (None when the provider cannot say for one)."""
    items = prompt_tools.expand_submission(user, data)
    estimates = [estimate_cost(user, item).usd for item in items]
    known = all(estimate is not None for estimate in estimates)
    return {
        "count": len(items),
        "prompts": [item["prompt"] for item in items],
        "negative_prompt": items[0]["negative_prompt"],
        "style": items[0]["style"].pk if items[0]["style"] else None,
        "estimate_usd": sum(estimates, Decimal(0)) if known else None,
        "per_generation_usd": estimates,
    }


def create_generation(user, data: dict[str, Any], *, client: dict | None = None) -> Generation:
    """Validate, store a queued generation and enqueue it once the transaction commits.
    The prompt is sent as given: user submissions go through create_generations. ``client``:
    where it was asked from (``origin``, ``client_user``, ``user_agent``; the /v1 gateway)."""
    estimate = estimate_cost(user, data)
    provider, request = estimate.provider, estimate.request
    project = data.get("project")
    if project is not None and not isinstance(project, Project):
        project = Project.objects.for_user(user, "contribute").filter(pk=project).first()
        if project is None:
            raise ValidationError({"project": ["No such project."]})
    elif (
        project is not None
        and not Project.objects.for_user(user, "contribute").filter(pk=project.pk).exists()
    ):
        raise ValidationError({"project": ["No such project."]})

    if not has_usable_key(user, provider):
        raise ValidationError({"provider": [missing_key_message(provider.label)]})

    fields = _generation_fields(request)
    fields.update(prompt_tools.recorded_fields(data))  # style preset and the typed prompt
    created: list[str] = []
    try:
        with transaction.atomic():
            # The spending gate (budgets and the daily image limit) locks the owner's row
            # until this transaction, which records the generation, commits; the queue cap
            # counts under the same lock.
            admit_spending(user, estimate.usd, num_images=request.num_images)
            check_queued(user, 1)
            generation = Generation.objects.create(
                owner=user,
                project=project,
                provider=provider.name,
                cost_usd=estimate.usd,
                cost_is_estimate=True,
                **fields,
                **(client or {}),
            )
            if estimate.sources is not None:
                created = inputs.record(generation, estimate.sources)  # the lineage
            # Robust: a broker that fails here (Redis down) must not undo what is committed
            # (the row, its inputs' files); the recovery sweep enqueues what stays queued.
            transaction.on_commit(lambda: enqueue_generation(generation.pk), robust=True)
    except BaseException:
        discard_unreferenced(created)  # a drawn mask stored for a generation never made
        raise
    logger.info("generation %s queued (%s/%s)", generation.pk, provider.name, request.model)
    return generation


def _generation_fields(request: GenerationRequest) -> dict[str, Any]:
    """The Generation columns of a validated request (its inputs are recorded apart)."""
    fields = asdict(request)
    for name in ("input_images", "mask", "scale", "margins"):
        del fields[name]
    operation_params = {}
    if request.scale is not None:
        operation_params["scale"] = request.scale
    if request.margins is not None:
        operation_params["margins"] = asdict(request.margins)
    fields["operation_params"] = operation_params
    return fields


def create_generations(user, data: dict[str, Any]) -> list[Generation]:
    """A user's submission: apply its style preset, expand its {a|b} variations
    (generation.prompts.services) and queue one generation per combination, all or none."""
    items = prompt_tools.expand_submission(user, data)
    with transaction.atomic():
        # The whole submission against the queue cap at once (each create_generation checks
        # again, under the same lock, for callers that queue one).
        lock_user(user)
        check_queued(user, len(items))
        return [create_generation(user, item) for item in items]


def enqueue_generation(generation_id: int) -> None:
    """Hand the generation's id (never anything else) to the job queue."""
    async_task(
        "generation.tasks.run_generation",
        generation_id,
        task_name=f"generation-{generation_id}",
        group="generation",
    )


def cancel_generation(generation: Generation) -> Generation:
    """Cancel a queued generation at once; ask a running one to stop. Raise
    GenerationConflict when it has already finished."""
    if generation.status == Status.QUEUED and generation.mark_canceled():
        generation_finished(generation.pk)
        return generation
    if Generation.objects.filter(pk=generation.pk, status=Status.RUNNING).update(
        cancel_requested=True, updated_at=timezone.now()
    ):
        generation.refresh_from_db()
        return generation
    generation.refresh_from_db()
    if generation.status == Status.QUEUED and generation.mark_canceled():
        generation_finished(generation.pk)
        return generation
    if generation.is_finished:
        raise GenerationConflict(
            f"Generation {generation.pk} has already finished ({generation.status})."
        )
    return generation


def retry_generation(generation: Generation) -> Generation:
    """Queue a new generation for the same owner with the same parameters (the original
    keeps its history)."""
    data = {**generation.request_fields(), "project": generation.project}
    drawn = generation.inputs.filter(role="mask", image_ref__isnull=True).first()
    if drawn is not None:  # the mask drawn for the original, read again from its file
        data["mask"] = drawn
    if generation.prompt_text:  # keep the style and typed prompt; the prompt is already final
        data.update(
            style=generation.style,
            prompt_text=generation.prompt_text,
            negative_prompt_text=generation.negative_prompt_text,
        )
    return create_generation(generation.owner, data)
