"""The sharing fixtures of the gallery tests (viewer, editor, shared_project, clients)."""

from tests.gallery.conftest import (  # noqa: F401
    editor,
    editor_api,
    member_api,
    shared_project,
    viewer,
    viewer_api,
)
