from django.contrib import admin, messages

from gallery.admin import thumbnail_tag
from gallery.models import Image
from generation import services
from generation.models import Generation, StylePreset


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


@admin.register(Generation)
class GenerationAdmin(admin.ModelAdmin):
    list_display = ["id", "preview", "owner", "provider", "model", "status", "num_images",
                    "cost_usd", "created_at"]
    list_filter = ["status", "provider", "created_at"]
    search_fields = ["prompt", "owner__username", "provider_request_id", "model"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner", "project"]
    date_hierarchy = "created_at"
    inlines = [ImageInline]
    actions = ["cancel_selected", "retry_selected"]
    readonly_fields = ["status", "cancel_requested", "error", "attempts", "provider_request_id",
                       "provider_metadata", "cost_usd", "cost_is_estimate", "created_at",
                       "started_at", "finished_at", "heartbeat_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images")

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
        self.message_user(request, f"Cancel requested for {done} generation(s); "
                                   f"{queryset.count() - done} had already finished.")

    @admin.action(description="Retry selected generations (as new generations)")
    def retry_selected(self, request, queryset):
        created = []
        for generation in queryset:
            try:
                created.append(services.retry_generation(generation).pk)
            except Exception as exc:  # a ValidationError names what is no longer allowed
                self.message_user(request, f"Generation {generation.pk}: {exc}",
                                  level=messages.ERROR)
        if created:
            self.message_user(request, f"Queued {len(created)} new generation(s): "
                                       f"{', '.join(map(str, created))}.")


@admin.register(StylePreset)
class StylePresetAdmin(admin.ModelAdmin):
    """Prompt tools: built-in presets (no owner) and users' own."""

    list_display = ["name", "key", "owner", "project", "updated_at"]
    list_filter = [("owner", admin.EmptyFieldListFilter)]
    search_fields = ["name", "template", "owner__username"]
    list_select_related = ["owner", "project"]
    raw_id_fields = ["owner", "project"]
