from django.urls import path

from gallery import views

urlpatterns = [
    path("gallery/", views.gallery_page, name="gallery"),
    path("files/images/<int:pk>", views.ImageFileView.as_view(), name="image-file"),
    path("files/thumbnails/<int:pk>", views.ImageThumbnailView.as_view(),
         name="image-thumbnail"),
]
