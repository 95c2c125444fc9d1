from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_permission_codename
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django_q import admin as q_admin
from django_q.models import Failure, OrmQ, Schedule, Success
from django_q.tasks import async_task

from gallery.admin import thumbnail_tag
from gallery.models import GenerationInput, Image
from generation import services
from generation.gateway.offers import offers
from generation.models import CatalogModel, Generation, ModelAlias, StylePreset
from generation.tasks import REFRESH_FUNC, TASK_FUNCS, check_schedule
from imagegen.providers.catalog import spec_from_row
from imagegen.providers.models import CatalogSource

CLOUD_PROVIDERS = ["openai", "openrouter", "replicate", "fal"]
SPEC_TEMPLATE = (
    '{"min_size": 256, "max_size": 1440, "size_multiple": 32, "max_images": 1, '
    '"steps": [1, 50], "default_steps": 28, "cfg_scale": [1, 10], "default_cfg_scale": 3.5, '
    '"negative_prompt": false, "seed": true, "inputs": {"width": "width", "height": "height", '
    '"num_images": "num_outputs", "steps": "num_inference_steps", "cfg_scale": "guidance", '
    '"seed": "seed"}, "any_params": true}'
)


class ImageInline(admin.TabularInline):
    model = Image
    extra = 0
    can_delete = False
    fields = ["preview", "width", "height", "format", "bytes", "seed"]
    readonly_fields = fields
    show_change_link = True

    @admin.display(description="Preview")
    def preview(self, obj):
        return thumbnail_tag(obj)

    def has_add_permission(self, request, obj=None):
        return False


