from django import forms

from projects.models import Project


class ProjectForm(forms.ModelForm):
    """The new-project form; projects.services.create_project checks and saves it."""

    class Meta:
        model = Project
        fields = ["name", "description"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}
