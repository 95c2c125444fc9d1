"""Hostile result images and URLs through the whole provider path (Replicate's fake serves
them; the runner downloads, validates and stores): each ends as a failed generation with a
clear reason, nothing stored, memory bounded."""

import os
import tracemalloc
from urllib.parse import quote

import pytest

from gallery.models import Image
from generation.models import Generation
from tests.fakes.base import make_png
from tests.providers.helpers import generate
from tests.reliability.payloads import HOSTILE, png_of_exactly

pytestmark = pytest.mark.django_db

FLUX = "black-forest-labs/flux-schnell"

# Every way of writing an inward address that we know of, as https (the scheme we would
# otherwise allow) and as plain http.
INWARD = [
    "127.0.0.1",
    "127.1",
    "10.0.0.1",
    "10.255.255.254",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",
    "100.64.0.1",
    "0.0.0.0",
    "localhost",
    "[::1]",
    "[::ffff:127.0.0.1]",
    "[::ffff:7f00:1]",
    "[::ffff:169.254.169.254]",
    "[fe80::1]",
    "[fd00::1]",
    "2130706433",  # decimal 127.0.0.1
    "0177.0.0.1",
    "017700000001",  # octal
    "0x7f.0.0.1",
    "0x7f000001",  # hex
    "0xa9fea9fe",  # hex 169.254.169.254
    "2852039166",  # decimal 169.254.169.254
    "167772161",  # decimal 10.0.0.1
]
REFUSALS = ("private or local address", "insecure (http)", "could not be resolved")


def files_under(root) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]


def run(owner_api, run_jobs, fake, url):
    fake.set_scenario("result_url", url=url)
    return generate(
        owner_api, run_jobs, provider="replicate", model=FLUX, prompt="x", width=1024, height=1024
    )


def assert_failed_and_nothing_stored(result, storage, *words):
    assert result["status"] == "failed", result
    assert any(w in result["error"] for w in words), result["error"]
    assert not Image.objects.filter(generation_id=result["id"]).exists()
    assert files_under(storage) == []


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_image_disguised_as_png_fails_with_reason(
    owner_api, run_jobs, hostile, isolated_storage, name
):
    data, words = HOSTILE[name]
    url = hostile.add_file(f"{name}.png", data, "image/png")
    result = run(owner_api, run_jobs, hostile, url)
    assert_failed_and_nothing_stored(result, isolated_storage, words)
    assert "Replicate returned an unusable image" in result["error"]


@pytest.mark.parametrize("host", INWARD)
@pytest.mark.parametrize("scheme", ["https", "http"])
def test_result_url_pointing_inward_is_refused(
    owner_api, run_jobs, hostile, isolated_storage, host, scheme
):
    result = run(owner_api, run_jobs, hostile, f"{scheme}://{host}/latest/meta-data/x.png")
    assert_failed_and_nothing_stored(result, isolated_storage, *REFUSALS)


@pytest.mark.parametrize("host", INWARD)
@pytest.mark.parametrize("status", [302, 308])
def test_redirect_to_an_inward_address_is_refused(
    owner_api, run_jobs, hostile, isolated_storage, host, status
):
    target = quote(f"https://{host}/latest/meta-data/x.png", safe="")
    result = run(owner_api, run_jobs, hostile, f"/redirect?status={status}&to={target}")
    # httpx itself refuses to parse some forms (octal) in a Location header.
    assert_failed_and_nothing_stored(
        result, isolated_storage, *REFUSALS, "Downloading the image failed (RemoteProtocolError)"
    )
    assert len(hostile.downloads) == 1  # the hop inward was never made


@pytest.mark.parametrize("status", [301, 303, 307])
def test_every_redirect_status_is_checked(owner_api, run_jobs, hostile, isolated_storage, status):
    target = quote("https://169.254.169.254/latest/meta-data/", safe="")
    result = run(owner_api, run_jobs, hostile, f"/redirect?status={status}&to={target}")
    assert_failed_and_nothing_stored(result, isolated_storage, "private or local address")


