"""Signals for the apps above this one, which must react to projects without being imported
here (see CONTRIBUTING.md, "Layers")."""

from django.dispatch import Signal

# Sent by projects.services.delete_project inside its transaction, before the project row is
# deleted, with ``project`` and ``with_images``. A receiver that deletes content with the
# project returns how many images it deleted (the gallery's does, when with_images is set).
project_deleting = Signal()
