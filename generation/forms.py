"""The Generate page's form: field types only; the service checks model ranges.

Image operations (issue #16): the page keeps every operation's fields in the form and sends
those of the chosen one; ``clean`` drops the others (as it drops steps for a model without
steps), so a value left in a hidden field never reaches the service."""

import base64

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from gallery.models import Image
from generation.models import StylePreset
from generation.usage.policy import effective_limits, offered_models, refusal
from generation.validation import LABELS, MAX_MARGIN, build_request
from imagegen.core import limits
from imagegen.core.permissions import VIEW
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from imagegen.providers.base import Operation
from projects.models import Project

OPERATION_CHOICES = [(operation.value, LABELS[operation]) for operation in Operation]
# Operations without a prompt (outpaint may have one: what to put in the new margins).
PROMPTLESS = (Operation.UPSCALE, Operation.REMOVE_BACKGROUND)
UNPROMPTED = (*PROMPTLESS, Operation.OUTPAINT)  # the prompt is optional
WITH_STRENGTH = (Operation.EDIT, Operation.INPAINT, Operation.OUTPAINT)


def provider_choices(user=None):
    """The providers offered here (to ``user``: a self-hosted one only with a backend of
    theirs that serves something, and only those their groups allow a model of)."""
    if user is None:
        return [(p.name, p.label) for p in all_providers()]
    limits = effective_limits(user)
    return [
        (p.name, p.label)
        for p in all_providers()
        if (not p.self_hosted and not limits.restricted) or offered_models(user, p, limits)
    ]


def provider_refusals(user) -> dict[str, str]:
    """Why the user's groups refuse a provider, by provider name (none refused: empty)."""
    limits = effective_limits(user)
    return {
        p.name: refusal(user, p, "", limits)
        for p in all_providers()
        if not limits.allows_provider(p.name)
    }


class ProviderField(forms.ChoiceField):
    """The provider picker: a provider the user's groups refuse says so, not "Select a
    valid choice"."""

    refusals: dict[str, str] = {}

    def validate(self, value):
        if value in self.refusals:
            raise ValidationError(self.refusals[value], code="not_allowed")
        super().validate(value)


def model_note(spec) -> str:
    """What the Generate page says beside a model the provider is retiring."""
    if spec.shutdown_date:
        return f"shuts down {spec.shutdown_date}"
    return "deprecated" if spec.deprecated else ""


def model_choices(provider_name: str | None, user=None):
    """The offered models of the provider as (id, label) for the model picker (those the
    user may use); a model with an announced shutdown or a deprecation says so in its label."""
    provider = get_provider(provider_name or DEFAULT_PROVIDER) or get_provider(DEFAULT_PROVIDER)
    choices = []
    for spec in provider.models() if user is None else offered_models(user, provider):
        note = model_note(spec)
        choices.append((spec.id, f"{spec.label} ({note})" if note else spec.label))
    return choices


def size_or_none(width, height) -> tuple[int | None, int | None]:
    """Width and height from query text; None for a side that is not a plain number."""

    def number(text):
        text = (text or "").strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None

    return number(width), number(height)


class ImageIdsField(forms.Field):
    """``input_images``: the ids of the input tray's hidden inputs, in their order."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value):
        ids = []
        for item in value or []:
            text = str(item).strip()
            if not (text.isascii() and text.isdigit() and 0 < len(text) < 19):
                raise ValidationError(f"{item!r} is not an image id.")
            if int(text) not in ids:  # the same image twice is one input
                ids.append(int(text))
        return ids


class MaskInput(forms.HiddenInput):
    """The mask as the mask editor sends it: a multipart file part ``mask`` (a PNG), or a
    ``data:image/png;base64,…`` text field of the same name."""

    def value_from_datadict(self, data, files, name):
        return files.get(name) or data.get(name)


class MaskField(forms.Field):
    """A drawn mask, read once into a data URI (a submission with {a|b} variations gives it
    to every generation, and an uploaded file can be read only once); generation.inputs
    checks it is a PNG of the first input's size."""

    widget = MaskInput

    def to_python(self, value):
        if value in (None, ""):
            return ""
        if hasattr(value, "read"):
            if (getattr(value, "size", 0) or 0) > settings.MAX_IMAGE_SIZE:
                raise ValidationError(
                    f"The mask is over the {settings.MAX_IMAGE_SIZE:,}-byte limit."
                )
            return "data:image/png;base64," + base64.b64encode(value.read()).decode("ascii")
        return str(value)


