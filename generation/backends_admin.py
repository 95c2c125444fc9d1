"""Admin pages of the self-hosted GPU backends and the ComfyUI workflows (imported by
generation/admin.py, which registers everything else of the app). Only admins set a backend's
URL and credentials; credentials are write-only here (docs/self-hosted-backends.md)."""

import json
from urllib.parse import urlsplit

from django import forms
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from generation import backends
from generation.models import Backend, Workflow
from imagegen.providers import comfyui_workflows
from imagegen.providers.backends import BackendAuth, BackendKind
from imagegen.providers.base import Operation

# Problems of the field map (the rest are the workflow's own).
FIELD_PROBLEMS = ("Field ", "Unknown field", "Map both", "A ", "An upscale", "The field map")
OPERATION_CHOICES = [(op.value, op.value.replace("_", " ")) for op in comfyui_workflows.OPERATIONS]


class BackendForm(forms.ModelForm):
    base_url = forms.URLField(
        max_length=500,
        assume_scheme="http",
        label="Base URL",
        help_text=Backend._meta.get_field("base_url").help_text,
    )
    credential = forms.CharField(
        label="Password or token",
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted and never shown again. Leave empty to keep the current one.",
    )
    clear_credential = forms.BooleanField(
        label="Forget the stored password or token", required=False
    )

    class Meta:
        model = Backend
        labels = {
            "price_per_gpu_second": "Price per GPU-second (USD)",
            "max_concurrent": "Jobs at once",
            "offered_models": "Offered models",
            "edits": "Serves image edits",
            "auth": "Login",
            "username": "User name",
        }
        widgets = {"offered_models": forms.Textarea(attrs={"rows": 3, "cols": 60})}
        fields = [
            "name",
            "kind",
            "base_url",
            "enabled",
            "max_concurrent",
            "price_per_gpu_second",
            "typical_seconds",
            "offered_models",
            "edits",
            "groups",
            "auth",
            "username",
        ]

    def clean_base_url(self):
        url = self.cleaned_data["base_url"].strip()
        if not url.lower().startswith(("http://", "https://")):
            raise forms.ValidationError("Give an http:// or https:// address.")
        if urlsplit(url).username or urlsplit(url).password:
            raise forms.ValidationError(
                "Leave the login out of the address (it would be stored in plain text): "
                "choose the kind of login below and give the password or token there."
            )
        return url.rstrip("/")

    def clean(self):
        cleaned = super().clean()
        auth = cleaned.get("auth")
        has_secret = bool(cleaned.get("credential")) or (
            self.instance.pk is not None
            and self.instance.secret
            and not cleaned.get("clear_credential")
        )
        if auth == BackendAuth.BASIC and not cleaned.get("username"):
            self.add_error("username", "HTTP basic needs a user name.")
        if auth in (BackendAuth.BASIC, BackendAuth.BEARER) and not has_secret:
            self.add_error("credential", "Give the password or token for this kind of login.")
        if cleaned.get("kind") == BackendKind.A1111 and (cleaned.get("max_concurrent") or 1) > 1:
            self.add_error(
                "max_concurrent",
                "AUTOMATIC1111 runs one job at a time and can only interrupt the one it runs: "
                "keep 1 (add the same server twice only if it really is two).",
            )
        return cleaned


