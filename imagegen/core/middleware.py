"""Request guards that apply to every URL."""

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseBadRequest, JsonResponse

from imagegen.core import audit
from imagegen.core.error_pages import JSON_PREFIXES
from imagegen.core.exceptions import ServiceError


class RejectNulInQueryMiddleware:
    """A NUL in a query parameter is a 400 naming the parameter, before any view runs.

    No parameter legitimately holds one, and PostgreSQL refuses it in any text it is asked to
    compare (a search, a filter), which would otherwise surface as a 500. Bodies are checked
    by the forms and serializers (Django and DRF refuse NUL in text fields)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = sorted(
            {
                key
                for key, values in request.GET.lists()
                if "\x00" in key or any("\x00" in value for value in values)
            }
        )
        if bad:
            message = "Null characters are not allowed."
            if request.path.startswith(JSON_PREFIXES):
                return JsonResponse(
                    {name.replace("\x00", "\\x00"): [message] for name in bad}, status=400
                )
            return HttpResponseBadRequest(message)
        return self.get_response(request)


class ServiceErrorMiddleware:
    """The page-level half of the one error mapping (the API's is imagegen.core.api): a
    ServiceError that a page or file view lets through answers its status with its message,
    as JSON under /api/ and /files/. NotFound and Forbidden never get here as such: they are
    Django's Http404 and PermissionDenied, which Django answers with its 404 and 403 pages."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if not isinstance(exception, ServiceError) or isinstance(
            exception, (Http404, PermissionDenied)
        ):
            return None
        if request.path.startswith(JSON_PREFIXES):
            return JsonResponse(exception.as_body(), status=exception.status_code)
        return HttpResponse(
            exception.detail, status=exception.status_code, content_type="text/plain; charset=utf-8"
        )


class AuditRequestMiddleware:
    """Keeps the request being answered in a context variable, so that ``audit.record``
    called anywhere below (a service, a signal receiver) knows the address and client."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with audit.request_context(request):
            return self.get_response(request)
