"""Domain exceptions that carry their HTTP meaning.

Services and models raise these (or Django's ``ValidationError`` for field errors); views do
not translate them. One DRF handler (``imagegen.core.api.exception_handler``) and one page
handler (``imagegen.core.middleware.ServiceErrorMiddleware``, plus Django's own 403/404
pages, which ``Forbidden`` and ``NotFound`` reach by subclassing Django's exceptions) map the
base classes to answers; the API body is always ``{"detail": ...}`` (plus the ``extra`` keys a
subclass documents) or, for field errors, ``{"field": ["message", ...]}``.

| base class                   | HTTP | for                                                    |
|------------------------------|------|--------------------------------------------------------|
| ``ValidationError`` (Django) | 400  | bad input, with field errors                           |
| ``BadRequest``               | 400  | bad input that is not about one field (or names one)  |
| ``Forbidden``                | 403  | the user sees the object but may not do this to it    |
| ``NotFound``                 | 404  | not there, or not the user's to see (the same answer)  |
| ``Conflict``                 | 409  | the object's state does not allow the action           |
| ``QuotaExceeded``            | 429  | over a quota; a ValidationError, so forms show it too  |
| ``UpstreamError``            | 502  | a provider or other service failed                     |
"""

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404


class ServiceError(Exception):
    """A refusal a person can read (``detail``), answered with ``status_code``. ``field``
    puts the message under that field, as a field error; ``extra`` adds keys to the body."""

    status_code = 400

    def __init__(self, detail: str, *, field: str | None = None, extra: dict | None = None):
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra or {}

    def as_body(self) -> dict:
        if self.field:
            return {self.field: [self.detail], **self.extra}
        return {"detail": self.detail, **self.extra}


class BadRequest(ServiceError):
    status_code = 400


class Forbidden(ServiceError, PermissionDenied):
    status_code = 403


class NotFound(ServiceError, Http404):
    status_code = 404

    def __init__(self, detail: str = "Not found.", **kwargs):
        super().__init__(detail, **kwargs)


class Conflict(ServiceError):
    status_code = 409


class UpstreamError(ServiceError):
    status_code = 502


class QuotaExceeded(DjangoValidationError):
    """Over a quota (the daily image limit): field errors like any ValidationError, so forms
    show it at its field, but the API answers 429."""

    status_code = 429
