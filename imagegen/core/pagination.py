"""Keyset pagination for the API's lists."""

from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

# The largest id a BigAutoField holds: a cursor position beyond it is not one of ours (and
# SQLite cannot even bind it).
MAX_ID = 2**63 - 1
# Longer than any cursor this pagination writes (a base64 id and offset, a few dozen
# characters): anything longer is refused before it is decoded.
MAX_CURSOR_LENGTH = 200


def _invalid_cursor() -> ValidationError:
    return ValidationError({"cursor": ["This cursor is not valid."]})


class NewestFirstPagination(CursorPagination):
    """Keyset pagination over the primary key: stable while new rows arrive, no COUNT(*).

    The page size is ``page_size`` when the request gives one, else
    ``preferred_page_size(request)``: ITEMS_PER_PAGE here; the project's default pagination
    class (``settings_app.pagination``) answers the user's own preference instead."""

    ordering = "-id"  # decode_cursor accepts only ids as positions
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        """DRF's cursor, checked: one DRF cannot read (it answers 404), one too long to be
        ours, or one whose position is not an id (DRF hands it to the query as it is, and a
        forged ``p=abc`` or a number beyond 64 bits fails there) is bad input like any
        other, a 400 on ``cursor``."""
        encoded = request.query_params.get(self.cursor_query_param)
        if encoded is not None and len(encoded) > MAX_CURSOR_LENGTH:
            raise _invalid_cursor()
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise _invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            position = cursor.position
            if not (position.isascii() and position.isdigit() and int(position) <= MAX_ID):
                raise _invalid_cursor()
        return cursor

    def preferred_page_size(self, request) -> int:
        return settings.ITEMS_PER_PAGE

    def get_page_size(self, request):
        self.page_size = self.preferred_page_size(request)
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            # A bad page_size is a 400, as on /api/gallery, not silently the default.
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if not 1 <= size <= self.max_page_size:
                raise ValidationError(
                    {"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]}
                )
        return super().get_page_size(request)
