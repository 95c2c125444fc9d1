from django.contrib import admin

from settings_app.models import Preferences


@admin.register(Preferences)
class PreferencesAdmin(admin.ModelAdmin):
    list_display = ["user", "theme", "updated_at"]
    list_filter = ["theme"]
    search_fields = ["user__username"]
