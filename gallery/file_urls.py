"""The access-checked file routes (/files/...), included at the root by imagegen/urls.py.

Neither pages nor the JSON API: DRF views (so an API token works for them too) that answer
with the stored bytes, outside /api/ as they always were.
"""

from django.urls import path

from gallery import views

urlpatterns = [
    path("files/images/<int:pk>", views.ImageFileView.as_view(), name="image-file"),
    path("files/thumbnails/<int:pk>", views.ImageThumbnailView.as_view(), name="image-thumbnail"),
]
