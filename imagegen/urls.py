"""URL map: HTML pages, the REST API under /api/, access-checked files, and the admin."""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gallery import download_views
from generation import api as generation_api
from settings_app import api as settings_api
from settings_app import auth_api

api_patterns = [
    path("auth/token", auth_api.TokenView.as_view(), name="api-token"),
    path("generate", generation_api.GenerateView.as_view(), name="api-generate"),
    path("generate/estimate", generation_api.EstimateView.as_view(), name="api-estimate"),
    path("providers", generation_api.ProvidersView.as_view(), name="api-providers"),
    path("generation/<int:pk>", generation_api.GenerationDetailView.as_view(),
         name="api-generation"),
    path("generation/cancel/<int:pk>", generation_api.GenerationCancelView.as_view(),
         name="api-generation-cancel"),
    path("generations", generation_api.GenerationListView.as_view(), name="api-generations"),
    path("settings", settings_api.PreferencesView.as_view(), name="api-settings"),
    path("settings/api-keys", settings_api.ApiKeyListView.as_view(), name="api-keys"),
    path("settings/api-keys/<str:provider>", settings_api.ApiKeyDetailView.as_view(),
         name="api-key"),
    path("settings/test-connection", settings_api.ConnectionTestView.as_view(),
         name="api-test-connection"),
    path("settings/tokens", settings_api.TokenListView.as_view(), name="api-tokens"),
    path("settings/tokens/<int:pk>", settings_api.TokenDetailView.as_view(),
         name="api-token-detail"),
    path("dashboard/", include("dashboard.api_urls")),
    path("prompts/", include("generation.prompts.urls")),
    path("", include("gallery.api_urls")),
    path("", include("projects.api_urls")),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
]
api_patterns += download_views.api_patterns

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="generate", permanent=False), name="home"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True),
         name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("account/password/", auth_views.PasswordChangeView.as_view(),
         name="password_change"),
    path("account/password/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("api-auth/", include("rest_framework.urls")),
    path("", include("generation.urls")),
    path("", include("gallery.urls")),
    path("", include("projects.urls")),
    path("", include("dashboard.urls")),
    path("", include("settings_app.urls")),
]

handler404 = "imagegen.core.error_pages.not_found"
handler400 = "imagegen.core.error_pages.bad_request"
