"""Settings and token API routes, included under /api/ by imagegen/urls.py."""

from django.urls import path

from settings_app import api, auth_api

urlpatterns = [
    path("auth/token", auth_api.TokenView.as_view(), name="api-token"),
    path("settings", api.PreferencesView.as_view(), name="api-settings"),
    path("settings/api-keys", api.ApiKeyListView.as_view(), name="api-keys"),
    path("settings/api-keys/<str:provider>", api.ApiKeyDetailView.as_view(), name="api-key"),
    path("settings/test-connection", api.ConnectionTestView.as_view(), name="api-test-connection"),
    path("settings/tokens", api.TokenListView.as_view(), name="api-tokens"),
    path("settings/tokens/<int:pk>", api.TokenDetailView.as_view(), name="api-token-detail"),
]
