"""Project API routes, included under /api/ by imagegen/urls.py."""

from django.urls import path

from projects import api

urlpatterns = [
    path("projects", api.ProjectListView.as_view(), name="api-projects"),
    path("projects/<int:pk>", api.ProjectDetailView.as_view(), name="api-project"),
]
