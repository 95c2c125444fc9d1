"""Hostile results through a real qcluster: the worker process downloads from Replicate's fake
(served by this test process on loopback), refuses each with a reason, stores nothing, keeps
its memory near MAX_IMAGE_SIZE, and is still alive to make a good image afterwards."""

import time
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.fakes.base import make_png
from tests.providers.helpers import KEYS
from tests.reliability.hostile_fake import HostileReplicate
from tests.reliability.payloads import HOSTILE
from tests.reliability.procs import App

pytestmark = [pytest.mark.slow]

LIMIT = 8 * 1024 * 1024
FLUX = {
    "provider": "replicate",
    "model": "black-forest-labs/flux-schnell",
    "width": 1024,
    "height": 1024,
}


def peak_rss_kib(pid: int) -> int:
    """The largest high-water mark of resident memory among the qcluster's processes."""
    peaks = []
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if int(fields.get("NSpgid", fields.get("Tgid", "0")).split()[-1]) != pid:
            continue
        if "VmHWM" in fields:
            peaks.append(int(fields["VmHWM"].split()[0]))
    return max(peaks)


@pytest.fixture
def fake():
    with HostileReplicate() as fake:
        yield fake


def test_real_worker_refuses_hostile_results_and_stays_alive(tmp_path, fake):
    variable, value = KEYS["replicate"]
    app = App(
        tmp_path,
        REPLICATE_BASE_URL=fake.base_url,
        PROVIDER_POLL_INTERVAL="0.05",
        FETCH_TIMEOUT=2,
        MAX_IMAGE_SIZE=LIMIT,
        GENERATION_TIMEOUT=20,
        **{variable: value},
    ).migrate()
    try:
        worker = app.start_worker()

        def run(url):
            fake.set_scenario("result_url", url=url)
            [generation_id] = app.create_generations(1, **FLUX)
            return app.wait_final([generation_id], timeout=40, proc=worker)[generation_id]

        good = fake.add_file("good.png", make_png(64, 64), "image/png")
        assert run(good)["status"] == "succeeded"
        baseline = peak_rss_kib(worker.pid)

        cases = {
            "/files/endless.png": "over the 8,388,608-byte limit",
            "/files/huge-chunked.png": "over the 8,388,608-byte limit",
            "/files/reset.png": "Downloading the image failed",
            "/files/bomb.png": "pixel limit",
            "/files/slow.png": "took longer than 2 s",
            "/files/loop.png": "redirected too many times",
            "/redirect?to=" + quote("https://169.254.169.254/latest/", safe=""): "private",
            "/redirect?to=" + quote("https://[::ffff:127.0.0.1]/x", safe=""): "private",
            "https://2130706433/x.png": "private",
            fake.add_file("poly.png", HOSTILE["png-then-html"][0]): "a polyglot",
            fake.add_file("svg.png", HOSTILE["svg-as-png"][0]): "not a PNG, JPEG or WebP",
            fake.add_file("cut.jpg", HOSTILE["jpeg-truncated-in-data"][0]): "end-of-image",
        }
        started = time.monotonic()
        for url, words in cases.items():
            generation = run(url)
            assert generation["status"] == "failed", (url, generation)
            assert words in generation["error"], (url, generation["error"])
            assert worker.poll() is None, app.logs()[-3000:]
        assert time.monotonic() - started < 60

        growth_kib = peak_rss_kib(worker.pid) - baseline
        # Far more was offered (an endless body) than the worker ever held.
        assert growth_kib * 1024 < 3 * LIMIT, f"worker grew by {growth_kib} KiB"
        assert fake.sent > LIMIT

        assert run(good)["status"] == "succeeded"  # the same worker, still working
        app.assert_consistent()
        # Two rows, one file: the same bytes are stored once.
        assert app.query("SELECT COUNT(*) FROM gallery_image") == [(2,)]
        assert len(app.files("images")) == 1
    finally:
        app.stop_all()
