"""URL map: HTML pages, the REST API under /api/, access-checked files, and the admin.

Each app declares its page routes in ``<app>/urls.py`` and its API routes in
``<app>/api_urls.py`` (gallery also its file routes in ``gallery/file_urls.py``); this module
includes each of them once, the API ones under ``api/``.

API paths follow one scheme, no trailing slash:

- ``/{collection}``: the list (GET) or a new item (POST), e.g. ``/api/generations``;
- ``/{collection}/{id}``: one item, e.g. ``/api/generations/{id}``;
- ``/{collection}/{id}/{action}``: an action on or a form of one item, e.g.
  ``/api/generations/{id}/cancel``, ``/api/gallery/{id}/favorite``;
- ``/{collection}/{action}``: an action on several items, e.g. ``/api/gallery/bulk``.

Collections are plural nouns (``generations``, ``projects``, ``providers``, ``api-keys``,
``tokens``, ``styles``) or a collective noun (``gallery``: the images; ``history``: the prompt
history). A per-user singleton is singular (``/api/settings``). An area groups its resources
under its name: ``/api/settings/...``, ``/api/dashboard/...``, ``/api/prompts/...``. A bare
verb names only an operation that is no one resource: ``/api/generate``,
``/api/generate/estimate``, ``/api/auth/token``, ``/api/prompts/enhance``.

A path that did not fit moved to its canonical form; the old path stays as an alias of the
same view (``imagegen.core.routes.alias``), marked deprecated in the OpenAPI schema.
"""

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.utils import extend_schema
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework.routers import APIRootView

from imagegen.core import desktop
from imagegen.core.live_views import live_events
from settings_app import signin
from settings_app.oidc import views as oidc_views

# ``GET /api/``: the browsable API's front door, a link to each collection and area (the
# OpenAPI schema and its docs list every operation).
API_ROOT = {
    "generate": "api-generate",
    "generations": "api-generations",
    "providers": "api-providers",
    "gallery": "api-gallery",
    "projects": "api-projects",
    "prompts/styles": "api-prompt-styles",
    "prompts/history": "api-prompt-history",
    "dashboard/usage": "api-dashboard-usage",
    "dashboard/budget": "api-dashboard-budget",
    "settings": "api-settings",
    "settings/api-keys": "api-keys",
    "settings/tokens": "api-tokens",
    "schema": "api-schema",
    "docs": "api-docs",
}


# The admin's app sidebar repeats its index on every page and takes 300 px: without it a
# change list (the model catalog's, the widest) shows all its columns at 1366 px.
admin.site.enable_nav_sidebar = False
# Every password sign-in happens on /login/, which asks for the second factor when the
# account has one (settings_app/signin.py): the admin's login page sends people there.
admin.site.login = signin.admin_login

# The browsable API's log-in link goes to the same page; its log-out is Django's.
api_auth_urls = (
    [
        path("login/", signin.api_auth_login, name="login"),
        path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    ],
    "rest_framework",
)


@extend_schema(exclude=True)  # a list of links, not an operation
class ApiRootView(APIRootView):
    """The studio's REST API: follow a link, or read the schema and docs for every operation."""


urlpatterns = [
    path("", RedirectView.as_view(pattern_name="generate", permanent=False), name="home"),
    path("login/", signin.TwoFactorLoginView.as_view(), name="login"),
    path("login/verify/", signin.verify, name="login-verify"),
    # Ends the provider's session too after an OpenID Connect sign-in (docs/identity.md).
    path("logout/", oidc_views.LogoutView.as_view(), name="logout"),
    path("oidc/", include("settings_app.oidc.urls")),
    path("desktop/sign-in/", desktop.sign_in, name="desktop-sign-in"),
    path("account/password/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "account/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    # The API.
    path(
        "api/",
        ApiRootView.as_view(api_root_dict=API_ROOT),
        name="api-root",
    ),
    path("api/", include("generation.api_urls")),
    path("api/", include("gallery.api_urls")),
    path("api/", include("projects.api_urls")),
    path("api/", include("dashboard.api_urls")),
    path("api/", include("settings_app.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api-auth/", include(api_auth_urls)),
    # Live updates (Server-Sent Events); imagegen/asgi.py routes this path to Django's ASGI
    # handler, so keep the two in step.
    path("live/events", live_events, name="live-events"),
    # OpenAI's Images API for the team's clients (docs/openai-gateway.md); imagegen/asgi.py
    # routes its two image paths to Django's ASGI handler.
    path("v1/", include("generation.gateway.urls")),
    # Access-checked files.
    path("", include("gallery.file_urls")),
    # Pages.
    path("", include("generation.urls")),
    path("", include("gallery.urls")),
    path("", include("projects.urls")),
    path("", include("dashboard.urls")),
    path("", include("settings_app.urls")),
]

handler404 = "imagegen.core.error_pages.not_found"
handler400 = "imagegen.core.error_pages.bad_request"
handler403 = "imagegen.core.error_pages.permission_denied"
handler500 = "imagegen.core.error_pages.server_error"
