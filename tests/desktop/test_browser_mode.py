"""`python desktop.py --browser`: no window toolkit, the default browser instead. The browser
is given a page in the data folder that posts the one-time ticket; it signs in once, the page
is deleted once the ticket is spent, and SIGTERM stops everything;
a generation still running at close runs at the next start.

The "default browser" is a command in $BROWSER that keeps a copy of the page it is given;
Playwright's Chromium then opens the copy, as the user's browser would open the original."""

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from contextlib import contextmanager

import pytest

from tests.desktop.helpers import alive, descendants, launch_desktop, launcher_env, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@contextmanager
def launched(tmp_path, data, **extra_env):
    """desktop.py --browser on ``data``: yields (copy of the page the browser was given, the
    launcher's process); SIGTERM on leaving, its output in ``launcher.output`` after."""
    opened = tmp_path / f"opened-{time.monotonic_ns()}.html"
    browser = tmp_path / "browser"  # $BROWSER is split at colons: a script, not a command
    browser.write_text('#!/bin/sh\ncp "${1#file://}" "$OPENED"\n')
    browser.chmod(0o755)
    env = launcher_env(BROWSER=str(browser), OPENED=str(opened), **extra_env)
    log = open(tmp_path / "desktop.out", "w+")  # noqa: SIM115 - read at the end
    launcher = launch_desktop("--browser", "--data-dir", str(data), env=env, log=log)
    try:
        wait_until(opened.exists, 120, "the browser to be given the sign-in page")
        yield opened, launcher
    finally:
        if launcher.poll() is None:
            launcher.send_signal(signal.SIGTERM)
            try:
                launcher.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(launcher.pid, signal.SIGKILL)
                launcher.wait()
        log.seek(0)
        launcher.output = log.read()
        log.close()


@pytest.fixture
def browser_mode(tmp_path):
    """desktop.py --browser on a fresh data folder: (data folder, copy of the page the
    browser was given, the launcher's process)."""
    data = tmp_path / "data"
    with launched(tmp_path, data) as (opened, launcher):
        yield data, opened, launcher


@pytest.mark.allow_console(r"status of 403 .*/desktop/sign-in/")  # the spent ticket, on purpose
def test_the_browser_signs_in_once_and_sigterm_stops_everything(
    browser_mode, new_page, axe, screenshot
):
    data, opened, launcher = browser_mode
    base = json.loads((data / "desktop.lock").read_text())["url"]
    ticket = re.search(r'name="ticket" value="([^"]+)"', opened.read_text()).group(1)
    assert len(ticket) >= 43
    assert opened.read_text().count(ticket) == 1  # in the form's body, in no URL
    assert (data / "sign-in.html").stat().st_mode & 0o777 == 0o600

    page = new_page()
    page.goto(opened.as_uri())
    page.wait_for_url(f"{base}/generate/")
    assert page.locator(".account .muted").inner_text().strip()
    assert page.locator("form[action='/logout/']").count() == 0
    wait_until(lambda: not (data / "sign-in.html").exists(), 10, "the page to be deleted")

    # The same page again, in another browser: the ticket is spent. (Signed-out pages have
    # one theme, the default; the user's choice applies once signed in.)
    other = new_page(width=1366)
    other.goto(opened.as_uri())
    other.wait_for_load_state()
    assert other.url == f"{base}/desktop/sign-in/"
    assert other.get_by_role("heading", name="This sign-in link cannot be used").is_visible()
    assert axe(other) == []
    screenshot(other, "desktop-ticket-refused")
    other.goto(f"{base}/login/")
    assert other.get_by_role("note").inner_text().startswith("This studio runs in desktop")
    assert axe(other) == []
    screenshot(other, "desktop-login")
    phone = new_page(width=390, height=844)
    phone.goto(opened.as_uri())
    phone.wait_for_load_state()
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(phone) == []
    screenshot(phone, "desktop-ticket-refused-phone")
    phone.goto(f"{base}/login/")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    assert axe(phone) == []
    screenshot(phone, "desktop-login-phone")

    for context in page.context.browser.contexts:
        for open_page in context.pages:  # their live streams would see the server go
            open_page.close()
    launcher.send_signal(signal.SIGTERM)
    assert launcher.wait(timeout=90) == 0
    assert not (data / "desktop.lock").read_text()  # released, and says so
    # The ticket is in no log: not the server's (the access log shows a bare POST), not ours.
    server_log = (data / "logs" / "desktop.log").read_text()
    assert "POST /desktop/sign-in/ HTTP/1.1" in server_log
    assert ticket not in server_log
    assert ticket not in (data / ".env").read_text()


def test_a_killed_launcher_leaves_nothing_running(browser_mode):
    """SIGKILL gives desktop.py no chance to clean up: the server notices and stops itself."""
    data, _, launcher = browser_mode
    tree = descendants(launcher.pid)
    assert len(tree) >= 3, tree  # the supervisor, gunicorn, the worker cluster
    launcher.kill()
    launcher.wait()
    wait_until(lambda: not [pid for pid in tree if alive(pid)], 60, "the server to stop")
    lock = json.loads((data / "desktop.lock").read_text())  # left as it was: the OS freed it
    assert lock["pid"] == launcher.pid


def generation_statuses(data) -> list[str]:
    with sqlite3.connect(data / "app.db") as db:
        return [row[0] for row in db.execute("SELECT status FROM generation_generation")]


def test_a_generation_in_flight_at_close_is_queued_again_and_runs_at_the_next_start(
    tmp_path, new_page
):
    data = tmp_path / "data"
    slow = {"OFFLINE_PROVIDER_DELAY_MS": "60000", "DESKTOP_STOP_SECONDS": "2"}
    with launched(tmp_path, data, **slow) as (opened, launcher):
        base = json.loads((data / "desktop.lock").read_text())["url"]
        page = new_page()
        page.goto(opened.as_uri())
        page.wait_for_url(f"{base}/generate/")
        page.fill("#id_prompt", "still running at close")
        page.click("#generate-button")
        page.wait_for_selector(".gen-card[data-status=running]")
        page.context.close()
        tree = descendants(launcher.pid)
        started = time.monotonic()
        launcher.send_signal(signal.SIGTERM)
        assert launcher.wait(timeout=60) == 0
    # Closing waited DESKTOP_STOP_SECONDS (2), not the minute the generation wanted.
    assert time.monotonic() - started < 30
    assert not [pid for pid in tree if alive(pid)]
    assert "did not stop within 2 s" in launcher.output
    assert "'requeued': 1" in launcher.output
    assert generation_statuses(data) == ["queued"]

    with launched(tmp_path, data, OFFLINE_PROVIDER_DELAY_MS="0"):
        wait_until(lambda: generation_statuses(data) == ["succeeded"], 60, "the generation")
