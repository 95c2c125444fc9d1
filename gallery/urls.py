from django.urls import path

from gallery import pages

urlpatterns = [
    path("gallery/", pages.gallery_page, name="gallery"),
    path("gallery/images/<int:pk>/panel/", pages.image_panel, name="gallery-image-panel"),
]
