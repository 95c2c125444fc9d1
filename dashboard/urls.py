from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/in-progress/", views.in_progress, name="dashboard-in-progress"),
    path("dashboard/budget-notice/", views.budget_notice, name="dashboard-budget-notice"),
    path("audit/", views.audit_page, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
]
