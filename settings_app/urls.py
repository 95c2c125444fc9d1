from django.urls import path

from settings_app import two_factor_views, views

urlpatterns = [
    path("settings/", views.settings_page, name="settings"),
    path("settings/theme/", views.toggle_theme, name="toggle-theme"),
    path("settings/keys/<str:provider>/", views.key_save, name="settings-key-save"),
    path("settings/keys/<str:provider>/delete/", views.key_delete, name="settings-key-delete"),
    path("settings/keys/<str:provider>/test/", views.key_test, name="settings-key-test"),
    path("settings/tokens/", views.token_create, name="settings-token-create"),
    path("settings/tokens/<int:pk>/revoke/", views.token_revoke, name="settings-token-revoke"),
    path("settings/single-sign-on/link/", views.sso_link, name="sso-link"),
    path("settings/single-sign-on/unlink/", views.sso_unlink, name="sso-unlink"),
    path("settings/two-factor/", two_factor_views.two_factor_page, name="two-factor"),
    path(
        "settings/two-factor/confirm/",
        two_factor_views.two_factor_confirm,
        name="two-factor-confirm",
    ),
    path(
        "settings/two-factor/recovery-codes/",
        two_factor_views.two_factor_recovery_codes,
        name="two-factor-recovery-codes",
    ),
    path(
        "settings/two-factor/disable/",
        two_factor_views.two_factor_disable,
        name="two-factor-disable",
    ),
    path("signup/", views.signup, name="signup"),
]
