from django.contrib import admin
from django.db.models import Count

from projects.models import Project, ProjectMembership


class MembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 1
    raw_id_fields = ["user"]
    fields = ["user", "role", "created_at"]
    readonly_fields = ["created_at"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "member_count", "created_at"]
    search_fields = ["name", "description", "owner__username", "memberships__user__username"]
    list_select_related = ["owner"]
    raw_id_fields = ["owner", "cover_image"]
    inlines = [MembershipInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(member_total=Count("memberships"))

    @admin.display(description="Members", ordering="member_total")
    def member_count(self, obj):
        return obj.member_total
