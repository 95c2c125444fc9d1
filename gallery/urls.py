from django.urls import path

from gallery import pages

urlpatterns = [
    path("gallery/", pages.gallery_page, name="gallery"),
    path("gallery/images/<int:pk>/panel/", pages.image_panel, name="gallery-image-panel"),
    path("gallery/images/<int:pk>/projects/", pages.image_projects, name="gallery-image-projects"),
    path("gallery/images/<int:pk>/tools/", pages.image_tools, name="gallery-image-tools"),
    # The project page is the gallery scoped to one project (with the project's settings
    # panel beside it): it renders the gallery's tiles, and projects, below gallery, may not
    # import gallery. The project's other pages stay in projects/urls.py.
    path("projects/<int:pk>/", pages.project_page, name="project-detail"),
]
