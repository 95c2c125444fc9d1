from django.apps import AppConfig


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self):
        # Deferred (import time), as Django asks: receivers load once the models have.
        from gallery.services import delete_project_images
        from projects.signals import project_deleting

        project_deleting.connect(delete_project_images, dispatch_uid="gallery.project_images")
