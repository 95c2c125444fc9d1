"""Business actions on generations: validate and create, cancel, retry, enqueue.

Views, the API and the admin call these; none of them contains this logic.
"""

import logging
import secrets
from dataclasses import asdict
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import transaction

from generation.finish_hooks import generation_finished
from generation.models import Generation, Status
from generation.prompts import services as prompt_tools
from generation.usage.budgets import check_submission
from imagegen.core.exceptions import Conflict
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import GenerationRequest, ModelSpec, Provider
from settings_app.keys import missing_key_message, resolve_api_key

logger = logging.getLogger(__name__)

MAX_SEED = 2**32 - 1


class GenerationConflict(Conflict):
    """The action does not apply to the generation in its current state (409)."""


def _fail(field: str, message: str):
    raise ValidationError({field: [message]})


def _choose_size(spec: ModelSpec, width: int | None, height: int | None) -> tuple[int, int]:
    if width is None and height is None:
        if spec.sizes:
            return spec.sizes[0]
        side = min(1024, spec.max_size)
        return side, side
    if width is None or height is None:
        _fail("width" if width is None else "height", "Give both width and height, or neither.")
    if spec.sizes:
        if (width, height) not in spec.sizes:
            _fail("width", f"{width}x{height} is not offered by {spec.id}; "
                           f"allowed sizes: {spec.allowed_sizes_text()}.")
        return width, height
    for name, value in (("width", width), ("height", height)):
        if not spec.min_size <= value <= spec.max_size or value % spec.size_multiple:
            _fail(name, f"{value} is out of range for {spec.id}; "
                        f"allowed: {spec.allowed_sizes_text()}.")
    return width, height


def _choose_range(field: str, value, allowed, default, spec: ModelSpec):
    if allowed is None:
        if value is not None:
            _fail(field, f"{spec.id} does not take {field}.")
        return None
    if value is None:
        return default
    low, high = allowed
    if not low <= value <= high:
        _fail(field, f"{value} is out of range for {spec.id}; allowed: {low} to {high}.")
    return value


def _check_params(spec: ModelSpec, params: dict) -> None:
    """Extras must be ones the model declares, with one of the values it accepts."""
    for name, value in params.items():
        allowed = spec.options.get(name)
        if allowed is not None:
            if value not in allowed:
                values = ", ".join(map(str, allowed))
                _fail("params", f"{name}={value!r} is not offered by {spec.id}; "
                                f"allowed: {values}.")
        elif not (spec.any_params or name in spec.passthrough):
            accepted = ", ".join(sorted([*spec.options, *spec.passthrough]))
            _fail("params", f"{spec.id} does not take {name!r}; it takes: "
                            f"{accepted or 'no extra parameters'}.")


def _preferences(user):
    """The user's preferences (settings_app); unsaved defaults when they have none yet."""
    from settings_app.models import Preferences

    return Preferences.objects.filter(user=user).first() or Preferences()


def resolve_model(user, data: dict[str, Any]) -> tuple[Provider, ModelSpec]:
    """The provider and model a submission names or, unnamed, the user's preferred ones
    (settings_app, issue #4), else the defaults; ValidationError when either is unknown."""
    prefs = _preferences(user)
    provider_name = data.get("provider") or prefs.default_provider or DEFAULT_PROVIDER
    provider = get_provider(provider_name)
    if provider is None:
        names = ", ".join(p.name for p in all_providers())
        _fail("provider", f"Unknown provider {provider_name!r}; available: {names}.")
    preferred_model = prefs.default_model if provider_name == prefs.default_provider else ""
    model_id = data.get("model") or preferred_model or provider.default_model.id
    spec = provider.get_model(model_id)
    if spec is None:
        models = ", ".join(m.id for m in provider.models())
        _fail("model", f"Unknown model {model_id!r} for {provider.label}; available: {models}.")
    return provider, spec


