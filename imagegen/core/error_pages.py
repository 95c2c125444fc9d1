"""Error pages: JSON for API and file URLs (OpenAI's error shape under /v1/), Django's HTML
pages everywhere else.

A URL under /api/ or /files/ that matches no route (``/api/gallery/abc``), a request Django
refuses before any view (too many form fields), a PermissionDenied raised outside DRF or an
unexpected exception would otherwise answer with the HTML error page; API clients get
``{"detail": ...}`` like every other API error (the schema's error shape). Wired in
``imagegen/urls.py`` as handler400, handler403, handler404 and handler500.
"""

from django.http import JsonResponse
from django.views import defaults

JSON_PREFIXES = ("/api/", "/files/", "/v1/")
# The OpenAI-compatible gateway answers in OpenAI's error shape (docs/openai-gateway.md).
OPENAI_PREFIX = "/v1/"


def _wants_json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def _json(request, status: int, detail: str, code: str) -> JsonResponse:
    if request.path.startswith(OPENAI_PREFIX):
        kind = "server_error" if status >= 500 else "invalid_request_error"
        body = {"error": {"message": detail, "type": kind, "param": None, "code": code}}
        response = JsonResponse(body, status=status)
        if status >= 500:
            response["x-should-retry"] = "false"  # it may have queued a generation
        return response
    return JsonResponse({"detail": detail}, status=status)


def not_found(request, exception=None):
    """404: JSON under /api/ and /files/, else the HTML page."""
    if _wants_json(request):
        return _json(request, 404, "Not found.", "not_found")
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 raised outside a view (SuspiciousOperation): JSON under /api/ and /files/."""
    if _wants_json(request):
        return _json(request, 400, "Bad request.", "bad_request")
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    """403 raised outside DRF (PermissionDenied in a file view): JSON under /api/ and /files/."""
    if _wants_json(request):
        return _json(
            request, 403, "You do not have permission to perform this action.", "forbidden"
        )
    return defaults.permission_denied(request, exception)


def server_error(request):
    """500: JSON under /api/ and /files/ (no traceback, no exception text), else the page."""
    if _wants_json(request):
        return _json(request, 500, "Server error.", "internal_error")
    return defaults.server_error(request)
