"""The Generate page's form: field types only; the service checks model ranges."""

from django import forms

from generation.providers import all_providers


def provider_choices():
    return [(p.name, p.label) for p in all_providers()]


def model_choices(provider_name: str | None):
    from generation.providers import DEFAULT_PROVIDER, get_provider

    provider = get_provider(provider_name or DEFAULT_PROVIDER) or get_provider(DEFAULT_PROVIDER)
    return [(m.id, m.label) for m in provider.models()]


class GenerateForm(forms.Form):
    prompt = forms.CharField(widget=forms.Textarea(attrs={"rows": 3, "autofocus": True}))
    negative_prompt = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    provider = forms.ChoiceField(choices=provider_choices)
    model = forms.CharField()
    width = forms.IntegerField(min_value=1, initial=1024)
    height = forms.IntegerField(min_value=1, initial=1024)
    num_images = forms.IntegerField(min_value=1, max_value=4, initial=1, label="Images")
    steps = forms.IntegerField(required=False, min_value=1)
    cfg_scale = forms.FloatField(required=False, min_value=0, label="CFG scale")
    seed = forms.IntegerField(required=False, min_value=0, help_text="Empty for random")
    project = forms.ModelChoiceField(queryset=None, required=False, empty_label="No project")
    style = forms.ModelChoiceField(queryset=None, required=False, empty_label="No style")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        from projects.models import Project

        self.fields["project"].queryset = Project.objects.writable_by(user)
        from generation.models import StylePreset

        self.fields["style"].queryset = StylePreset.objects.visible_to(user)

    def apply_errors(self, error):
        """Show a service ValidationError next to the fields it names."""
        for field, messages in error.message_dict.items():
            self.add_error(field if field in self.fields else None, messages)
