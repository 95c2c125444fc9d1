from django.urls import path

from settings_app import views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/theme/", views.toggle_theme, name="toggle-theme"),
    path("settings/keys/<str:provider>/", views.key_save, name="settings-key-save"),
    path("settings/keys/<str:provider>/delete/", views.key_delete, name="settings-key-delete"),
    path("settings/keys/<str:provider>/test/", views.key_test, name="settings-key-test"),
    path("settings/tokens/", views.token_create, name="settings-token-create"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="settings-token-revoke"),
    path("signup/", views.signup, name="signup"),
]
