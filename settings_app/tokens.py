"""API tokens at request time: ``Authorization: Token <key>`` or ``Bearer <key>`` (what OpenAI
clients send), and the per-token rate limit an administrator sets (``requests_per_minute``).

The limit counts in the database, in a fixed one-minute window kept on the token's
NamedToken row, with conditional UPDATEs only: every web process and host counts the same
requests (a per-process cache would let each of them allow the whole limit), and two
requests at once cannot both take the last one. Tokens without a limit cost no write.
"""

from datetime import timedelta

from django.db.models import F, Q
from django.utils import timezone
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from knox.auth import TokenAuthentication
from rest_framework import exceptions

from settings_app.models import NamedToken

PREFIXES = (b"token", b"bearer")
WINDOW = timedelta(minutes=1)


class RateLimited(Exception):
    """Over the token's requests per minute; ``wait`` seconds until the next window."""

    def __init__(self, limit: int, wait: int):
        self.limit = limit
        self.wait = wait
        super().__init__(
            f"Rate limit reached for this API token: {limit} requests per minute. "
            f"Try again in {wait} s."
        )


class MalformedHeader(Exception):
    """``Token`` or ``Bearer`` without exactly one key after it."""


def token_key(header: str | bytes | None) -> str | None:
    """The key of an ``Authorization`` header naming a token (``Token`` or ``Bearer``, any
    case); None for no header or another scheme; MalformedHeader for a token scheme without
    exactly one key."""
    if isinstance(header, str):
        header = header.encode("latin-1", "replace")
    parts = (header or b"").split()
    if not parts or parts[0].lower() not in PREFIXES:
        return None
    if len(parts) != 2:
        raise MalformedHeader("Invalid token header: give the token after the scheme, once.")
    return parts[1].decode("latin-1")


def admit(token) -> None:
    """Count one request of ``token`` (a knox AuthToken); RateLimited when its named limit is
    reached in the current minute."""
    named = NamedToken.objects.filter(token=token).values("pk", "requests_per_minute").first()
    if named is None or named["requests_per_minute"] is None:
        return
    limit = named["requests_per_minute"]
    now = timezone.now()
    start = now.replace(second=0, microsecond=0)
    rows = NamedToken.objects.filter(pk=named["pk"])
    # This minute's window with room left: take one.
    if rows.filter(window_start=start, window_count__lt=limit).update(
        window_count=F("window_count") + 1
    ):
        return
    # An older window (or none): start this minute's with this request.
    if limit > 0 and rows.filter(Q(window_start__lt=start) | Q(window_start=None)).update(
        window_start=start, window_count=1
    ):
        return
    wait = max(1, int((start + WINDOW - now).total_seconds() + 0.999))
    raise RateLimited(limit, wait)


class BearerTokenAuthentication(TokenAuthentication):
    """knox's token authentication accepting ``Bearer`` as well as ``Token``, and applying
    the token's rate limit (429 with Retry-After)."""

    def authenticate(self, request):
        try:
            key = token_key(request.META.get("HTTP_AUTHORIZATION"))
        except MalformedHeader as exc:
            raise exceptions.AuthenticationFailed(str(exc)) from None
        if key is None:
            return None
        user, token = self.authenticate_credentials(key.encode())
        try:
            admit(token)
        except RateLimited as exc:
            raise exceptions.Throttled(wait=exc.wait, detail=str(exc)) from None
        return user, token

    def authenticate_header(self, request):
        return "Bearer"


class BearerTokenScheme(OpenApiAuthenticationExtension):
    """The schema's word for BearerTokenAuthentication (registered by being defined)."""

    target_class = BearerTokenAuthentication
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": (
                "An API token (Settings → API tokens): `Authorization: Bearer <token>`; "
                "`Authorization: Token <token>` works too."
            ),
        }
