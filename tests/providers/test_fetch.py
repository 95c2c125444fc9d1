"""The safe fetcher: result URLs that are not images, too large, slow, or point inward."""

import socket
import time
from urllib.parse import quote

import httpcore
import pytest

from imagegen.providers.base import ProviderError, RunContext
from imagegen.providers.fetch import PinnedBackend, UnsafeURL, check_url, fetch_image
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

FLUX = "black-forest-labs/flux-schnell"


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x.png",
        "https://localhost/x.png",
        "https://10.1.2.3/x.png",
        "https://192.168.0.10/x.png",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/x.png",
        "https://[::ffff:127.0.0.1]/x.png",
        "https://2130706433/x.png",  # decimal 127.0.0.1
        "https://0177.0.0.1/x.png",  # octal 127.0.0.1
        "https://0x7f.0.0.1/x.png",  # hex
        "https://100.64.0.1/x.png",  # carrier-grade NAT
        "http://93.184.216.34/x.png",  # plain http to a public host
        "ftp://example.com/x.png",
        "file:///etc/passwd",
        "https://user:pw@93.184.216.34/x.png",
    ],
)
def test_unsafe_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_url(url, trusted={"127.0.0.1:9"})


def test_the_configured_provider_host_is_trusted():
    check_url("http://127.0.0.1:9/files/a.png", trusted={"127.0.0.1:9"})
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.1:10/files/a.png", trusted={"127.0.0.1:9"})


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("/files/not-an-image.png", "unusable image: the file is not a PNG, JPEG or WebP"),
        ("/files/huge.png", "over the"),
        ("/files/huge-chunked.png", "over the"),
        ("/files/bomb.png", "pixel"),
        ("/redirect?to=" + quote("http://169.254.169.254/latest/meta-data/"), "insecure"),
        ("/redirect?to=" + quote("https://169.254.169.254/latest/meta-data/"), "private"),
        ("/redirect?to=" + quote("https://10.0.0.8/x.png"), "private"),
        ("/redirect?to=" + quote("https://127.0.0.1:1/x.png"), "private"),
        ("/files/missing.png", "HTTP 404"),
    ],
)
def test_hostile_results_fail_with_reason_and_store_nothing(
    owner_api, run_jobs, fake_replicate, url, words
):
    fake_replicate.set_scenario("result_url", url=url)
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert words in result["error"], result["error"]
    assert stored_image_count(result["id"]) == 0


def test_slow_drip_download_is_cut_off(owner_api, run_jobs, fake_replicate, settings):
    settings.FETCH_TIMEOUT = 2
    fake_replicate.set_scenario("result_url", url="/files/slow.png")
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "failed"
    assert "took longer than 2 s" in result["error"]


def test_redirect_within_the_provider_host_is_followed(owner_api, run_jobs, fake_replicate):
    from tests.fakes.base import make_png

    target = fake_replicate.add_file("ok.png", make_png(64, 64, (1, 2, 3)), "image/png")
    fake_replicate.set_scenario("result_url", url="/redirect?to=" + quote(target))
    result = generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )
    assert result["status"] == "succeeded", result["error"]


# --- DNS rebinding: the connection goes to the address that was checked ----------------------

PUBLIC = "93.184.216.34"
REBINDING_HOST = "rebind.example"


@pytest.fixture
def rebinding(monkeypatch):
    """A resolver that answers a public address for REBINDING_HOST first and 127.0.0.1 after,
    and a socket layer that records where connections go and refuses them all (nothing leaves
    the machine). Other names and loopback ports of the fakes pass through."""
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection
    answers = iter([PUBLIC])
    lookups, connections = [], []

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, bytes):
            host = host.decode()
        if host and host.lower() == REBINDING_HOST:
            address = next(answers, "127.0.0.1")
            lookups.append(address)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    def create_connection(address, *args, **kwargs):
        host, port = address
        if port != 443:  # a loopback fake's own port: a real connection
            return real_create_connection(address, *args, **kwargs)
        resolved = getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][4][0]
        connections.append(resolved)
        raise ConnectionRefusedError(f"test: no connection to {resolved}")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return lookups, connections


def _ctx():
    return RunContext(deadline=time.monotonic() + 30)


def test_fetch_connects_to_the_checked_address_not_a_second_answer(rebinding):
    lookups, connections = rebinding
    with pytest.raises(ProviderError, match="Downloading the image failed"):
        fetch_image(f"https://{REBINDING_HOST}/x.png", _ctx())
    assert lookups[0] == PUBLIC
    assert connections == [PUBLIC]  # never 127.0.0.1, the resolver's second answer


def test_a_redirect_hop_is_checked_and_pinned_the_same_way(rebinding, fake_replicate):
    lookups, connections = rebinding
    url = fake_replicate.base_url + "/redirect?to=" + quote(f"https://{REBINDING_HOST}/x.png")
    with pytest.raises(ProviderError, match="Downloading the image failed"):
        fetch_image(url, _ctx())
    assert fake_replicate.downloads  # the trusted provider host answered the redirect
    assert lookups[0] == PUBLIC and connections == [PUBLIC]


def test_a_host_that_was_not_checked_is_never_connected_to():
    backend = PinnedBackend()
    backend.pin(f"https://{REBINDING_HOST}/x.png", PUBLIC)
    with pytest.raises(httpcore.ConnectError):
        backend.connect_tcp("elsewhere.example", 443)