def build_request(user, data: dict[str, Any]) -> tuple[Provider, GenerationRequest]:
    """Validate submitted parameters against the provider's model; raise ValidationError with
    field errors that list what is allowed. Nothing is changed silently."""
    provider, spec = resolve_model(user, data)
    prompt = (data.get("prompt") or "").strip()
    if not prompt:
        _fail("prompt", "Write a prompt.")
    if len(prompt) > spec.max_prompt_length:
        _fail("prompt", f"The prompt is {len(prompt)} characters; {spec.id} takes at most "
                        f"{spec.max_prompt_length}.")
    negative_prompt = (data.get("negative_prompt") or "").strip()
    if negative_prompt and not spec.negative_prompt:
        _fail("negative_prompt", f"{spec.id} does not take a negative prompt.")

    width, height = _choose_size(spec, data.get("width"), data.get("height"))
    num_images = data.get("num_images") or 1
    if not 1 <= num_images <= spec.max_images:
        _fail("num_images", f"{spec.id} makes 1 to {spec.max_images} images per request.")

    steps = _choose_range("steps", data.get("steps"), spec.steps,
                          spec.default_steps or settings.DEFAULT_STEPS, spec)
    cfg_scale = _choose_range("cfg_scale", data.get("cfg_scale"), spec.cfg_scale,
                              spec.default_cfg_scale or settings.DEFAULT_CFG_SCALE, spec)
    seed = data.get("seed")
    if seed is not None and not spec.seed:
        _fail("seed", f"{spec.id} does not take a seed.")
    if seed is None and spec.seed:
        seed = secrets.randbelow(MAX_SEED + 1)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        _fail("seed", f"The seed must be between 0 and {MAX_SEED}.")
    params = data.get("params") or {}
    if not isinstance(params, dict):
        _fail("params", "Give provider-specific parameters as an object.")
    _check_params(spec, params)

    request = GenerationRequest(
        prompt=prompt, model=spec.id, width=width, height=height, num_images=num_images,
        negative_prompt=negative_prompt, steps=steps, cfg_scale=cfg_scale, seed=seed,
        params=params,
    )
    return provider, request


def create_generation(user, data: dict[str, Any]) -> Generation:
    """Validate, store a queued generation and enqueue it once the transaction commits.
    The prompt is sent as given: user submissions go through create_generations."""
    from projects.models import Project

    provider, request = build_request(user, data)
    project = data.get("project")
    if project is not None and not isinstance(project, Project):
        project = Project.objects.for_user(user, "contribute").filter(pk=project).first()
        if project is None:
            _fail("project", "No such project.")
    elif project is not None and not Project.objects.for_user(user, "contribute").filter(
        pk=project.pk
    ).exists():
        _fail("project", "No such project.")

    if provider.requires_key and resolve_api_key(user, provider.name) is None:
        _fail("provider", missing_key_message(provider.label))

    fields = asdict(request)
    fields.update(prompt_tools.recorded_fields(data))  # style preset and the typed prompt
    estimate = provider.estimate_cost(request)
    with transaction.atomic():
        # Budgets: lock the owner's row (PostgreSQL; SQLite's IMMEDIATE transaction
        # serialises writers) so parallel submissions are checked one at a time.
        list(get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk"))
        check_submission(user, estimate, request.num_images)
        generation = Generation.objects.create(
            owner=user,
            project=project,
            provider=provider.name,
            cost_usd=estimate,
            cost_is_estimate=True,
            **fields,
        )
        transaction.on_commit(lambda: enqueue_generation(generation.pk))
    logger.info("generation %s queued (%s/%s)", generation.pk, provider.name, request.model)
    return generation


def create_generations(user, data: dict[str, Any]) -> list[Generation]:
    """A user's submission: apply its style preset, expand its {a|b} variations
    (generation.prompts.services) and queue one generation per combination, all or none."""
    with transaction.atomic():
        return [create_generation(user, item)
                for item in prompt_tools.expand_submission(user, data)]


def enqueue_generation(generation_id: int) -> None:
    """Hand the generation's id (never anything else) to the job queue."""
    from django_q.tasks import async_task

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
        cancel_requested=True
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
    if generation.prompt_text:  # keep the style and typed prompt; the prompt is already final
        data.update(style=generation.style, prompt_text=generation.prompt_text,
                    negative_prompt_text=generation.negative_prompt_text)
    return create_generation(generation.owner, data)
