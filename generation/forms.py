"""The Generate page's form: field types only; the service checks model ranges."""

from django import forms
from django.core.exceptions import ValidationError

from generation.models import StylePreset
from generation.validation import build_request
from imagegen.core import limits
from imagegen.providers import DEFAULT_PROVIDER, all_providers, get_provider
from projects.models import Project


def provider_choices():
    return [(p.name, p.label) for p in all_providers()]


def model_note(spec) -> str:
    """What the Generate page says beside a model the provider is retiring."""
    if spec.shutdown_date:
        return f"shuts down {spec.shutdown_date}"
    return "deprecated" if spec.deprecated else ""


def model_choices(provider_name: str | None):
    """The offered models of the provider as (id, label) for the model picker; a model with
    an announced shutdown or a deprecation says so in its label."""
    provider = get_provider(provider_name or DEFAULT_PROVIDER) or get_provider(DEFAULT_PROVIDER)
    choices = []
    for spec in provider.models():
        note = model_note(spec)
        choices.append((spec.id, f"{spec.label} ({note})" if note else spec.label))
    return choices


def size_or_none(width, height) -> tuple[int | None, int | None]:
    """Width and height from query text; None for a side that is not a plain number."""

    def number(text):
        text = (text or "").strip()
        return int(text) if text.isascii() and text.isdigit() and len(text) < 7 else None

    return number(width), number(height)


class GenerateForm(forms.Form):
    prompt = forms.CharField(
        max_length=limits.MAX_PROMPT, widget=forms.Textarea(attrs={"rows": 3, "autofocus": True})
    )
    negative_prompt = forms.CharField(
        required=False,
        max_length=limits.MAX_NEGATIVE_PROMPT,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    provider = forms.ChoiceField(choices=provider_choices)
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

    def __init__(self, *args, user, prompt_required: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["prompt"].required = prompt_required  # False: pricing a draft
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
        return cleaned

    def add_submission_errors(self):
        """With some fields already refused, check the rest against the model too, so every
        invalid field is reported at once (the form alone stops before the model's ranges)."""
        if "provider" in self.errors:
            return
        data = {
            name: value
            for name, value in self.cleaned_data.items()
            if name not in self.errors and name not in ("project", "style")
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
