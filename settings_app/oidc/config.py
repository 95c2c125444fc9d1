"""The OpenID Connect settings, read at each request (so tests may override them), and the
provider's discovery document, fetched at the first sign-in and cached for an hour.

Never at import time: a provider that is down must not stop the studio from starting, only
the sign-ins through it (they end on the "cannot be reached" page).
"""

import logging
import threading
import time
from dataclasses import dataclass

import requests
from django.conf import settings

from imagegen.core.config import https_or_loopback
from settings_app.oidc.errors import SignInFailed

logger = logging.getLogger("imagegen.oidc")

DISCOVERY_CACHE_SECONDS = 3600
# ID token signatures the studio accepts: asymmetric only (never HS*, never "none").
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")


@dataclass(frozen=True)
class OidcSettings:
    """The OIDC_* settings as one value."""

    issuer: str
    discovery_url: str
    client_id: str
    client_secret: str
    scopes: str
    groups_claim: str
    allowed_domains: tuple[str, ...]
    only: bool
    provider_name: str
    timeout: float

    @property
    def enabled(self) -> bool:
        return bool(self.issuer or self.discovery_url)

    @property
    def discovery(self) -> str:
        return self.discovery_url or f"{self.issuer}/.well-known/openid-configuration"


def current() -> OidcSettings:
    """The settings now (override_settings included)."""
    return OidcSettings(
        issuer=(settings.OIDC_ISSUER or "").rstrip("/"),
        discovery_url=settings.OIDC_DISCOVERY_URL or "",
        client_id=settings.OIDC_CLIENT_ID or "",
        client_secret=settings.OIDC_CLIENT_SECRET or "",
        scopes=settings.OIDC_SCOPES or "openid email profile",
        groups_claim=settings.OIDC_GROUPS_CLAIM or "",
        allowed_domains=tuple(d.lower().lstrip("@") for d in settings.OIDC_ALLOWED_DOMAINS),
        only=settings.OIDC_ONLY and bool(settings.OIDC_ISSUER or settings.OIDC_DISCOVERY_URL),
        provider_name=settings.OIDC_PROVIDER_NAME or "single sign-on",
        timeout=settings.OIDC_TIMEOUT,
    )


@dataclass(frozen=True)
class ProviderInfo:
    """What the studio uses from a discovery document."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    userinfo_endpoint: str
    end_session_endpoint: str
    # client_secret_basic unless the provider lists only client_secret_post.
    token_auth_basic: bool


_cache: dict[str, tuple[float, ProviderInfo]] = {}
_lock = threading.Lock()


def provider_info(conf: OidcSettings | None = None) -> ProviderInfo:
    """The provider's endpoints from its discovery document (cached per URL for an hour).
    Raises SignInFailed("unreachable") when it cannot be read and ("misconfigured") when it
    names another issuer or lacks an endpoint."""
    conf = conf or current()
    url = conf.discovery
    if not https_or_loopback(url):  # settings refuse it at start-up; an override may not
        logger.warning("OIDC discovery URL is plain http to another machine: refused")
        raise SignInFailed("misconfigured", "discovery URL is not https")
    now = time.monotonic()
    with _lock:
        cached = _cache.get(url)
    if cached and cached[0] > now:
        return cached[1]
    try:
        response = requests.get(url, timeout=conf.timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        logger.warning("OIDC discovery failed at %s: %s", url, type(exc).__name__)
        raise SignInFailed("unreachable", f"discovery: {type(exc).__name__}") from exc
    info = _parse(document, conf)
    with _lock:
        _cache[url] = (now + DISCOVERY_CACHE_SECONDS, info)
    return info


def cached_provider_info(conf: OidcSettings | None = None) -> ProviderInfo | None:
    """The cached discovery document, or None (never a request)."""
    conf = conf or current()
    with _lock:
        cached = _cache.get(conf.discovery)
    return cached[1] if cached and cached[0] > time.monotonic() else None


def forget_provider_info() -> None:
    """Drop every cached discovery document (tests; a changed provider)."""
    with _lock:
        _cache.clear()


# The discovery document's URLs that must be https (plain http only to a loopback host).
HTTPS_REQUIRED = (
    "issuer",
    "authorization_endpoint",
    "token_endpoint",
    "jwks_uri",
    "userinfo_endpoint",
    "end_session_endpoint",
)


def _parse(document, conf: OidcSettings) -> ProviderInfo:
    if not isinstance(document, dict):
        raise SignInFailed("misconfigured", "discovery document is not an object")
    missing = [
        key
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if not isinstance(document.get(key), str) or not document.get(key)
    ]
    if missing:
        logger.warning("OIDC discovery document lacks %s", ", ".join(missing))
        raise SignInFailed("misconfigured", f"discovery lacks {', '.join(missing)}")
    issuer = document["issuer"]
    if conf.issuer and issuer.rstrip("/") != conf.issuer:
        logger.warning("OIDC discovery names issuer %s, not OIDC_ISSUER %s", issuer, conf.issuer)
        raise SignInFailed("misconfigured", "discovery names another issuer")
    insecure = [
        key
        for key in HTTPS_REQUIRED
        if isinstance(document.get(key), str)
        and document[key]
        and not https_or_loopback(document[key])
    ]
    if insecure:
        # Codes, tokens, the client secret and the keys that check ID tokens must not travel
        # in clear text (or be swapped on the way): https, or a provider on this machine.
        logger.warning("OIDC discovery names plain http endpoints: %s", ", ".join(insecure))
        raise SignInFailed("misconfigured", f"discovery names http for {', '.join(insecure)}")
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return ProviderInfo(
        issuer=issuer,
        authorization_endpoint=document["authorization_endpoint"],
        token_endpoint=document["token_endpoint"],
        jwks_uri=document["jwks_uri"],
        userinfo_endpoint=document.get("userinfo_endpoint") or "",
        end_session_endpoint=document.get("end_session_endpoint") or "",
        token_auth_basic="client_secret_basic" in methods or "client_secret_post" not in methods,
    )
