"""Generation API routes, the prompt tools' included; under /api/ by imagegen/urls.py."""

from django.urls import path

from generation import api
from generation.prompts import api as prompt_api
from imagegen.core.routes import alias

generation = path("generations/<int:pk>", api.GenerationDetailView.as_view(), name="api-generation")
generation_cancel = path(
    "generations/<int:pk>/cancel", api.GenerationCancelView.as_view(), name="api-generation-cancel"
)

urlpatterns = [
    path("generate", api.GenerateView.as_view(), name="api-generate"),
    path("generate/estimate", api.EstimateView.as_view(), name="api-estimate"),
    path("providers", api.ProvidersView.as_view(), name="api-providers"),
    # Uploads become gallery images, but an upload is recorded as a generation: the view
    # lives here, under the gallery's path.
    path("gallery/upload", api.UploadView.as_view(), name="api-gallery-upload"),
    path("generations", api.GenerationListView.as_view(), name="api-generations"),
    generation,
    generation_cancel,
    # Prompt tools.
    path("prompts/styles", prompt_api.StylePresetListView.as_view(), name="api-prompt-styles"),
    path(
        "prompts/styles/<int:pk>",
        prompt_api.StylePresetDetailView.as_view(),
        name="api-prompt-style",
    ),
    path("prompts/enhance", prompt_api.EnhanceView.as_view(), name="api-prompt-enhance"),
    path("prompts/history", prompt_api.HistoryView.as_view(), name="api-prompt-history"),
    path(
        "prompts/history/<str:key>",
        prompt_api.HistoryEntryView.as_view(),
        name="api-prompt-history-entry",
    ),
    path(
        "prompts/variations/preview",
        prompt_api.VariationPreviewView.as_view(),
        name="api-prompt-variations-preview",
    ),
    # Old paths, kept working as deprecated aliases (imagegen/core/routes.py).
    alias("generation/<int:pk>", generation),
    alias("generation/cancel/<int:pk>", generation_cancel),
]
