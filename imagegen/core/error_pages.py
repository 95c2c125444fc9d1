"""Error pages: JSON for API and file URLs, Django's HTML pages everywhere else.

A URL under /api/ or /files/ that matches no route (``/api/gallery/abc``), a request Django
refuses before any view (too many form fields), a PermissionDenied raised outside DRF or an
unexpected exception would otherwise answer with the HTML error page; API clients get
``{"detail": ...}`` like every other API error (the schema's error shape). Wired in
``imagegen/urls.py`` as handler400, handler403, handler404 and handler500.
"""

from django.http import JsonResponse
from django.views import defaults

JSON_PREFIXES = ("/api/", "/files/")


def _wants_json(request) -> bool:
    return request.path.startswith(JSON_PREFIXES)


def not_found(request, exception=None):
    """404: JSON under /api/ and /files/, else the HTML page."""
    if _wants_json(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


def bad_request(request, exception=None):
    """400 raised outside a view (SuspiciousOperation): JSON under /api/ and /files/."""
    if _wants_json(request):
        return JsonResponse({"detail": "Bad request."}, status=400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    """403 raised outside DRF (PermissionDenied in a file view): JSON under /api/ and /files/."""
    if _wants_json(request):
        return JsonResponse(
            {"detail": "You do not have permission to perform this action."}, status=403
        )
    return defaults.permission_denied(request, exception)


def server_error(request):
    """500: JSON under /api/ and /files/ (no traceback, no exception text), else the page."""
    if _wants_json(request):
        return JsonResponse({"detail": "Server error."}, status=500)
    return defaults.server_error(request)
