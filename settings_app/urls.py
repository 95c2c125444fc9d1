from django.urls import path

from settings_app import views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/theme/", views.toggle_theme, name="toggle-theme"),
]
