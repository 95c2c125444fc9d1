"""Request guards that apply to every URL."""

from django.http import HttpResponseBadRequest, JsonResponse

from imagegen.core.error_pages import JSON_PREFIXES


class RejectNulInQueryMiddleware:
    """A NUL in a query parameter is a 400 naming the parameter, before any view runs.

    No parameter legitimately holds one, and PostgreSQL refuses it in any text it is asked to
    compare (a search, a filter), which would otherwise surface as a 500. Bodies are checked
    by the forms and serializers (Django and DRF refuse NUL in text fields)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        bad = sorted({key for key, values in request.GET.lists()
                      if "\x00" in key or any("\x00" in value for value in values)})
        if bad:
            message = "Null characters are not allowed."
            if request.path.startswith(JSON_PREFIXES):
                return JsonResponse({name.replace("\x00", "\\x00"): [message] for name in bad},
                                    status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
