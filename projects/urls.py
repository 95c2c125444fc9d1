from django.urls import path

from projects import views

urlpatterns = [
    path("projects/", views.project_list, name="projects"),
    # projects/<int:pk>/ (the project page, name "project-detail") is in gallery/urls.py.
    path("projects/<int:pk>/edit/", views.project_edit, name="project-edit"),
    path("projects/<int:pk>/members/", views.project_members, name="project-members"),
    path("projects/<int:pk>/delete/", views.project_delete, name="project-delete"),
    path("projects/<int:pk>/leave/", views.project_leave, name="project-leave"),
]
