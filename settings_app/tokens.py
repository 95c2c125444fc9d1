"""API tokens at request time: ``Authorization: Token <key>`` or ``Bearer <key>`` (what OpenAI
clients send), and the per-token rate limit an administrator sets (``requests_per_minute``).

The limit counts in the database, in a fixed one-minute window kept on the token's
NamedToken row, with conditional UPDATEs only: every web process and host counts the same
requests (a per-process cache would let each of them allow the whole limit), and two
requests at once cannot both take the last one. Tokens without a limit cost no write.
"""

from datetime import timedelta

from django.db.models import Case, F, Q, Value, When
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
        self.wait = wait  # 0: never (the token is held to no requests at all)
        if limit == 0:
            message = (
                "This API token is held to 0 requests per minute: an administrator has "
                "paused it (Admin → API tokens)."
            )
        else:
            message = (
                f"Rate limit reached for this API token: {limit} requests per minute. "
                f"Try again in {wait} s."
            )
        super().__init__(message)


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
    reached in the current minute.

    One conditional UPDATE: it counts the request in this minute's window, or starts a new
    window with it when the row's is older, and touches no row when the window is full. The
    database applies it to the row atomically, so two requests at a minute's turn cannot both
    miss (a read-then-write would), and a window stamped by a host whose clock is ahead
    counts as the current one."""
    named = NamedToken.objects.filter(token=token).values("pk", "requests_per_minute").first()
    if named is None or named["requests_per_minute"] is None:
        return
    limit = named["requests_per_minute"]
    if limit == 0:
        raise RateLimited(0, 0)
    now = timezone.now()
    start = now.replace(second=0, microsecond=0)
    # This minute's window, or one a host whose clock runs a little ahead started; a window
    # stamped further ahead (a clock that was wrong) is stale, not a lock-out until then.
    current = Q(window_start__gte=start, window_start__lt=start + 2 * WINDOW)
    room = ~current | Q(window_start=None) | current & Q(window_count__lt=limit)
    counted = NamedToken.objects.filter(room, pk=named["pk"]).update(
        window_count=Case(When(current, then=F("window_count") + 1), default=Value(1)),
        window_start=Case(When(current, then=F("window_start")), default=Value(start)),
    )
    if not counted:
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
            raise exceptions.Throttled(wait=exc.wait or None, detail=str(exc)) from None
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
