"""What a submission asks for, validated against the chosen model: the provider and model
(named, or the user's preferred ones, else the defaults), size, counts, ranges and extra
parameters. Every refusal is a ValidationError naming the field and what is allowed; nothing
is changed silently. ``generation.services`` builds every submission, estimate and preview
from here; the prompt tools ask which model a submission will use."""

import re
import secrets
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

from generation import inputs
from generation.usage.policy import effective_limits, offered_models, refusal
from imagegen.core import limits
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import (
    GenerationRequest,
    Margins,
    ModelSpec,
    Operation,
    Provider,
)
from imagegen.providers.catalog import unoffered_reason
from imagegen.providers.inputs import margins_for_ratio
from settings_app.models import Preferences

MAX_SEED = 2**32 - 1


def _fail(field: str, message: str):
    raise ValidationError({field: [message]})


def _choose_size(
    spec: ModelSpec, width: int | None, height: int | None, first=None
) -> tuple[int, int]:
    """The requested size, checked; none requested: the model's default, or for an edit
    (``first``: its first input) the size nearest the input's."""
    if width is None and height is None:
        if first is not None:
            return _edit_size(spec, first)
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
    limits = effective_limits(user)  # the user's groups may allow some models only
    if not limits.allows_provider(provider.name):
        _fail("provider", refusal(user, provider, "", limits))
    offered = offered_models(user, provider, limits)  # a team's GPU may serve some groups only
    if not offered:
        _fail("model", f"{provider.label} offers no models right now; choose another provider.")
    model_id = data.get("model")
    if not model_id:
        # The user's saved default model, while it is still offered (and does the
        # operation); else the provider's first model that does it.
        operation = _operation_name(data)
        able = [m for m in offered if m.does(operation)] or offered
        preferred = prefs.default_model if provider_name == prefs.default_provider else ""
        model_id = preferred if any(m.id == preferred for m in able) else able[0].id
    spec = next((m for m in offered if m.id == model_id), None)
    if spec is None:
        refused = refusal(user, provider, model_id, limits)
        if refused and any(m.id == model_id for m in provider.models_for(user)):
            _fail("model", refused)
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
    provider, request, _ = build_submission(user, data, prompt_required=prompt_required)
    return provider, request


def build_submission(
    user, data: dict[str, Any], *, prompt_required: bool = True
) -> tuple[Provider, GenerationRequest, inputs.Sources]:
    """``build_request`` and the input images and mask the submission names (checked: an
    image the user may not view is a NotFound, 404, before anything else is looked at)."""
    sources = inputs.resolve(user, data)
    provider, spec = resolve_model(user, data)
    errors = _Errors()
    operation = errors.check(_check_operation, data, spec, provider, user, default=None)
    if operation is None:
        # Every other check depends on the operation: checking them against another one
        # would only add errors that are not the user's.
        errors.raise_any()
    if operation in (Operation.UPSCALE, Operation.REMOVE_BACKGROUND, Operation.OUTPAINT):
        prompt_required = False  # nothing to describe (outpaint: the picture goes on)
    prompt = errors.check(_check_prompt, data, spec, prompt_required, default="")
    negative_prompt = errors.check(_check_negative_prompt, data, spec, default="")
    shape = errors.check(_check_inputs, operation, data, spec, sources, default=None)
    if operation == Operation.GENERATE or (operation == Operation.EDIT and shape is not None):
        width, height = errors.check(
            _choose_size,
            spec,
            data.get("width"),
            data.get("height"),
            *((shape.first,) if shape else ()),
            default=(None, None),
        )
    elif shape is not None:
        width, height = errors.check(_check_result_size, data, spec, shape, default=(None, None))
    else:
        width = height = None
    num_images = data.get("num_images") or 1
    if operation in (Operation.UPSCALE, Operation.REMOVE_BACKGROUND) and num_images != 1:
        errors.check(_fail, "num_images", f"{_label(operation)} makes one image per input.")
    elif not 1 <= num_images <= spec.max_images:
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
    strength = errors.check(_check_strength, operation, data.get("strength"), spec)
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
        operation=operation,
        strength=strength,
        scale=shape.scale if shape else None,
        margins=shape.margins if shape else None,
    )
    return provider, request, sources


