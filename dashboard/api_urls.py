"""Dashboard API routes, included under /api/ by imagegen/urls.py."""

from django.urls import path

from dashboard import api

urlpatterns = [
    path("dashboard/stats", api.StatsView.as_view(), name="api-dashboard-stats"),
    path("dashboard/usage", api.UsageView.as_view(), name="api-dashboard-usage"),
    path("dashboard/trends", api.TrendsView.as_view(), name="api-dashboard-trends"),
    path("dashboard/budget", api.BudgetView.as_view(), name="api-dashboard-budget"),
    path("audit", api.AuditListView.as_view(), name="api-audit"),
]