class SuperusersWrite:
    """A backend's URL and login make the server send requests (with credentials) where they
    point, and a workflow runs on the team's GPU: only superusers add, change or delete them,
    or ask for a check; other staff with the view permission may look."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.is_superuser:
            actions.clear()
        return actions


class HealthFilter(admin.SimpleListFilter):
    title = "health"
    parameter_name = "health"

    def lookups(self, request, model_admin):
        return [("up", "answering"), ("down", "not answering")]

    def queryset(self, request, queryset):
        if self.value() in ("up", "down"):
            return queryset.filter(healthy=self.value() == "up")
        return queryset


@admin.register(Backend)
class BackendAdmin(SuperusersWrite, admin.ModelAdmin):
    form = BackendForm
    list_display = ["name", "kind", "base_url", "enabled", "health", "load", "price"]
    list_filter = ["kind", "enabled", HealthFilter]
    search_fields = ["name", "base_url"]
    actions = ["check_now"]
    readonly_fields = [
        "health",
        "last_checked_at",
        "listing",
        "source",
        "credential_state",
        "created_at",
        "updated_at",
    ]
    fieldsets = [
        (None, {"fields": ["name", "kind", "base_url", "enabled"]}),
        (
            "Login (when the server sits behind a proxy that asks for one)",
            {"fields": ["auth", "username", "credential", "clear_credential", "credential_state"]},
        ),
        (
            "Capacity, cost and who may use it",
            {
                "fields": [
                    "max_concurrent",
                    "price_per_gpu_second",
                    "typical_seconds",
                    "offered_models",
                    "edits",
                    "groups",
                ]
            },
        ),
        (
            "What the last check found",
            {"fields": ["health", "last_checked_at", "listing", "source"]},
        ),
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).with_running()

    @admin.display(description="health", ordering="healthy")
    def health(self, backend):
        if backend.pk is None or backend.last_checked_at is None and backend.healthy:
            return "not checked yet"
        if backend.healthy:
            return "answering"
        since = timezone.localtime(backend.unhealthy_since) if backend.unhealthy_since else None
        when = f" since {since:%Y-%m-%d %H:%M}" if since else ""
        return f"not answering{when}: {backend.last_error or 'no reason recorded'}"

    @admin.display(description="jobs running")
    def load(self, backend):
        return f"{getattr(backend, 'running', 0)} of {backend.max_concurrent}"

    @admin.display(description="USD per GPU-second", ordering="price_per_gpu_second")
    def price(self, backend):
        if backend.price_per_gpu_second is None:
            return "free"
        return f"{backend.price_per_gpu_second.normalize():f}"

    @admin.display(description="listed models")
    def listing(self, backend):
        items = [
            m.get("id") if isinstance(m, dict) else str(m) for m in backend.listed_models or []
        ]
        if not items:
            return "-"
        rows = format_html_join("", "<li>{}</li>", ((item,) for item in items))
        return format_html("<ul>{}</ul>", rows)

    @admin.display(description="stored password or token")
    def credential_state(self, backend):
        return "one is stored (hidden)" if backend.pk and backend.secret else "none"

    def save_model(self, request, obj, form, change):
        if form.cleaned_data.get("clear_credential"):
            obj.secret = None
        if form.cleaned_data.get("credential"):
            obj.secret = form.cleaned_data["credential"]
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if form.instance.enabled:
            self._report(request, form.instance)
            # More slots, a new or re-enabled backend: jobs waiting for a GPU may start.
            backends.dispatch_waiting(form.instance.kind)

    def _report(self, request, backend):
        if backends.check_backend(backend):
            listed = len(backend.listed_models or [])
            more = f"; it lists {listed} model(s)" if listed else ""
            self.message_user(
                request, f"Checked {backend.name}: it answers{more}.", messages.SUCCESS
            )
        else:
            self.message_user(
                request,
                f"Checked {backend.name}: it does not answer ({backend.last_error}). Jobs will "
                "not go to it "
                "until it does (it is checked every minute).",
                messages.WARNING,
            )

    @admin.action(description="Check the selected backends now")
    def check_now(self, request, queryset):
        for backend in queryset:
            self._report(request, backend)


class PrettyJSONField(forms.JSONField):
    """JSON shown indented, one key a line: a workflow on one line cannot be read or edited."""

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False)


class WorkflowForm(forms.ModelForm):
    workflow_file = forms.FileField(
        required=False,
        label="Workflow file",
        help_text="The JSON ComfyUI saves with Workflow → Export (API). Replaces the text "
        "below when given.",
    )
    operation = forms.ChoiceField(choices=OPERATION_CHOICES, initial=Operation.GENERATE)

    class Meta:
        model = Workflow
        fields = [
            "model_id",
            "label",
            "description",
            "operation",
            "enabled",
            "sort_order",
            "workflow_file",
            "workflow",
            "fields",
        ]
        field_classes = {"workflow": PrettyJSONField, "fields": PrettyJSONField}
        widgets = {
            "workflow": forms.Textarea(attrs={"rows": 16, "class": "vLargeTextField"}),
            "fields": forms.Textarea(attrs={"rows": 16, "class": "vLargeTextField"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "workflow" in self.fields:  # absent on a view-only page
            self.fields["workflow"].required = False

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("workflow_file")
        if upload is not None:
            try:
                cleaned["workflow"] = json.loads(upload.read().decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                self.add_error("workflow_file", "This file is not JSON.")
                return cleaned
            # Shown again in the text box if the form comes back with an error: a file input
            # cannot keep its file, and the admin should not have to choose it again.
            self.data = self.data.copy()
            self.data[self.add_prefix("workflow")] = json.dumps(cleaned["workflow"], indent=2)
        workflow, fields = cleaned.get("workflow"), cleaned.get("fields")
        if not workflow:
            self.add_error("workflow", "Upload the workflow file or paste its JSON.")
            return cleaned
        if fields is None or "fields" in self.errors:
            return cleaned
        try:
            comfyui_workflows.check(workflow, fields, cleaned.get("operation", "generate"))
        except comfyui_workflows.WorkflowInvalid as exc:
            for problem in exc.problems:
                about_map = problem.startswith(FIELD_PROBLEMS)
                self.add_error("fields" if about_map else "workflow", problem)
        return cleaned


@admin.register(Workflow)
class WorkflowAdmin(SuperusersWrite, admin.ModelAdmin):
    form = WorkflowForm
    list_display = ["model_id", "label", "operation", "enabled", "sort_order"]
    list_editable = ["enabled", "sort_order"]
    list_filter = ["enabled", "operation"]
    search_fields = ["model_id", "label"]
    readonly_fields = ["offered_fields", "created_at", "updated_at"]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        for name, types in backends.missing_node_types(obj.workflow).items():
            self.message_user(
                request,
                f"The backend {name} does not have these node types: {', '.join(types)}. "
                "Install their custom nodes there, or jobs of this workflow will fail on it.",
                messages.WARNING,
            )

    @admin.display(description="What the Generate page shows")
    def offered_fields(self, row):
        if row.pk is None:
            return "-"
        try:
            comfyui_workflows.check(row.workflow, row.fields, row.operation)
        except comfyui_workflows.WorkflowInvalid as exc:
            return f"Not offered: {exc}"
        spec = comfyui_workflows.spec_for(
            row.model_id, row.label, row.operation, row.workflow, row.fields
        )
        shown = ["prompt"] if "prompt" in row.fields else []
        if spec.negative_prompt:
            shown.append("negative prompt")
        if spec.sizes:
            shown.append("size " + spec.allowed_sizes_text())
        elif "width" in row.fields:
            shown.append(f"size ({spec.allowed_sizes_text()})")
        if spec.steps:
            shown.append(f"steps {spec.steps[0]}–{spec.steps[1]}")
        if spec.cfg_scale:
            shown.append(f"guidance {spec.cfg_scale[0]:g}–{spec.cfg_scale[1]:g}")
        if spec.seed:
            shown.append("seed")
        for name, values in spec.options.items():
            shown.append(f"{name} ({', '.join(values)})")
        if spec.max_images > 1:
            shown.append(f"up to {spec.max_images} images")
        if spec.strength:
            shown.append("strength")
        if spec.scales:
            shown.append("scale " + " or ".join(f"{s}x" for s in spec.scales))
        return ", ".join(shown)