class GenerationInputInline(admin.TabularInline):
    """What the generation took in (docs/image-operations.md): its input images and mask,
    the lineage. A record of the submission like the generation itself: shown, never
    written here, to whoever may view the generation."""

    model = GenerationInput
    fk_name = "generation"
    extra = 0
    can_delete = False
    fields = ["preview", "role", "position", "source", "format", "width", "height", "sha256"]
    readonly_fields = fields
    ordering = ["position"]
    verbose_name = "input"
    verbose_name_plural = "inputs (lineage)"

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("image")

    @admin.display(description="Preview")
    def preview(self, obj):
        # A drawn mask is no gallery image: no URL serves its file.
        return thumbnail_tag(obj.image) if obj.image_id else "—"

    @admin.display(description="Image")
    def source(self, obj):
        if obj.image_id:
            url = reverse("admin:gallery_image_change", args=[obj.image_id])
            return format_html('<a href="{}">image {}</a>', url, obj.image_id)
        if obj.image_ref is not None:
            return f"image {obj.image_ref} (deleted)"
        return "drawn mask"

    def _may_view_generation(self, request) -> bool:
        opts = Generation._meta
        return any(
            request.user.has_perm(f"{opts.app_label}.{get_permission_codename(action, opts)}")
            for action in ("view", "change")
        )

    def has_view_permission(self, request, obj=None):
        return self._may_view_generation(request)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "preview",
        "owner",
        "operation",
        "provider",
        "model",
        "status",
        "num_images",
        "cost_usd",
        "created_at",
    ]
    list_filter = ["status", "operation", "origin", "provider", "created_at"]
    search_fields = [
        "prompt",
        "owner__username",
        "provider_request_id",
        "model",
        "client_user",
        "user_agent",
    ]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    inlines = [GenerationInputInline, ImageInline]
    actions = ["cancel_selected", "retry_selected"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images")

    # A generation is a record of what was asked and what the provider answered: it is made by
    # a submission (queue, budgets, quotas) and changed only by its lifecycle. Here staff may
    # look, cancel, retry and delete, never add one or rewrite its prompt, provider or owner.
    def has_add_permission(self, request):
        return False

    def get_readonly_fields(self, request, obj=None):
        return [field.name for field in self.model._meta.fields]

    @admin.display(description="Preview")
    def preview(self, obj):
        images = list(obj.images.all())
        return thumbnail_tag(images[0]) if images else "—"

    @admin.action(description="Cancel selected generations")
    def cancel_selected(self, request, queryset):
        done = 0
        for generation in queryset:
            try:
                services.cancel_generation(generation)
                done += 1
            except services.GenerationConflict:
                pass
        self.message_user(
            request,
            f"Cancel requested for {done} generation(s); "
            f"{queryset.count() - done} had already finished.",
        )

    @admin.action(description="Retry selected generations (as new generations)")
    def retry_selected(self, request, queryset):
        created = []
        for generation in queryset:
            try:
                created.append(services.retry_generation(generation).pk)
            except Exception as exc:  # a ValidationError names what is no longer allowed
                self.message_user(
                    request, f"Generation {generation.pk}: {exc}", level=messages.ERROR
                )
        if created:
            self.message_user(
                request, f"Queued {len(created)} new generation(s): {', '.join(map(str, created))}."
            )


class CatalogModelForm(forms.ModelForm):
    provider = forms.ChoiceField(choices=[(p, p) for p in CLOUD_PROVIDERS])

    class Meta:
        model = CatalogModel
        fields = [
            "provider",
            "model_id",
            "display_name",
            "enabled",
            "sort_order",
            "spec",
            "price_unit",
            "price_usd",
            "price_override_usd",
            "price_date",
        ]
        help_texts = {
            "model_id": "Replicate owner/name or owner/name:version, fal endpoint id "
            "(fal-ai/…), or OpenRouter model id (author/model).",
            "spec": f"Example for a custom model: {SPEC_TEMPLATE}",
        }

    def clean(self):
        cleaned = super().clean()
        spec = cleaned.get("spec")
        if spec is not None and not isinstance(spec, dict):
            self.add_error("spec", "The spec must be a JSON object.")
        elif spec is not None:
            try:
                probe = CatalogModel(
                    model_id=cleaned.get("model_id") or "x", display_name="x", spec=spec
                )
                spec_from_row(probe)
            except (TypeError, ValueError, AttributeError) as exc:
                self.add_error("spec", f"The spec cannot be used: {exc}")
        return cleaned


BUILTIN_FIELDS = ["provider", "model_id", "spec", "price_unit", "price_usd", "price_date"]
# What the machine owns (catalog.json and refresh_catalog): shown, never edited here.
MACHINE_FIELDS = [
    "source",
    "available",
    "deprecated",
    "shutdown_date",
    "last_listed_at",
    "missing_since",
    "listing_note",
    "spec_edited",
    "price_edited",
    "listed_schema",
]


@admin.register(CatalogModel)
class CatalogModelAdmin(admin.ModelAdmin):
    form = CatalogModelForm
    # Fits 1366 px beside the admin's sidebar: one price column (the price in effect, its unit,
    # "override" when an admin set it); deprecation, source and the price's date are filters
    # or on the change form, where the override is edited too.
    list_display = [
        "model_id",
        "provider",
        "display_name",
        "enabled",
        "available",
        "shutdown_date",
        "price",
    ]
    list_editable = ["enabled", "display_name"]

    @admin.display(description="Price (USD)", ordering="price_usd")
    def price(self, row):
        value = row.effective_price
        if value is None:
            return "-"
        text = f"{value.normalize():f}" + (f"/{row.price_unit}" if row.price_unit else "")
        return f"{text} (override)" if row.price_override_usd is not None else text

    def get_changelist_form(self, request, **kwargs):
        """The list's editable cells, each named for a screen reader ("Display name of
        flux-schnell"): the column header is not their label."""
        base = super().get_changelist_form(request, **kwargs)

        class LabelledRowForm(base):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                row = self.instance.model_id if self.instance.pk else "new model"
                for field in self.fields.values():
                    field.widget.attrs.setdefault("aria-label", f"{field.label} of {row}")

        return LabelledRowForm

    list_filter = ["provider", "enabled", "available", "deprecated", "source", "price_unit"]
    search_fields = ["model_id", "display_name"]
    actions = ["refresh_from_providers"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.builtin:  # built-in specs come from catalog.json
            return [*BUILTIN_FIELDS, *MACHINE_FIELDS]
        if obj is not None and obj.source == CatalogSource.LISTED:  # the provider named it
            return ["provider", "model_id", *MACHINE_FIELDS]
        return MACHINE_FIELDS

    def save_model(self, request, obj, form, change):
        """An admin's spec, price or unit of a listed row is theirs from now on: refreshes keep
        them (a custom row's are always the admin's; a built-in row's are read-only here)."""
        if change and "spec" in form.changed_data and obj.source == CatalogSource.LISTED:
            obj.spec_edited = True
        if change and not obj.builtin and {"price_usd", "price_unit"} & set(form.changed_data):
            obj.price_edited = True
        super().save_model(request, obj, form, change)

    @admin.action(
        description="Refresh the catalog from the providers' model listings "
        "(new models arrive disabled; admin edits are kept)"
    )
    def refresh_from_providers(self, request, queryset):
        """Queued, not run here: a refresh reads every provider's listing (Replicate one
        request per known model, fal many pages), far longer than an admin request may take.
        The ``refresh_catalog`` command still runs it in the foreground."""
        async_task(REFRESH_FUNC, task_name="refresh-model-catalog-now", group="catalog")
        self.message_user(
            request,
            "Refresh queued: its report appears under Job queue → Successful tasks in a minute, "
            "and in the log.",
        )


@admin.register(ModelAlias)
class ModelAliasAdmin(admin.ModelAdmin):
    """The /v1 gateway's model names (docs/openai-gateway.md). ``team-default`` is used when
    a request names no model."""

    list_display = ["name", "provider", "model", "description", "updated_at"]
    search_fields = ["name", "provider", "model", "description"]
    fields = ["name", "provider", "model", "description"]

    def get_changeform_initial_data(self, request):
        return {"name": "team-default", "provider": "offline", "model": "offline-shapes"}

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        usable = any(offer.name == obj.name for offer in offers(request.user))
        if not usable:
            self.message_user(
                request,
                f"Saved; note that {obj.provider}/{obj.model} is not usable by you right now "
                "(no key for the provider, or the model is offered to other groups only), "
                "so clients of people in the same position will not see this alias.",
                messages.WARNING,
            )


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    """Prompt tools: built-in presets (no owner) and users' own."""

    list_display = ["name", "key", "owner", "project", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "template", "owner__username"]
    list_select_related = ["owner", "project"]
    raw_id_fields = ["owner", "project"]


# --- The job queue (django-q2) -----------------------------------------------------------------
# A schedule or a queued task names a function the worker imports and runs, so these pages are
# code execution for whoever may write them. Only superusers add or change schedules, and only
# with one of our own task functions (generation.tasks.check_schedule, also enforced on every
# save by generation/signals.py); re-queueing a finished task is for superusers, and only for
# our own functions; queued rows are read-only. Staff with the other permissions may look, and
# delete.


class ScheduleForm(forms.ModelForm):
    class Meta:
        model = Schedule
        fields = [
            "name",
            "func",
            "hook",
            "args",
            "kwargs",
            "schedule_type",
            "minutes",
            "repeats",
            "next_run",
            "cron",
            "cluster",
            "intended_date_kwarg",
        ]

    def clean(self):
        cleaned = super().clean()
        try:
            check_schedule(cleaned.get("func"), cleaned.get("hook"), cleaned.get("kwargs"))
        except ValidationError as error:
            for field, messages_ in error.message_dict.items():
                self.add_error(field if field in self.fields else None, messages_)
        return cleaned


def _superuser(request) -> bool:
    return bool(request.user.is_active and request.user.is_superuser)


if admin.site.is_registered(Schedule):
    admin.site.unregister(Schedule)


@admin.register(Schedule)
class JobScheduleAdmin(q_admin.ScheduleAdmin):
    form = ScheduleForm

    def has_add_permission(self, request):
        return _superuser(request)

    def has_change_permission(self, request, obj=None):
        return _superuser(request)


@admin.action(description="Resubmit selected tasks to queue (superusers, our own functions)")
def resubmit_own_tasks(model_admin, request, queryset):
    if not _superuser(request):
        raise PermissionDenied
    refused = [task.name for task in queryset if task.func not in TASK_FUNCS or task.hook]
    if refused:
        model_admin.message_user(
            request, f"Not resubmitted (not our own task): {', '.join(refused)}", messages.ERROR
        )
        return
    q_admin.resubmit_task(model_admin, request, queryset)


class _OwnTasksOnly:
    """django-q2's task pages with the resubmit action for superusers, checked."""

    actions = [resubmit_own_tasks]

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not _superuser(request):
            actions.pop("resubmit_own_tasks", None)
        return actions


for _model, _base in ((Success, q_admin.TaskAdmin), (Failure, q_admin.FailAdmin)):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)
    admin.site.register(_model, type(_base.__name__, (_OwnTasksOnly, _base), {}))


if admin.site.is_registered(OrmQ):
    admin.site.unregister(OrmQ)

    @admin.register(OrmQ)
    class QueuedJobAdmin(q_admin.QueueAdmin):
        """Queued packages are read-only here (deleting one drops the job)."""

        def has_change_permission(self, request, obj=None):
            return False


from generation import backends_admin  # noqa: E402, F401 - registers the GPU backend pages