# --- Image operations (docs/image-operations.md) ---------------------------------------------

LABELS = {
    Operation.GENERATE: "Generate",
    Operation.EDIT: "Edit",
    Operation.INPAINT: "Inpaint",
    Operation.OUTPAINT: "Outpaint",
    Operation.UPSCALE: "Upscale",
    Operation.REMOVE_BACKGROUND: "Remove background",
}
MAX_MARGIN = 4096  # pixels a side of an outpaint, at most
RATIO = re.compile(r"^\s*(\d{1,3})\s*:\s*(\d{1,3})\s*$")


def _label(operation: str) -> str:
    return LABELS.get(operation, operation)


def _operation_name(data: dict[str, Any]) -> str:
    value = data.get("operation") or Operation.GENERATE
    return value if isinstance(value, str) else ""


def _check_operation(data: dict[str, Any], spec: ModelSpec, provider: Provider, user) -> str:
    operation = _operation_name(data)
    if operation not in Operation.__members__.values():
        _fail("operation", f"Unknown operation {operation!r}; one of: {', '.join(Operation)}.")
    if not spec.does(operation):
        able = [m.id for m in offered_models(user, provider) if m.does(operation)]
        elsewhere = (
            f"{provider.label} models that do: {', '.join(able)}."
            if able
            else f"No {provider.label} model does; choose another provider."
        )
        _fail(
            "operation",
            f"{spec.id} does not do {operation} (it does: {', '.join(spec.operations)}). "
            + elsewhere,
        )
    return Operation(operation)


class _Shape:
    """What the inputs make of the result: the first input's size, and the operation's
    factor or margins."""

    def __init__(self, first, scale=None, margins=None):
        self.first, self.scale, self.margins = first, scale, margins


def _check_inputs(operation: str, data, spec: ModelSpec, sources: inputs.Sources):
    count = len(sources.images)
    if operation == Operation.GENERATE:
        if count:
            _fail("input_images", "generate takes no input images; use the edit operation.")
        if sources.mask is not None:
            _fail("mask", "generate takes no mask; use the inpaint operation.")
        for name in ("scale", "outpaint"):
            if data.get(name) not in (None, "", {}):
                _fail(name, f"generate takes no {name}.")
        return None
    most = spec.max_input_images if operation == Operation.EDIT else 1
    if not count:
        _fail("input_images", f"{_label(operation)} needs an input image.")
    if count > most:
        _fail(
            "input_images",
            f"{spec.id} takes {'one input image' if most == 1 else f'at most {most} input images'}"
            f" for {operation}; {count} were given.",
        )
    first = sources.first
    if operation == Operation.INPAINT:
        if sources.mask is None:
            _fail("mask", "Inpaint needs a mask (white where the image may change).")
        if (sources.mask.width, sources.mask.height) != (first.width, first.height):
            _fail(
                "mask",
                f"The mask is {sources.mask.width}x{sources.mask.height}; it must be the input "
                f"image's size, {first.width}x{first.height}.",
            )
    elif sources.mask is not None:
        _fail("mask", f"{_label(operation)} takes no mask.")
    scale = margins = None
    if operation == Operation.UPSCALE:
        scale = data.get("scale") or (spec.scales[0] if spec.scales else 2)
        if isinstance(scale, bool) or scale not in spec.scales:
            _fail(
                "scale",
                f"{scale!r} is not offered by {spec.id}; allowed: "
                f"{', '.join(map(str, spec.scales))}.",
            )
    elif data.get("scale") not in (None, ""):
        _fail("scale", f"{_label(operation)} takes no scale.")
    if operation == Operation.OUTPAINT:
        margins = _margins(data.get("outpaint"), first)
    elif data.get("outpaint") not in (None, "", {}):
        _fail("outpaint", f"{_label(operation)} takes no outpaint margins.")
    return _Shape(first, scale, margins)


