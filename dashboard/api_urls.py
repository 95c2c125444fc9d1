"""Dashboard API routes, included under /api/dashboard/."""

from django.urls import path

from dashboard import api

urlpatterns = [
    path("stats", api.StatsView.as_view(), name="api-dashboard-stats"),
    path("usage", api.UsageView.as_view(), name="api-dashboard-usage"),
    path("trends", api.TrendsView.as_view(), name="api-dashboard-trends"),
    path("budget", api.BudgetView.as_view(), name="api-dashboard-budget"),
]
