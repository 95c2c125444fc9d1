"""What a submission asks for, validated against the chosen model: the provider and model
(named, or the user's preferred ones, else the defaults), size, counts, ranges and extra
parameters. Every refusal is a ValidationError naming the field and what is allowed; nothing
is changed silently. ``generation.services`` builds every submission, estimate and preview
from here; the prompt tools ask which model a submission will use."""

import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from imagegen.core import limits
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import GenerationRequest, ModelSpec, Provider
from imagegen.providers.catalog import unoffered_reason
from settings_app.models import Preferences

MAX_SEED = 2**32 - 1


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
            _fail(
                "width",
                f"{width}x{height} is not offered by {spec.id}; "
                f"allowed sizes: {spec.allowed_sizes_text()}.",
            )
        return width, height
    # Both sides are checked, so a submission wrong in both hears about both at once.
    errors = {
        name: [f"{value} is out of range for {spec.id}; allowed: {spec.allowed_sizes_text()}."]
        for name, value in (("width", width), ("height", height))
        if not spec.min_size <= value <= spec.max_size or value % spec.size_multiple
    }
    if errors:
        raise ValidationError(errors)
    return width, height


class _Errors:
    """Field errors gathered from several checks, raised together: every invalid field is
    reported at once, not only the first one found."""

    def __init__(self):
        self.messages: dict[str, list[str]] = {}

    def check(self, call, *args, default=None):
        """The call's result, or ``default`` after noting the ValidationError it raised."""
        try:
            return call(*args)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                self.messages.setdefault(field, []).extend(messages)
            return default

    def raise_any(self) -> None:
        if self.messages:
            raise ValidationError(self.messages)


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
                _fail("params", f"{name}={value!r} is not offered by {spec.id}; allowed: {values}.")
        elif not (spec.any_params or name in spec.passthrough):
            accepted = ", ".join(sorted([*spec.options, *spec.passthrough]))
            _fail(
                "params",
                f"{spec.id} does not take {name!r}; it takes: {accepted or 'no extra parameters'}.",
            )


def _preferences(user):
    """The user's preferences (settings_app); unsaved defaults when they have none yet."""
    return Preferences.objects.filter(user=user).first() or Preferences()


def unoffered_model_message(provider_name: str | None, model_id: str | None) -> str:
    """Why the catalog's model is not offered (retired, shut down, disabled), in words; empty
    when it is offered or unknown. The Generate page shows it when a remix names one."""
    provider = get_provider(provider_name or "")
    if provider is None or not model_id:
        return ""
    return unoffered_reason(provider.name, provider.label, model_id)


def resolve_model(user, data: dict[str, Any]) -> tuple[Provider, ModelSpec]:
    """The provider and model a submission names or, unnamed, the user's preferred ones
    (settings_app, issue #4), else the defaults; ValidationError when either is unknown or
    the model is no longer offered (retired, shut down, disabled: the message says which).
    A saved default model that is no longer offered falls back to the provider's default."""
    prefs = _preferences(user)
    provider_name = data.get("provider") or prefs.default_provider or DEFAULT_PROVIDER
    provider = get_provider(provider_name)
    if provider is None:
        names = ", ".join(p.name for p in all_providers())
        _fail("provider", f"Unknown provider {provider_name!r}; available: {names}.")
    offered = provider.models()
    if not offered:
        _fail("model", f"{provider.label} offers no models right now; choose another provider.")
    model_id = data.get("model")
    if not model_id:
        # The user's saved default model, while it is still offered; else the provider's.
        preferred = prefs.default_model if provider_name == prefs.default_provider else ""
        model_id = preferred if any(m.id == preferred for m in offered) else offered[0].id
    spec = next((m for m in offered if m.id == model_id), None)
    if spec is None:
        reason = unoffered_reason(provider.name, provider.label, model_id)
        if reason:  # the catalog knows it: retired, shut down, disabled
            _fail("model", reason)
        models = ", ".join(m.id for m in offered)
        _fail("model", f"Unknown model {model_id!r} for {provider.label}; available: {models}.")
    return provider, spec


def _check_prompt(data: dict[str, Any], spec: ModelSpec, prompt_required: bool) -> str:
    prompt = (data.get("prompt") or "").strip()
    if not prompt and prompt_required:
        _fail("prompt", "Write a prompt.")
    if len(prompt) > spec.max_prompt_length:
        _fail(
            "prompt",
            f"The prompt is {len(prompt)} characters; {spec.id} takes at most "
            f"{spec.max_prompt_length}.",
        )
    return prompt


def _check_negative_prompt(data: dict[str, Any], spec: ModelSpec) -> str:
    negative_prompt = (data.get("negative_prompt") or "").strip()
    too_long = limits.too_long(negative_prompt, limits.MAX_NEGATIVE_PROMPT)
    if too_long:
        _fail("negative_prompt", too_long)
    if negative_prompt and not spec.negative_prompt:
        _fail("negative_prompt", f"{spec.id} does not take a negative prompt.")
    return negative_prompt


def _choose_seed(seed: int | None, spec: ModelSpec) -> int | None:
    if seed is not None and not spec.seed:
        _fail("seed", f"{spec.id} does not take a seed.")
    if seed is None and spec.seed:
        seed = secrets.randbelow(MAX_SEED + 1)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        _fail("seed", f"The seed must be between 0 and {MAX_SEED}.")
    return seed


def build_request(
    user, data: dict[str, Any], *, prompt_required: bool = True
) -> tuple[Provider, GenerationRequest]:
    """Validate submitted parameters against the provider's model; raise ValidationError with
    field errors that list what is allowed. Nothing is changed silently. ``prompt_required``
    False lets a price be asked for while the prompt is still empty (the price never depends
    on its words)."""
    provider, spec = resolve_model(user, data)
    errors = _Errors()
    prompt = errors.check(_check_prompt, data, spec, prompt_required, default="")
    negative_prompt = errors.check(_check_negative_prompt, data, spec, default="")
    width, height = errors.check(
        _choose_size, spec, data.get("width"), data.get("height"), default=(None, None)
    )
    num_images = data.get("num_images") or 1
    if not 1 <= num_images <= spec.max_images:
        errors.check(
            _fail, "num_images", f"{spec.id} makes 1 to {spec.max_images} images per request."
        )
    steps = errors.check(
        _choose_range,
        "steps",
        data.get("steps"),
        spec.steps,
        spec.default_steps or settings.DEFAULT_STEPS,
        spec,
    )
    cfg_scale = errors.check(
        _choose_range,
        "cfg_scale",
        data.get("cfg_scale"),
        spec.cfg_scale,
        spec.default_cfg_scale or settings.DEFAULT_CFG_SCALE,
        spec,
    )
    seed = errors.check(_choose_seed, data.get("seed"), spec)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        errors.check(_fail, "params", "Give provider-specific parameters as an object.")
    else:
        errors.check(_check_params, spec, params)
    errors.raise_any()

    request = GenerationRequest(
        prompt=prompt,
        model=spec.id,
        width=width,
        height=height,
        num_images=num_images,
        negative_prompt=negative_prompt,
        steps=steps,
        cfg_scale=cfg_scale,
        seed=seed,
        params=params,
    )
    return provider, request
