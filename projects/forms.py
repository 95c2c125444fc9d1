from django import forms

from imagegen.core import limits
from projects.models import Project


class ProjectForm(forms.ModelForm):
    """The new-project form; projects.services.create_project checks and saves it."""

    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    # The model's TextField has no length; the service's limit, shown and checked here too.
    description = forms.CharField(
        required=False,
        max_length=limits.MAX_LONG_TEXT,
        widget=forms.Textarea(attrs={"rows": 2}),
        # The service's words (projects.services._check_text), so both paths read the same.
        error_messages={"max_length": "At most %(limit_value)d characters (%(show_value)d given)."},
    )
