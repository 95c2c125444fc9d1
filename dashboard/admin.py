from django.contrib import admin

from generation.usage.models import SpendEntry, TeamBudget, UserBudget


@admin.register(UserBudget)
class UserBudgetAdmin(admin.ModelAdmin):
    list_display = [
        "user",
        "monthly_budget_usd",
        "daily_image_limit",
        "unlimited",
        "max_running",
        "max_queued",
        "updated_at",
    ]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    autocomplete_fields = ["user"]


@admin.register(TeamBudget)
class TeamBudgetAdmin(admin.ModelAdmin):
    list_display = ["__str__", "monthly_budget_usd", "updated_at"]

    def has_add_permission(self, request):
        return not TeamBudget.objects.exists()

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(SpendEntry)
class SpendEntryAdmin(admin.ModelAdmin):
    """Paid calls that are not generations (prompt enhancement), as the budgets count them;
    written only by the spending gate."""

    list_display = ["created_at", "owner", "kind", "provider", "model", "cost_usd", "settled"]
    list_filter = ["kind", "provider", "settled"]
    list_select_related = ["owner"]
    search_fields = ["owner__username", "model"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
