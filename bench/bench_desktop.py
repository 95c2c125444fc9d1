"""Figure 13: desktop mode (issue #19): how long `python desktop.py` takes to show the studio
signed in, to close, and what it holds in memory.

    .venv/bin/python bench/bench_desktop.py [--quick]

Runs desktop.py under Xvfb (Debian's xvfb; `make desktop-deps` installs it) on a throwaway
data folder, and watches the page inside the window over Qt WebEngine's devtools port, as
tests/desktop/test_window.py does. A start is timed from launching desktop.py to the load
event of the signed-in Generate page inside the window (the page's own clock, so no polling
delay); a close from the window's close request (WM_DELETE_WINDOW) to desktop.py's exit.

Reference, same run and data folder: `manage.py serve` alone with desktop mode's settings
(one web worker, one job worker), from launch to its first answer: the part of a start that
is the server's. Also: the memory (PSS, shared pages counted once) of desktop.py's whole
process tree idle on the Generate page, beside that of `serve` alone.

Targets: a later start within 5 s; a close within 10 s. The first start (it migrates a new
database and collects the static files) is recorded. ``--quick``: one later start, not three.
"""

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, Row, base_parser, emit, free_port, memory_mb, met, process_tree, ratio

from tests.desktop import x11
from tests.desktop.cdp import Page
from tests.desktop.helpers import launcher_env

LATER_START_TARGET_S = 5
CLOSE_TARGET_S = 10
LOADED = "location.pathname === '/generate/' && document.readyState === 'complete'"


def start(data: Path, display: str) -> tuple[subprocess.Popen, float, int, Page]:
    """Launch desktop.py; return it, the seconds until the signed-in page, its window, the page."""
    devtools = free_port()
    env = launcher_env(DISPLAY=display, QTWEBENGINE_REMOTE_DEBUGGING=str(devtools))
    started = time.time()
    proc = subprocess.Popen(
        [sys.executable, "desktop.py", "--data-dir", str(data)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    page = Page(devtools)
    page.wait_for(LOADED, timeout=180)
    # The end is the page's own load event (epoch ms), not when this loop saw it.
    loaded_ms = page.evaluate(
        "performance.timeOrigin + performance.getEntriesByType('navigation')[0].loadEventEnd"
    )
    elapsed = loaded_ms / 1000 - started
    return proc, elapsed, x11.find_window(display, "imagegen"), page


def close(proc: subprocess.Popen, window: int, page: Page, display: str) -> float:
    page.close()
    started = time.monotonic()
    x11.close_window(display, window)
    proc.wait(timeout=120)
    return time.monotonic() - started


def serve_alone(data: Path) -> tuple[float, float]:
    """`manage.py serve` with desktop mode's settings on ``data``: (seconds to the first
    answer, PSS MB of its tree once up)."""
    import urllib.request

    port = free_port()
    env = launcher_env(
        ENV_FILE=str(data / ".env"),
        DJANGO_SETTINGS_MODULE="imagegen.settings",
        DATABASE_URL=f"sqlite:///{data / 'app.db'}",
        STORAGE_DIR=str(data / "storage"),
        STATIC_ROOT=str(data / "static"),
        ALLOWED_HOSTS="127.0.0.1",
        Q_WORKERS="1",
    )
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port), "--web-workers", "1"]
        + ["--web-threads", "4"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/login/", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() - started > 120:
                    raise RuntimeError("serve did not start") from None
                time.sleep(0.05)
        elapsed = time.monotonic() - started
        time.sleep(2)  # idle, as the desktop's tree is measured
        return elapsed, memory_mb(process_tree(proc.pid))[1]
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def main() -> None:
    args = base_parser(__doc__).parse_args()
    title = "Figure 13: desktop mode, start and close" + (" (QUICK)" if args.quick else "")
    if not shutil.which("Xvfb") or not shutil.which("xdotool"):
        emit(title, [Row("13", "desktop start", "skipped: no Xvfb/xdotool")], args.json)
        return
    folder = Path(tempfile.mkdtemp(prefix="bench-desktop-"))
    data = folder / "data"
    later, closes = [], []
    try:
        with x11.virtual_screen() as display:
            proc, first, window, page = start(data, display)
            closes.append(close(proc, window, page, display))
            for _ in range(1 if args.quick else 3):
                proc, seconds, window, page = start(data, display)
                later.append(seconds)
                time.sleep(2)  # idle on the Generate page
                tree = process_tree(proc.pid)
                desktop_pss = memory_mb(tree)[1]
                closes.append(close(proc, window, page, display))
        reference = [serve_alone(data) for _ in range(1 if args.quick else 3)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    serve_s = statistics.median(r[0] for r in reference)
    serve_pss = statistics.median(r[1] for r in reference)
    later_s = statistics.median(later)
    close_s = max(closes)
    rows = [
        Row("13", "first start (new data folder) to signed-in page", f"{first:.1f} s",
            f"serve alone {serve_s:.1f} s", ratio(first, serve_s), "recorded", "—"),
        Row("13", f"later start to signed-in page (median of {len(later)})", f"{later_s:.1f} s",
            f"serve alone {serve_s:.1f} s", ratio(later_s, serve_s),
            f"≤ {LATER_START_TARGET_S} s", met(later_s <= LATER_START_TARGET_S)),
        Row("13", f"close to every process gone (slowest of {len(closes)})", f"{close_s:.1f} s",
            "", "", f"≤ {CLOSE_TARGET_S} s", met(close_s <= CLOSE_TARGET_S)),
        Row("13", "memory of the whole tree, idle (PSS)", f"{desktop_pss:.0f} MB",
            f"serve alone {serve_pss:.0f} MB", ratio(desktop_pss, serve_pss), "recorded", "—",
            "includes Qt WebEngine's processes"),
    ]  # fmt: skip
    emit(title, rows, args.json)


if __name__ == "__main__":
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    main()
