"""Forms of the Settings page and the sign-up page (the checks live in models/services)."""

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm

from imagegen.core import limits
from projects.models import Project
from settings_app.models import Preferences, available_time_zones, provider_names
from settings_app.services import provider_label


class PreferencesForm(forms.ModelForm):
    """Fields left out of a post keep their stored values (so a form may post only some)."""

    default_provider = forms.ChoiceField(required=False)
    # A select rather than a checkbox: an absent checkbox would read as "off".
    shortcuts_enabled = forms.TypedChoiceField(
        label="Keyboard shortcuts",
        choices=[(True, "On"), (False, "Off")],
        coerce=lambda value: value in (True, "True", "true", "on", "1"),
    )

    class Meta:
        model = Preferences
        fields = [
            "theme",
            "default_provider",
            "default_model",
            "default_width",
            "default_height",
            "default_steps",
            "default_cfg_scale",
            "default_num_images",
            "items_per_page",
            "shortcuts_enabled",
            "default_project",
            "time_zone",
        ]

    def __init__(self, data=None, *args, user, instance=None, **kwargs):
        if data is not None and instance is not None:
            data = data.copy()
            for name in self._meta.fields:
                if name not in data:
                    value = getattr(instance, name + "_id" if name == "default_project" else name)
                    data[name] = "" if value is None else value
        super().__init__(data, *args, instance=instance, **kwargs)

        self.fields["default_provider"].choices = [("", "Offline (built-in)")] + [
            (name, provider_label(name)) for name in provider_names() if name != "offline"
        ]
        self.fields["default_project"].queryset = Project.objects.for_user(user, "contribute")
        self.fields["default_project"].empty_label = "No project"
        self.fields["time_zone"] = forms.ChoiceField(
            required=False,
            label="Time zone",
            help_text=Preferences.time_zone.field.help_text,
            choices=[("", f"Team default ({settings.TIME_ZONE})")]
            + [(name, name) for name in sorted(available_time_zones())],
        )


class KeyForm(forms.Form):
    """Add or replace one provider key; the input is never filled back in."""

    api_key = forms.CharField(
        label="API key",
        max_length=limits.MAX_API_KEY_INPUT,
        strip=False,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
    )


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Token name")


class SignupForm(UserCreationForm):
    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ["username"]


class TwoFactorCodeForm(forms.Form):
    """A code from the authenticator app (six digits) or a recovery code."""

    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "off", "spellcheck": "false"}
        ),
    )


class TwoFactorDisableForm(TwoFactorCodeForm):
    password = forms.CharField(
        label="Your password",
        max_length=limits.MAX_PASSWORD,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["password", "code"]