def test_redirect_chain_ending_inward_is_refused(owner_api, run_jobs, hostile, isolated_storage):
    inward = quote("https://[::ffff:127.0.0.1]/x.png", safe="")
    url = "/redirect?to=" + quote(f"/redirect?to={inward}", safe="")
    result = run(owner_api, run_jobs, hostile, url)
    assert_failed_and_nothing_stored(result, isolated_storage, *REFUSALS)


def test_redirect_loop_ends_failed(owner_api, run_jobs, hostile, isolated_storage):
    result = run(owner_api, run_jobs, hostile, "/files/loop.png")
    assert_failed_and_nothing_stored(result, isolated_storage, "redirected too many times")
    assert len(hostile.downloads) == 6  # the first request and five redirects, no more


def test_image_of_exactly_max_image_size_is_accepted(owner_api, run_jobs, hostile, settings):
    settings.MAX_IMAGE_SIZE = 5000
    url = hostile.add_file("exact.png", png_of_exactly(5000), "image/png")
    result = run(owner_api, run_jobs, hostile, url)
    assert result["status"] == "succeeded", result["error"]
    assert Image.objects.get(generation_id=result["id"]).bytes == 5000


def test_image_one_byte_over_max_image_size_fails(
    owner_api, run_jobs, hostile, settings, isolated_storage
):
    settings.MAX_IMAGE_SIZE = 5000
    url = hostile.add_file("over.png", png_of_exactly(5001), "image/png")
    result = run(owner_api, run_jobs, hostile, url)
    assert_failed_and_nothing_stored(result, isolated_storage, "over the 5,000-byte limit")


def test_data_url_over_max_image_size_fails(
    owner_api, run_jobs, hostile, settings, isolated_storage
):
    import base64

    settings.MAX_IMAGE_SIZE = 5000
    data = base64.b64encode(png_of_exactly(5200)).decode()
    result = run(owner_api, run_jobs, hostile, f"data:image/png;base64,{data}")
    assert_failed_and_nothing_stored(result, isolated_storage, "over the 5,000-byte limit")


def test_connection_reset_mid_download_fails_with_reason(
    owner_api, run_jobs, hostile, isolated_storage
):
    result = run(owner_api, run_jobs, hostile, "/files/reset.png")
    assert_failed_and_nothing_stored(result, isolated_storage, "Downloading the image failed")


def test_slow_drip_fails_with_reason(owner_api, run_jobs, hostile, settings, isolated_storage):
    settings.FETCH_TIMEOUT = 2
    result = run(owner_api, run_jobs, hostile, "/files/slow.png")
    assert_failed_and_nothing_stored(result, isolated_storage, "took longer than 2 s")


def test_endless_body_is_cut_at_the_limit_with_memory_bounded(
    owner_api, run_jobs, hostile, settings, isolated_storage
):
    limit = settings.MAX_IMAGE_SIZE = 4 * 1024 * 1024
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        result = run(owner_api, run_jobs, hostile, "/files/endless.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_failed_and_nothing_stored(result, isolated_storage, "over the 4,194,304-byte limit")
    # The body never ends; what we held is bounded by the limit (a bytearray grows by up to
    # an eighth over its size, plus a chunk or two in flight), not by what the server sends.
    assert peak < 2 * limit, f"peak {peak:,} bytes for a {limit:,}-byte limit"


def test_huge_declared_body_is_refused_before_reading(
    owner_api, run_jobs, hostile, settings, isolated_storage
):
    settings.MAX_IMAGE_SIZE = 1024 * 1024
    tracemalloc.start()
    try:
        result = run(owner_api, run_jobs, hostile, "/files/huge.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert_failed_and_nothing_stored(result, isolated_storage, "over the 1,048,576-byte limit")
    assert peak < 1024 * 1024


def test_good_image_after_hostile_ones_still_succeeds(owner_api, run_jobs, hostile):
    for name in ("svg-as-png", "png-then-html"):
        run(owner_api, run_jobs, hostile, hostile.add_file(f"{name}.png", HOSTILE[name][0]))
    url = hostile.add_file("good.png", make_png(64, 64), "image/png")
    result = run(owner_api, run_jobs, hostile, url)
    assert result["status"] == "succeeded", result["error"]
    assert Generation.objects.filter(status="failed").count() == 2
