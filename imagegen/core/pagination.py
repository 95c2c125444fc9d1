"""Keyset pagination for the API's lists."""

from django.conf import settings
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination


class NewestFirstPagination(CursorPagination):
    """Keyset pagination over the primary key: stable while new rows arrive, no COUNT(*).

    The page size is ``page_size`` when the request gives one, else
    ``preferred_page_size(request)``: ITEMS_PER_PAGE here; the project's default pagination
    class (``settings_app.pagination``) answers the user's own preference instead."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404; it is bad input like any other.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["This cursor is not valid."]}) from None

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
