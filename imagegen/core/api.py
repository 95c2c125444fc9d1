"""Project-wide API plumbing: error shapes and pagination."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from generation.services import GenerationConflict


def exception_handler(exc, context):
    """DRF's handler, plus: service ValidationErrors become 400 with field errors, and
    conflicts (e.g. cancelling a finished generation) become 409 with a message."""
    from dashboard.budgets import QuotaExceeded

    if isinstance(exc, QuotaExceeded):  # the daily image limit: 429, with field errors
        return Response(exc.message_dict, status=status.HTTP_429_TOO_MANY_REQUESTS)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        exc = ValidationError(detail)
    if isinstance(exc, GenerationConflict):
        return Response({"detail": str(exc)}, status=status.HTTP_409_CONFLICT)
    return drf_exception_handler(exc, context)


class NewestFirstPagination(CursorPagination):
    """Keyset pagination over the primary key: stable while new rows arrive, no COUNT(*)."""

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 100

    def decode_cursor(self, request):
        # DRF answers a cursor it cannot read with 404; it is bad input like any other.
        try:
            return super().decode_cursor(request)
        except NotFound:
            raise ValidationError({"cursor": ["This cursor is not valid."]}) from None

    def get_page_size(self, request):
        from settings_app.models import items_per_page_for

        self.page_size = items_per_page_for(request.user)  # ITEMS_PER_PAGE unless chosen
        raw = request.query_params.get(self.page_size_query_param)
        if raw is not None:
            # A bad page_size is a 400, as on /api/gallery, not silently the default.
            try:
                size = int(raw)
            except ValueError:
                size = 0
            if not 1 <= size <= self.max_page_size:
                raise ValidationError(
                    {"page_size": [f"Give a whole number from 1 to {self.max_page_size}."]})
        return super().get_page_size(request)
