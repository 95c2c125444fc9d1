"""Gallery API routes, the downloads included; under /api/ by imagegen/urls.py."""

from django.urls import path

from gallery import api, download_views

urlpatterns = [
    path("gallery", api.GalleryListView.as_view(), name="api-gallery"),
    path("gallery/bulk", api.GalleryBulkView.as_view(), name="api-gallery-bulk"),
    path("gallery/<int:pk>", api.GalleryDetailView.as_view(), name="api-gallery-image"),
    path(
        "gallery/<int:pk>/favorite", api.GalleryFavoriteView.as_view(), name="api-gallery-favorite"
    ),
    path("gallery/<int:pk>/remix", api.GalleryRemixView.as_view(), name="api-gallery-remix"),
    # Downloads.
    path(
        "gallery/<int:pk>/download",
        download_views.ImageDownloadView.as_view(),
        name="api-image-download",
    ),
    path(
        "gallery/download",
        download_views.SelectionDownloadView.as_view(),
        name="api-gallery-download",
    ),
    # A project's images as a ZIP: the view reads the gallery, which projects may not import,
    # so the route lives here with it.
    path(
        "projects/<int:pk>/download",
        download_views.ProjectDownloadView.as_view(),
        name="api-project-download",
    ),
]
