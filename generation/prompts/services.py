"""Prompt tools' business actions: style presets, applying a style and expanding
``{a|b}`` variations into one submission per combination, and the cost preview.

``generation.services.create_generations`` calls ``expand_submission`` and queues one
generation per item; ``create_generation`` stores ``recorded_fields`` of each item.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from generation.models import StylePreset
from generation.prompts.models import PROMPT_PLACEHOLDER
from generation.prompts.variations import count_combinations, expand
from generation.validation import resolve_model
from imagegen.core import limits
from imagegen.core.exceptions import Forbidden
from projects.models import Project

MAX_STYLE_TEMPLATE = limits.MAX_STYLE_TEMPLATE
# Counting stops here: the message says "more than" instead of building a huge number.
COUNT_CEILING = 1_000_000


class NotYourStyle(Forbidden):
    """The user may use this preset but not change it (built in, or a teammate's): 403."""


def _check_owner(user, style: StylePreset) -> None:
    if style.is_builtin:
        raise NotYourStyle("Built-in presets cannot be changed; create your own instead.")
    if not StylePreset.objects.allows(user, "change", style):
        raise NotYourStyle("Only the preset's owner can change it.")


def _fail(field: str, message: str):
    raise ValidationError({field: [message]})


# --- Applying a style and expanding variations -------------------------------------------------


def resolve_style(user, value) -> StylePreset | None:
    """The preset a submission names (an id or an instance), checked against what the user
    may see; None for no style. Another user's private preset is "No such style preset."."""
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, StylePreset) else value
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        _fail("style", "Give the style preset's id.")
    style = StylePreset.objects.for_user(user, "view").filter(pk=pk).first()
    if style is None:
        _fail("style", "No such style preset.")
    return style


def _model_takes_negative_prompt(user, data: dict[str, Any]) -> bool:
    """Whether the model the submission will use (the user's preferred one when it names
    none, as build_request chooses) takes a negative prompt."""
    try:
        _, spec = resolve_model(user, data)
    except ValidationError:
        return True  # build_request reports the unknown provider or model
    return spec.negative_prompt


def check_variation_count(text: str) -> int:
    """How many combinations the prompt makes; a ValidationError beyond
    PROMPT_VARIATIONS_MAX that says how many it makes."""
    limit = settings.PROMPT_VARIATIONS_MAX
    count = count_combinations(text, at_most=max(limit, COUNT_CEILING))
    if count > COUNT_CEILING:
        _fail(
            "prompt",
            f"This prompt makes more than {COUNT_CEILING:,} combinations; at most {limit} can "
            "be generated at once. Remove some {a|b} alternatives.",
        )
    if count > limit:
        _fail(
            "prompt",
            f"This prompt makes {count:,} combinations; at most {limit} can be "
            f"generated at once. Remove some {{a|b}} alternatives.",
        )
    return count


def check_length(field: str, value: str, limit: int) -> str:
    """``value``, or a ValidationError on ``field`` when it is longer than ``limit``: before
    anything parses it, whoever the caller (serializers and forms check it first)."""
    message = limits.too_long(value, limit)
    if message:
        _fail(field, message)
    return value


def expand_submission(user, data: dict[str, Any]) -> list[dict[str, Any]]:
    """One submission per ``{a|b}`` combination, each with the style applied: ``prompt`` and
    ``negative_prompt`` become what is sent; ``style``, ``prompt_text`` and
    ``negative_prompt_text`` record the preset and what the user typed."""
    text = check_length("prompt", (data.get("prompt") or "").strip(), limits.MAX_PROMPT)
    negative = check_length(
        "negative_prompt", (data.get("negative_prompt") or "").strip(), limits.MAX_NEGATIVE_PROMPT
    )
    style = resolve_style(user, data.get("style"))
    check_variation_count(text)

    final_negative = negative
    # A model without negative prompts still takes the style's positive part; the user's own
    # negative prompt is left in so that build_request says the model does not take it.
    if style is not None and _model_takes_negative_prompt(user, data):
        final_negative = style.combine_negative(negative)

    items = []
    for variant in expand(text):
        item = dict(data)
        item.update(
            # An empty prompt stays empty so that validation asks for one.
            prompt=style.apply(variant) if style is not None and variant else variant,
            negative_prompt=final_negative,
            style=style,
            prompt_text=text,
            negative_prompt_text=negative,
        )
        items.append(item)
    return items


def recorded_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The prompt-tools fields of a Generation for an item from ``expand_submission``;
    nothing for data that did not come through it."""
    if "prompt_text" not in data:
        return {}
    style = data.get("style")
    return {
        "style": style if isinstance(style, StylePreset) else None,
        "prompt_text": data.get("prompt_text") or "",
        "negative_prompt_text": data.get("negative_prompt_text") or "",
    }


# --- Style presets -----------------------------------------------------------------------------


def _writable_project(user, value):
    if value in (None, ""):
        return None
    pk = value.pk if isinstance(value, Project) else value
    project = Project.objects.for_user(user, "contribute").filter(pk=pk).first()
    if project is None:
        _fail("project", "No such project.")
    return project


def save_style(user, data: dict[str, Any], style: StylePreset | None = None) -> StylePreset:
    """Create the user's preset, or change their own ``style``: the template must contain
    ``{prompt}``, names are unique per user, and ``project`` (sharing) must be a project the
    user may edit. Only the given keys change (PATCH)."""
    if style is not None:
        _check_owner(user, style)
    style = style or StylePreset(owner=user)
    changed = []
    if "name" in data:
        name = check_length("name", (data["name"] or "").strip(), limits.MAX_STYLE_NAME)
        if not name:
            _fail("name", "Give the preset a name.")
        style.name = name
        changed.append("name")
    if "template" in data:
        template = (data["template"] or "").strip()
        if len(template) > MAX_STYLE_TEMPLATE:
            _fail(
                "template",
                f"The template is {len(template)} characters; at most {MAX_STYLE_TEMPLATE}.",
            )
        if PROMPT_PLACEHOLDER not in template:
            _fail(
                "template",
                "The template must contain {prompt} where your text goes, "
                'e.g. "{prompt}, watercolor".',
            )
        style.template = template
        changed.append("template")
    if "negative_prompt" in data:
        style.negative_prompt = check_length(
            "negative_prompt",
            (data["negative_prompt"] or "").strip(),
            limits.MAX_STYLE_NEGATIVE_PROMPT,
        )
        changed.append("negative_prompt")
    if "project" in data:
        style.project = _writable_project(user, data["project"])
        changed.append("project")
    if style.pk is None and not (style.name and style.template):
        _fail("name" if not style.name else "template", "This field is required.")
    try:
        with transaction.atomic():
            if style.pk is None:
                style.save()
            elif changed:
                style.save(update_fields=[*changed, "updated_at"])
    except IntegrityError:
        _fail("name", f"You already have a preset named {style.name!r}.")
    return style


def delete_style(user, style: StylePreset) -> None:
    """Delete the user's own preset; generations that used it keep their prompts."""
    _check_owner(user, style)
    style.delete()