def _margins(value, first) -> Margins:
    """``outpaint``: {left, top, right, bottom} in pixels, or {aspect_ratio: "16:9"}."""
    if not isinstance(value, dict) or not value:
        _fail(
            "outpaint",
            'Give the margins as {"left", "top", "right", "bottom"} in pixels, or a target '
            '{"aspect_ratio": "16:9"}.',
        )
    if "aspect_ratio" in value:
        if set(value) != {"aspect_ratio"}:
            _fail("outpaint", "Give either an aspect ratio or margins, not both.")
        match = RATIO.match(str(value["aspect_ratio"]))
        if not match or not int(match[1]) or not int(match[2]):
            _fail("outpaint", 'Give the aspect ratio as "width:height", e.g. "16:9".')
        margins = margins_for_ratio(first.width, first.height, int(match[1]), int(match[2]))
        if not any((margins.left, margins.top, margins.right, margins.bottom)):
            _fail("outpaint", f"The image already is {value['aspect_ratio'].strip()}.")
        return margins
    unknown = set(value) - {"left", "top", "right", "bottom"}
    if unknown:
        _fail("outpaint", f"Unknown side {sorted(unknown)[0]!r}; sides: left, top, right, bottom.")
    sides = {}
    for side in ("left", "top", "right", "bottom"):
        number = value.get(side, 0)
        if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= MAX_MARGIN:
            _fail("outpaint", f"{side} must be a whole number of pixels from 0 to {MAX_MARGIN}.")
        sides[side] = number
    if not any(sides.values()):
        _fail("outpaint", "Give at least one side a margin.")
    return Margins(**sides)


def _result_size(operation: str, shape: _Shape) -> tuple[int, int]:
    first = shape.first
    if operation == Operation.UPSCALE:
        return first.width * shape.scale, first.height * shape.scale
    if operation == Operation.OUTPAINT:
        m = shape.margins
        return first.width + m.left + m.right, first.height + m.top + m.bottom
    return first.width, first.height


def _check_result_size(data, spec: ModelSpec, shape: _Shape) -> tuple[int, int]:
    """The size an inpaint, outpaint, upscale or background removal returns: fixed by its
    input (and factor or margins), within the pixel limit; a model with a fixed list of
    sizes (OpenAI) answers in the one nearest its shape."""
    operation = _operation_name(data)
    width, height = _result_size(operation, shape)
    if width * height > settings.MAX_IMAGE_PIXELS:
        _fail(
            "scale" if operation == Operation.UPSCALE else "input_images",
            f"The result would be {width}x{height}, over the "
            f"{settings.MAX_IMAGE_PIXELS:,}-pixel limit.",
        )
    if spec.sizes:
        width, height = _nearest_size(spec, width, height)
    asked = (data.get("width"), data.get("height"))
    if asked != (None, None) and asked != (width, height):
        _fail(
            "width",
            f"{_label(operation)} returns {width}x{height} here (set by the input); "
            "leave width and height out.",
        )
    return width, height


def _nearest_size(spec: ModelSpec, width: int, height: int) -> tuple[int, int]:
    """The model's fixed size whose aspect ratio is nearest this one's."""
    ratio = width / height
    return min(spec.sizes, key=lambda size: abs(size[0] / size[1] - ratio))


def _edit_size(spec: ModelSpec, first) -> tuple[int, int]:
    """An edit's default size: the model's fixed size nearest the input's shape, or the
    input's own size brought within the model's range (aspect kept, sides rounded to its
    multiple)."""
    if spec.sizes:
        return _nearest_size(spec, first.width, first.height)
    scale = min(1.0, spec.max_size / max(first.width, first.height))
    scale = max(scale, spec.min_size / min(first.width, first.height))
    step = spec.size_multiple
    sides = []
    for side in (first.width, first.height):
        value = max(spec.min_size, min(spec.max_size, round(side * scale / step) * step))
        sides.append(value)
    return tuple(sides)


def _check_strength(operation: str, value, spec: ModelSpec) -> float | None:
    if value is None:
        return None
    if spec.strength is None or operation == Operation.GENERATE:
        _fail("strength", f"{spec.id} takes no strength for {operation}.")
    low, high = spec.strength
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        _fail("strength", f"{value!r} is out of range for {spec.id}; allowed: {low} to {high}.")
    return float(value)
