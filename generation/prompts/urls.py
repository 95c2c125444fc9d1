"""/api/prompts/...: the prompt tools' API (included by imagegen/urls.py)."""

from django.urls import path

from generation.prompts import api as prompt_api

urlpatterns = [
    path("styles", prompt_api.StylePresetListView.as_view(), name="api-prompt-styles"),
    path("styles/<int:pk>", prompt_api.StylePresetDetailView.as_view(),
         name="api-prompt-style"),
    path("enhance", prompt_api.EnhanceView.as_view(), name="api-prompt-enhance"),
    path("history", prompt_api.HistoryView.as_view(), name="api-prompt-history"),
    path("history/<str:key>", prompt_api.HistoryEntryView.as_view(),
         name="api-prompt-history-entry"),
    path("variations/preview", prompt_api.VariationPreviewView.as_view(),
         name="api-prompt-variations-preview"),
]
