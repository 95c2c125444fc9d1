"""`python desktop.py` end to end, under Xvfb: the window opens on the studio signed in, an
image is generated with the offline provider through the window's page, nobody else gets
in, a second start defers to the first, and closing the window stops every process and
leaves the image in the data folder.

The page inside the window is driven over Qt WebEngine's devtools port (tests/desktop/cdp.py);
the window is found with xdotool and closed with WM_DELETE_WINDOW, as by its close button."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.desktop import x11
from tests.desktop.cdp import Page
from tests.desktop.helpers import (
    ROOT,
    alive,
    descendants,
    free_port,
    launch_desktop,
    launcher_env,
    run_desktop,
    wait_until,
)

ARTIFACTS = ROOT / "artifacts" / "screenshots"
SYSTEM_PYTHON = getattr(sys, "_base_executable", sys.executable)
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Xvfb is Linux's"),
]


def fetch(url: str, host: str | None = None, data: bytes | None = None):
    """(status, final URL, body) without following redirects to another host."""
    request = urllib.request.Request(url, data=data)
    if host:
        request.add_header("Host", host)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.url, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, url, error.read().decode()


def test_the_desktop_window_from_start_to_close(tmp_path):
    data = tmp_path / "data"
    devtools = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    # Where the window was left last time (desktop.py keeps it in the data folder).
    data.mkdir()
    (data / "window.json").write_text(json.dumps({"width": 1100, "height": 720, "x": 60, "y": 40}))
    with x11.virtual_screen() as display:
        home = tmp_path / "home"  # where the save dialog starts (no Downloads folder)
        home.mkdir()
        env = launcher_env(
            HOME=str(home),
            DISPLAY=display,
            QTWEBENGINE_REMOTE_DEBUGGING=str(devtools),
            # Long enough to see the title count while one runs.
            OFFLINE_PROVIDER_DELAY_MS="2500",
        )
        log = open(tmp_path / "desktop.out", "w+")  # noqa: SIM115 - read at the end
        # The Python the venv was made from, without the app's requirements, as a user types
        # `python desktop.py`: desktop.py reruns itself with .venv's.
        launcher = launch_desktop("--data-dir", str(data), env=env, log=log, python=SYSTEM_PYTHON)
        page = None
        try:
            window = x11.find_window(display, "imagegen")
            assert x11.geometry(display, window) == (60, 40, 1100, 720)
            page = Page(devtools)
            page.wait_for(
                "location.pathname === '/generate/' && document.readyState === 'complete'",
                timeout=120,
            )
            holder = json.loads((data / "desktop.lock").read_text())
            base = holder["url"]
            assert holder["pid"] == launcher.pid
            assert base.startswith("http://127.0.0.1:")

            # Signed in as the one local user, no login screen on the way.
            user = page.evaluate("document.querySelector('.account .muted').textContent")
            assert user.strip()
            assert page.evaluate("!document.querySelector('form[action=\"/logout/\"]')")
            time.sleep(0.5)  # the page's fonts and layout settle
            x11.screenshot(display, ARTIFACTS / "desktop-window-signed-in.png")
            page.screenshot(ARTIFACTS / "desktop-page-signed-in.png")

            # Generate with the offline provider, through the window's page.
            page.evaluate(
                "document.querySelector('#id_prompt').value = 'a lighthouse at dusk';"
                "document.querySelector('#generate-button').click()"
            )
            wait_until(
                lambda: "1 generating" in x11.window_title(display, window),
                30,
                "the title to count the generation",
            )
            page.wait_for(
                "!!document.querySelector('.gen-card[data-status=succeeded] img')", timeout=60
            )
            wait_until(
                lambda: x11.window_title(display, window) == "imagegen",
                10,
                "the title to drop the count",
            )
            x11.screenshot(display, ARTIFACTS / "desktop-window-generated.png")

            # Downloads ask where to save, in a native dialog. The gallery's ZIP export (a
            # download the page makes from a blob) first: its dialog is closed, so nothing
            # is saved. Then an image's download, saved where the test types.
            page.evaluate("location.href = '/gallery/'")
            page.wait_for(
                "location.pathname === '/gallery/' && document.readyState === 'complete'"
                " && !!document.querySelector('.tile[data-id]')"
            )
            page.evaluate("document.querySelector('#select-toggle').click()")
            page.evaluate("document.querySelector('button[data-bulk=all]').click()")
            page.wait_for("document.querySelector('#bulk-count').textContent === '1'")
            page.evaluate("document.querySelector('button[data-bulk=download]').click()")
            dialog = x11.find_window(display, "^Save$", timeout=30)
            x11.screenshot(display, ARTIFACTS / "desktop-save-dialog.png")
            x11.close_window(display, dialog)
            wait_until(
                lambda: not x11.visible_windows(display, "^Save$"), 10, "the dialog to close"
            )
            assert not list(home.glob("**/*.zip"))  # canceled: nothing saved
            page.evaluate("location.href = '/generate/'")
            page.wait_for(
                "location.pathname === '/generate/' && document.readyState === 'complete'"
                " && !!document.querySelector('.gen-card a[data-action=download]')"
            )
            page.evaluate("document.querySelector('.gen-card a[data-action=download]').click()")
            dialog = x11.find_window(display, "^Save$", timeout=30)
            saved = tmp_path / "saved.png"
            x11.type_into(display, dialog, str(saved))
            wait_until(lambda: saved.is_file() and saved.stat().st_size > 0, 20, "the download")
            assert saved.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

            # Nobody else gets in: another client gets the login page; a made-up ticket, a
            # GET, and a Host other than the loopback address the server chose are refused.
            status, url, body = fetch(base + "/gallery/")
            assert status == 200 and urllib.parse.urlsplit(url).path == "/login/"
            assert "desktop mode" in body
            form = urllib.parse.urlencode({"ticket": "made-up"}).encode()
            assert fetch(base + "/desktop/sign-in/", data=form)[0] == 403
            assert fetch(base + "/desktop/sign-in/")[0] == 405
            port = urllib.parse.urlsplit(base).port
            for host in ("evil.example", f"evil.example:{port}", f"localhost:{port}"):
                assert fetch(base + "/login/", host=host)[0] == 400, host
            assert not (data / "sign-in-ticket").exists()  # the window spent it

            # A second start on the same data folder defers to this one.
            second = run_desktop("--data-dir", str(data), env=env)
            assert second.returncode == 0, second.stdout + second.stderr
            assert "already running" in second.stdout
            assert str(launcher.pid) in second.stdout
            wait_until(
                lambda: not (data / "desktop.focus").exists(), 10, "the focus request to be seen"
            )

            # Raising the window (on_top) makes Qt create a new native window: find it again.
            window = x11.find_window(display, "imagegen")

            # One more generation, still running when the window closes.
            page.evaluate(
                "document.querySelector('#id_prompt').value = 'in flight';"
                "document.querySelector('#generate-button').click()"
            )
            wait_until(
                lambda: "1 generating" in x11.window_title(display, window), 30, "the second one"
            )

            # The user moves and resizes the window; the next start opens it there.
            x11.move_and_resize(display, window, 90, 70, 1000, 680)
            wait_until(lambda: x11.geometry(display, window) == (90, 70, 1000, 680), 10, "the move")

            # Closing the window stops everything.
            tree = descendants(launcher.pid)
            assert len(tree) >= 4, tree  # supervisor, gunicorn (2), worker cluster, Qt's
            page.close()
            page = None
            x11.close_window(display, window)
            assert launcher.wait(timeout=90) == 0
            left = wait_until(
                lambda: not [pid for pid in tree if alive(pid)] or None, 15, "the processes"
            )
            assert left
        finally:
            if page is not None:
                page.close()
            if launcher.poll() is None:
                launcher.send_signal(signal.SIGTERM)  # closes the window, stops the server
                try:
                    launcher.wait(timeout=90)
                except subprocess.TimeoutExpired:
                    os.killpg(launcher.pid, signal.SIGKILL)  # the server then stops itself
                    launcher.wait()
            log.seek(0)
            output = log.read()
            log.close()
    assert "stopped." in output, output

    # The data folder holds the image, and nothing is left running: the one in flight was
    # queued again for the next start (unless it finished while the worker stopped).
    with sqlite3.connect(data / "app.db") as db:
        statuses = [
            row[0] for row in db.execute("SELECT status FROM generation_generation ORDER BY id")
        ]
        files = [row[0] for row in db.execute("SELECT file FROM gallery_image ORDER BY id")]
    assert statuses[0] == "succeeded"
    assert statuses[1] in ("queued", "succeeded"), statuses
    if statuses[1] == "queued":
        assert "'requeued': 1" in output
    assert files and all((data / "storage" / name).is_file() for name in files)
    assert not (data / "sign-in-ticket").exists()
    geometry = json.loads((data / "window.json").read_text())
    assert geometry == {"width": 1000, "height": 680, "x": 90, "y": 70}
