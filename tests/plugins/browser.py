"""Headless Debian Chromium driven by Playwright against pytest-django's live server: the
``browser`` (one per test run) and ``page`` fixtures of tests/browser and tests/production.

A plugin registered once by the root conftest, so both folders get the same fixtures without
importing them (two Playwright sync sessions cannot run in one thread).
"""

import os
import time

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail("Debian's chromium is missing: `make test` installs it (apt-get)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the
    # test body are still synchronous and safe.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.wait_for_function = _csp_safe_wait_for_function(page)
    yield page
    context.close()
    # The live server's event streams (static/js/live.js on every signed-in page) notice a
    # closed page only at their next write: end them now, so that no stream and no live
    # watcher outlive the test and its database.
    from imagegen.core import live

    live.broadcaster.end_streams()
    live.broadcaster.stop()


def _csp_safe_wait_for_function(page):
    """``page.wait_for_function`` that also works under the pages' CSP (no 'unsafe-eval').

    Playwright's own version compiles the expression inside the page, which the policy
    forbids; ``page.evaluate`` runs through the DevTools protocol, which it does not. So poll
    that until the expression is truthy, within the same default timeout.
    """
    from playwright.sync_api import Error, TimeoutError

    def wait_for_function(expression, *, arg=None, timeout=None, polling=None):
        deadline = time.monotonic() + (15_000 if timeout is None else timeout) / 1000
        while True:
            try:
                value = page.evaluate(expression, arg)
            except Error as exc:  # a navigation replaced the document: try again
                if "context was destroyed" not in str(exc) and "navigat" not in str(exc):
                    raise
                value = None
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"wait_for_function timed out: {expression}")
            page.wait_for_timeout(50)

    return wait_for_function
