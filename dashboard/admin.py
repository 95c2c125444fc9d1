from django.contrib import admin

from generation.usage.models import TeamBudget, UserBudget


@admin.register(UserBudget)
class UserBudgetAdmin(admin.ModelAdmin):
    list_display = ["user", "monthly_budget_usd", "daily_image_limit", "unlimited", "updated_at"]
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
