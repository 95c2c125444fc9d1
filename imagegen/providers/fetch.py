"""The one safe way to download a provider's result URL (SSRF-resistant).

Rules: ``data:`` URLs are decoded; otherwise https only, except plain http to a configured
provider base URL's own host:port; every address the host resolves to must be public (no
loopback, private, link-local, multicast, reserved, or IPv4-mapped forms of those), unless the
host:port is a configured base URL's; the connection goes to the very address that was checked
(``PinnedBackend``: no second lookup, so a DNS answer that changes between the check and the
connection cannot point it inward), with the original Host header and, for https, the host's
name for SNI and certificate verification; redirects are followed by hand, each hop re-checked
and pinned the same way, at most 5; the body is capped at MAX_IMAGE_SIZE and the whole
download at FETCH_TIMEOUT (and the generation's deadline), so a slow drip cannot hold a worker.
"""

import base64
import binascii
import ipaddress
import socket
import time
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings

from imagegen.providers.base import GenerationTimedOut, ProviderError, RunContext

MAX_REDIRECTS = 5


class UnsafeURL(ProviderError):
    """The URL points somewhere we refuse to fetch from."""


def trusted_netlocs() -> set[str]:
    """host:port of every configured provider base URL (the only hosts allowed plain http and
    private addresses, so a gateway on the local network or a test fake works)."""
    netlocs = set()
    for name in (
        "OPENAI_BASE_URL",
        "OPENROUTER_BASE_URL",
        "REPLICATE_BASE_URL",
        "FAL_QUEUE_BASE_URL",
        "FAL_API_BASE_URL",
    ):
        parts = urlsplit(getattr(settings, name, "") or "")
        if parts.hostname:
            netlocs.add(netloc_of(parts))
    return netlocs


def netloc_of(parts) -> str:
    """``host:port`` of split URL parts (the default port filled in), lower case."""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return f"{(parts.hostname or '').lower()}:{port}"


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not (ip.is_multicast or ip.is_reserved)


def check_url(url: str, trusted: set[str]) -> str | None:
    """Raise UnsafeURL unless the URL may be fetched under the rules above; return the
    checked address to connect to (None for a configured provider host: its own resolution)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeURL("The provider returned a malformed image link.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeURL("The provider returned an image link that is not http(s).")
    if parts.username or parts.password:
        raise UnsafeURL("The provider returned an image link with credentials in it.")
    netloc = netloc_of(parts)
    if netloc in trusted:
        return None
    if parts.scheme != "https":
        raise UnsafeURL("The provider returned an insecure (http) image link; refused.")
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"The image host {parts.hostname!r} could not be resolved.") from None
    addresses = [info[4][0] for info in infos]
    if not addresses or not all(_is_public(a) for a in addresses):
        raise UnsafeURL("The provider's image link points to a private or local address; refused.")
    return addresses[0].split("%", 1)[0]


class PinnedBackend(httpcore.NetworkBackend):
    """httpcore's network backend that connects a (host, port) to the address checked for it,
    never resolving the name again. httpcore still sends the URL's host in the Host header and
    uses it as the TLS server name, so the certificate is verified for the name, not the IP."""

    def __init__(self):
        self.pins: dict[tuple[str, int], str | None] = {}
        self._backend = httpcore.SyncBackend()

    def pin(self, url: str, address: str | None) -> None:
        """Connect ``url``'s host:port to ``address`` (None: a configured provider host,
        resolved as usual). A host:port never pinned is never connected to."""
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        self.pins[((parts.hostname or "").lower(), port)] = address

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        key = (host.lower(), port)
        if key not in self.pins:
            raise httpcore.ConnectError(f"{host}:{port} was not checked before connecting")
        address = self.pins[key] or host
        return self._backend.connect_tcp(address, port, timeout, local_address, socket_options)

    def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never used here
        raise httpcore.ConnectError("unix sockets are not fetched from")

    def sleep(self, seconds: float) -> None:
        self._backend.sleep(seconds)


def _pinned_client(backend: PinnedBackend) -> httpx.Client:
    """An httpx client whose every connection goes through ``backend`` (no proxies)."""
    transport = httpx.HTTPTransport(trust_env=False)
    # httpx takes no network backend, so its pool is replaced by the same one built over
    # ours (httpx's transport only maps the pool's requests and errors).
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(trust_env=False),
        network_backend=backend,
    )
    return httpx.Client(follow_redirects=False, trust_env=False, transport=transport)


def decode_data_url(url: str) -> bytes:
    """Bytes of a ``data:[type];base64,...`` URL, size-checked."""
    header, _, payload = url.partition(",")
    if not header.endswith(";base64"):
        raise ProviderError("The provider returned an image in an unsupported encoding.")
    if len(payload) * 3 // 4 > settings.MAX_IMAGE_SIZE:
        raise ProviderError(f"The image is over the {settings.MAX_IMAGE_SIZE:,}-byte limit.")
    return decode_base64(payload)


def decode_base64(payload: str) -> bytes:
    try:
        return base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ProviderError("The provider returned image data that is not valid base64.") from None


def fetch_image(
    url: str,
    ctx: RunContext,
    *,
    headers: dict | None = None,
    trusted_extra: set[str] | None = None,
) -> bytes:
    """Download one result image under the rules in the module docstring. ``trusted_extra``:
    host:port pairs trusted like a configured base URL (a self-hosted backend's own host,
    which serves its results over plain http on the private network)."""
    if url.startswith("data:"):
        return decode_data_url(url)
    trusted = trusted_netlocs() | {n.lower() for n in (trusted_extra or set())}
    limit = settings.MAX_IMAGE_SIZE
    deadline = min(ctx.deadline, time.monotonic() + settings.FETCH_TIMEOUT)
    backend = PinnedBackend()
    with _pinned_client(backend) as client:
        for _ in range(MAX_REDIRECTS + 1):
            backend.pin(url, check_url(url, trusted))
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise _timed_out(ctx)
            timeout = httpx.Timeout(min(remaining, 30.0))
            try:
                with client.stream("GET", url, headers=headers or {}, timeout=timeout) as resp:
                    if resp.is_redirect:
                        location = resp.headers.get("location", "")
                        url = urljoin(url, location)
                        headers = None  # never forward credentials to another hop
                        continue
                    if resp.status_code != 200:
                        raise ProviderError(
                            f"Downloading the image failed (HTTP {resp.status_code})."
                        )
                    declared = resp.headers.get("content-length")
                    if declared and declared.isdigit() and int(declared) > limit:
                        raise ProviderError(f"The image is over the {limit:,}-byte limit.")
                    body = bytearray()
                    for chunk in resp.iter_bytes():  # as it arrives, never buffered
                        body.extend(chunk)
                        if len(body) > limit:
                            raise ProviderError(f"The image is over the {limit:,}-byte limit.")
                        if time.monotonic() > deadline:
                            raise _timed_out(ctx)
                        ctx.check()
                    return bytes(body)
            except httpx.TimeoutException:
                raise _timed_out(ctx) from None
            except httpx.HTTPError as exc:
                reason = type(exc).__name__
                raise ProviderError(f"Downloading the image failed ({reason}).") from None
    raise UnsafeURL("The image link redirected too many times.")


def _timed_out(ctx: RunContext) -> Exception:
    if ctx.remaining() <= 0:
        return GenerationTimedOut()
    return ProviderError(f"Downloading the image took longer than {settings.FETCH_TIMEOUT} s.")
