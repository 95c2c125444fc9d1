"""The audit trail in the admin: read-only for everyone, superusers included (no add, no
change, no delete, so no "Delete selected" either). Staff browse it at /audit/ as well."""

from django.contrib import admin

from imagegen.core.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "actor_label",
        "action",
        "object_type",
        "object_label",
        "ip_address",
        "client",
    ]
    list_filter = ["action", "created_at", "object_type"]
    search_fields = ["actor_label", "object_label", "object_type", "object_id"]
    date_hierarchy = "created_at"
    readonly_fields = AuditEntry.FIELDS
    list_select_related = ["actor"]
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
