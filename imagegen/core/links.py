"""Absolute links in API answers: one rule for every URL the API writes.

DRF writes ``next``/``previous`` with ``request.build_absolute_uri``; file links (an image's
``url`` and ``thumbnail_url``, a project's cover) follow the same rule, so a client can follow
any link the API gives it without knowing where the API is mounted.
"""

from django.urls import reverse

# An id no route will ever see: reversed once, then split around, for a page of links.
_SENTINEL = 9_876_543_210_123


def absolute_url(request, name: str, *args) -> str:
    """The absolute URL of the route ``name`` with ``args``, as this request reached us."""
    if request is None:
        raise ValueError(f"An absolute link to {name!r} needs the request (serializer context).")
    return request.build_absolute_uri(reverse(name, args=args))


def absolute_url_maker(request, name: str):
    """pk → ``absolute_url(request, name, pk)`` with one ``reverse()`` for a whole page."""
    prefix, suffix = absolute_url(request, name, _SENTINEL).split(str(_SENTINEL))
    return lambda pk: f"{prefix}{pk}{suffix}"


def request_of(serializer):
    """The request a serializer was given in its context (every API view passes it)."""
    return serializer.context.get("request")
