"""The client's address as login throttling (django-axes) sees it."""

from django.conf import settings


def client_ip(request) -> str | None:
    """REMOTE_ADDR; behind a trusted proxy (TRUST_PROXY_HEADERS) the last X-Forwarded-For hop.

    The proxy appends the address it saw to X-Forwarded-For, so only the last entry is
    trustworthy: earlier ones are whatever the client sent.
    """
    if settings.TRUST_PROXY_HEADERS:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if hops:
            return hops[-1]
    return request.META.get("REMOTE_ADDR")
