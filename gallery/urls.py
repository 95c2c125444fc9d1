from django.urls import path

from gallery import pages, views

urlpatterns = [
    path("gallery/", pages.gallery_page, name="gallery"),
    path("gallery/images/<int:pk>/panel/", pages.image_panel, name="gallery-image-panel"),
    path("files/images/<int:pk>", views.ImageFileView.as_view(), name="image-file"),
    path("files/thumbnails/<int:pk>", views.ImageThumbnailView.as_view(),
         name="image-thumbnail"),
]
