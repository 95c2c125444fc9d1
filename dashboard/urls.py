from django.urls import path

from dashboard import views

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("dashboard/budget-notice/", views.budget_notice, name="dashboard-budget-notice"),
]
