"""Gallery API routes, included under /api/ by imagegen/urls.py."""

from django.urls import path

from gallery import api

urlpatterns = [
    path("gallery", api.GalleryListView.as_view(), name="api-gallery"),
    path("gallery/bulk", api.GalleryBulkView.as_view(), name="api-gallery-bulk"),
    path("gallery/<int:pk>", api.GalleryDetailView.as_view(), name="api-gallery-image"),
    path("gallery/<int:pk>/favorite", api.GalleryFavoriteView.as_view(),
         name="api-gallery-favorite"),
    path("gallery/<int:pk>/remix", api.GalleryRemixView.as_view(), name="api-gallery-remix"),
]
