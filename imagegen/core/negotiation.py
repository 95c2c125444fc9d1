"""Content negotiation for endpoints that answer a file, not a rendered document.

DRF negotiates the ``Accept`` header against the view's renderers (JSON, the browsable API)
before the view runs, so a client that asks for what a download really is
(``Accept: application/zip``, ``Accept: image/png``) was refused with 406 although the view
would have answered exactly that. A file view names the types it produces; a request that
accepts one of them (exactly, by a wildcard such as ``image/*``, or ``*/*``) goes through,
and the view's own response (the file) is the answer. Errors on the way (404, 400) are still
rendered by the first renderer, JSON. A request that accepts neither a produced type nor a
renderer's (``Accept: text/csv`` on an image) is still a 406.
"""

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.utils.mediatypes import media_type_matches


class FileNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, plus: a request accepting one of ``produces`` is acceptable."""

    produces: tuple[str, ...] = ()

    def select_renderer(self, request, renderers, format_suffix=None):
        asked_format = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        if not asked_format:
            for accepted in self.get_accept_list(request):
                if any(media_type_matches(produced, accepted) for produced in self.produces):
                    return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)


def answering(*media_types: str) -> type[FileNegotiation]:
    """A ``content_negotiation_class`` for a view that answers files of ``media_types``."""
    return type("FileNegotiation", (FileNegotiation,), {"produces": media_types})
