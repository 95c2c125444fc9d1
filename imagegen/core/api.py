"""The API's one error mapping: domain exceptions to answers (see imagegen.core.exceptions)."""

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from imagegen.core.exceptions import ServiceError


def exception_handler(exc, context):
    """DRF's handler, plus the base classes of imagegen.core.exceptions: a ServiceError
    answers its status with its body; a Django ValidationError answers its field errors
    with 400 (429 for a QuotaExceeded, which says so in ``status_code``)."""
    if isinstance(exc, ServiceError):
        return Response(exc.as_body(), status=exc.status_code)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        response = drf_exception_handler(ValidationError(detail), context)
        response.status_code = getattr(exc, "status_code", status.HTTP_400_BAD_REQUEST)
        return response
    return drf_exception_handler(exc, context)
