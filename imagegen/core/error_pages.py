"""Error pages: JSON for API and file URLs, Django's HTML pages everywhere else.

A URL under /api/ or /files/ that matches no route (``/api/gallery/abc``), or a request
Django refuses before any view (too many form fields), would otherwise answer with the HTML
error page; API clients get ``{"detail": ...}`` like every other API error.
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
