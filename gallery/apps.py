from django.apps import AppConfig

from imagegen.core import live


class GalleryConfig(AppConfig):
    name = "gallery"
    verbose_name = "Gallery"

    def ready(self):
        # Deferred (import time), as Django asks: receivers load once the models have.
        from gallery.live import new_images
        from gallery.services import delete_project_images

        # Deferred (import time): projects.signals loads models.
        from projects.signals import project_deleting

        project_deleting.connect(delete_project_images, dispatch_uid="gallery.project_images")
        live.register_source("image", new_images)