def _margin_field(label: str) -> forms.IntegerField:
    """One side of an outpaint, in pixels."""
    return forms.IntegerField(
        required=False,
        min_value=0,
        max_value=MAX_MARGIN,
        label=label,
        widget=forms.NumberInput(attrs={"placeholder": "0"}),
    )


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        max_length=limits.MAX_PROMPT, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    negative_prompt = forms.CharField(
        required=False,
        max_length=limits.MAX_NEGATIVE_PROMPT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    provider = ProviderField(choices=provider_choices)
    # Optional like the API's: the service picks the provider's default model and size.
    model = forms.CharField(required=False, max_length=limits.MAX_IDENTIFIER)
    width = forms.IntegerField(min_value=1, initial=1024, required=False)
    height = forms.IntegerField(min_value=1, initial=1024, required=False)
    num_images = forms.IntegerField(
        min_value=1, max_value=4, initial=1, label="Images", required=False
    )
    steps = forms.IntegerField(
        required=False,
        min_value=1,
        widget=forms.NumberInput(attrs={"placeholder": "model default"}),
    )
    cfg_scale = forms.FloatField(
        required=False,
        min_value=0,
        label="CFG scale",
        widget=forms.NumberInput(attrs={"placeholder": "model default", "step": "any"}),
    )
    seed = forms.IntegerField(required=False, min_value=0, help_text="Empty for random")
    project = forms.ModelChoiceField(queryset=None, required=False, empty_label="No project")
    style = forms.ModelChoiceField(queryset=None, required=False, empty_label="No style")

    operation = forms.ChoiceField(choices=OPERATION_CHOICES, required=False)
    input_images = ImageIdsField(required=False)
    mask = MaskField(required=False)
    strength = forms.FloatField(
        required=False,
        min_value=0,
        max_value=1,
        widget=forms.NumberInput(
            attrs={
                "step": "0.05",
                "placeholder": "model default",
                "aria-describedby": "strength-help",
            }
        ),
    )
    scale = forms.IntegerField(required=False, min_value=1, max_value=16)
    outpaint_mode = forms.ChoiceField(
        choices=[("ratio", "To an aspect ratio"), ("margins", "By margins")], required=False
    )
    outpaint_ratio = forms.CharField(required=False, max_length=9)
    outpaint_left = _margin_field("Left")
    outpaint_top = _margin_field("Top")
    outpaint_right = _margin_field("Right")
    outpaint_bottom = _margin_field("Bottom")
    # Built by ``clean`` from the outpaint_* fields (or given as JSON); never rendered.
    outpaint = forms.JSONField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args, user, prompt_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.draft = not prompt_required  # pricing a draft: no prompt or mask yet
        if self.data.get("operation") in UNPROMPTED:
            prompt_required = False
        self.fields["prompt"].required = prompt_required
        self.fields["provider"].choices = provider_choices(user)
        self.fields["provider"].refusals = provider_refusals(user)
        self.fields["project"].queryset = Project.objects.for_user(user, "contribute")
        self.fields["style"].queryset = StylePreset.objects.for_user(user, "view")

    params = forms.JSONField(required=False, widget=forms.HiddenInput)

    def clean(self):
        """Collect the model's extra options (``param_<name>`` selects) into ``params``,
        turning each submitted text back into the model's own value (true, 4, "hd")."""
        cleaned = super().clean()
        provider = get_provider(cleaned.get("provider") or "")
        spec = provider.get_model(cleaned.get("model") or "") if provider else None
        if spec is not None:
            # The page keeps these fields for every model; one that takes none ignores them
            # (its info panel says so). The API, by contrast, refuses them.
            if spec.steps is None:
                cleaned["steps"] = None
            if spec.cfg_scale is None:
                cleaned["cfg_scale"] = None
        params = dict(cleaned.get("params") or {})
        for key, raw in self.data.items():
            if not key.startswith("param_") or raw == "":
                continue
            name = key.removeprefix("param_")
            allowed = spec.options.get(name, []) if spec else []
            params[name] = next((v for v in allowed if str(v) == raw), raw)
        cleaned["params"] = params
        self._clean_operation(cleaned, spec)
        return cleaned

    def _clean_operation(self, cleaned, spec):
        """Keep the chosen operation's fields, drop the rest; check that every input image
        is one the user may view (another user's is "No such image", and nothing is queued)."""
        operation = cleaned.get("operation") or Operation.GENERATE
        cleaned["operation"] = operation
        if operation == Operation.GENERATE:
            cleaned.update(input_images=[], mask="", strength=None, scale=None, outpaint=None)
            return
        ids = cleaned.get("input_images") or []
        if ids:
            visible = set(
                Image.objects.for_user(self.user, VIEW)
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
            )
            missing = [pk for pk in ids if pk not in visible]
            if missing:
                self.add_error("input_images", f"No such image: {missing[0]}.")
        # The size follows the input (and the factor or margins): the page's size is not sent.
        cleaned["width"] = cleaned["height"] = None
        if operation not in WITH_STRENGTH or (spec is not None and spec.strength is None):
            cleaned["strength"] = None
        if operation in PROMPTLESS:
            cleaned.update(prompt="", negative_prompt="", style=None, num_images=1)
            cleaned.update(steps=None, cfg_scale=None, seed=None)
        if operation != Operation.UPSCALE:
            cleaned["scale"] = None
        if operation == Operation.INPAINT:
            if not cleaned.get("mask") and self.draft and ids:
                # A price never depends on the mask: the first input (its size) stands in.
                cleaned["mask"] = ids[0]
        else:
            cleaned["mask"] = ""
        if operation == Operation.OUTPAINT:
            cleaned["outpaint"] = self._outpaint(cleaned)
        else:
            cleaned["outpaint"] = None

    def _outpaint(self, cleaned):
        mode = cleaned.get("outpaint_mode")
        if mode == "ratio":
            return {"aspect_ratio": cleaned.get("outpaint_ratio") or ""}
        if mode == "margins":
            sides = ("left", "top", "right", "bottom")
            return {side: cleaned.get(f"outpaint_{side}") or 0 for side in sides}
        return cleaned.get("outpaint")

    def add_submission_errors(self):
        """With some fields already refused, check the rest against the model too, so every
        invalid field is reported at once (the form alone stops before the model's ranges)."""
        if "provider" in self.errors:
            return
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors
            and name not in ("project", "style")
            and not name.startswith("outpaint_")
        }
        try:
            build_request(self.user, data, prompt_required=self.fields["prompt"].required)
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                if field in self.fields and field not in self.errors:
                    self.add_error(field, messages)

    def apply_errors(self, error):
        """Show a service ValidationError next to the fields it names."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
