"""/v1: OpenAI's Images and Models API (docs/openai-gateway.md). The two image routes are
served by Django's ASGI handler (imagegen/asgi.py, GATEWAY_PATHS)."""

from django.urls import path, re_path

from generation.gateway import views

urlpatterns = [
    path("images/generations", views.generations, name="gateway-generations"),
    path("images/edits", views.edits, name="gateway-edits"),
    path("models", views.models, name="gateway-models"),
    path("models/<path:model_id>", views.model, name="gateway-model"),
    path("files/<str:signed>", views.file, name="gateway-file"),
    re_path(r"^(?P<rest>.*)$", views.not_found, name="gateway-not-found"),
]
