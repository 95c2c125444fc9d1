"""Headless Debian Chromium driven by Playwright against pytest-django's live server: the
``browser`` (one per test run), ``page``, ``new_page`` and ``axe`` fixtures and the ``shoot``
helper of tests/browser and tests/production.

A plugin registered once by the root conftest, so both folders get the same fixtures without
importing them (two Playwright sync sessions cannot run in one thread).

Every page these fixtures open is watched: a console error, an uncaught exception or a
Content-Security-Policy violation on it fails the test at teardown. A test that provokes one
on purpose says so with ``@pytest.mark.allow_console(r"regex", ...)`` (matched against the
message; keep it narrow, and say why next to it). The violations are collected by an init
script (Playwright runs it before the page's own scripts, whatever the page's CSP) that
reports each ``securitypolicyviolation`` event through a binding, so they survive navigation.

``axe(page)`` runs axe-core (bundled with the axe-playwright-python package, never a CDN) on
the current document and returns its serious and critical violations. ``shoot(page, name)``
saves a full-page screenshot under ``artifacts/screenshots/`` (gitignored; the README names
the folder and CI may keep it).
"""

import os
import re
import time
from pathlib import Path

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


SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
SERIOUS = ("serious", "critical")

# Records each CSP violation of the document through the ``__imagegenReport`` binding.
# An init script runs in every document before its own scripts, and is not subject to the
# page's policy.
_WATCH_CSP = """
document.addEventListener("securitypolicyviolation", (event) => {
  const report = window.__imagegenReport;
  if (report) report("csp", [event.violatedDirective, event.blockedURI, event.sourceFile,
                             event.lineNumber, event.sample].join(" | "));
});
"""


def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "allow_console(*patterns): console errors or CSP violations (regexes) this browser "
        "test provokes on purpose; anything else on its pages fails it",
    )


class PageProblems:
    """What went wrong on the pages of one test: console errors, page errors, CSP reports."""

    def __init__(self, allowed: list[str]):
        self.allowed = [re.compile(pattern) for pattern in allowed]
        self.found: list[str] = []

    def add(self, kind: str, text: str, url: str = "") -> None:
        message = f"{kind}: {text}" + (f" (on {url})" if url else "")
        if not any(pattern.search(message) for pattern in self.allowed):
            self.found.append(message)

    def watch(self, context) -> None:
        context.expose_binding(
            "__imagegenReport", lambda source, kind, text: self.add(kind, text, source["page"].url)
        )
        context.add_init_script(_WATCH_CSP)

    def watch_page(self, page) -> None:
        page.on(
            "console",
            lambda message: (
                message.type == "error" and self.add("console", message.text, _location(message))
            ),
        )
        page.on("pageerror", lambda error: self.add("pageerror", str(error), page.url))

    def take(self) -> list[str]:
        found, self.found = self.found, []
        return found


def _location(message) -> str:
    location = message.location or {}
    return location.get("url", "")


def _open_page(context):
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.wait_for_function = _csp_safe_wait_for_function(page)
    return page


@pytest.fixture
def page_problems(request):
    """The console errors and CSP violations seen so far on this test's pages (and the
    allow-list from its ``allow_console`` marks)."""
    allowed = [p for mark in request.node.iter_markers("allow_console") for p in mark.args]
    return PageProblems(allowed)


@pytest.fixture
def new_page(browser, page_problems):
    """``new_page(width=1280, height=900, color_scheme="light")``: a page in a fresh context
    (its own cookies), watched like ``page``; every context is closed after the test and the
    test fails if any of its pages logged an error or a CSP violation."""
    contexts = []

    def make(width=1280, height=900, color_scheme="light", **options):
        context = browser.new_context(
            viewport={"width": width, "height": height}, color_scheme=color_scheme, **options
        )
        contexts.append(context)
        page_problems.watch(context)
        context.on("page", page_problems.watch_page)
        return _open_page(context)

    yield make
    for context in contexts:
        # Let late reports (a last request's console error) arrive before judging.
        for open_page in context.pages:
            open_page.wait_for_timeout(50)
        context.close()
    # The live server's event streams (static/js/live.js on every signed-in page) notice a
    # closed page only at their next write: end them now, so that no stream and no live
    # watcher outlive the test and its database.
    from imagegen.core import live

    live.broadcaster.end_streams()
    live.broadcaster.stop()
    live.broadcaster.stopping = False  # the process goes on: the next test's server is not stopping
    problems = page_problems.take()
    assert not problems, "console errors or CSP violations on the page:\n" + "\n".join(problems)


@pytest.fixture
def page(new_page):
    return new_page()


def axe_violations(page, impacts=SERIOUS) -> list[dict]:
    """axe-core's violations of ``impacts`` on the current document: id, impact, help and
    the first few offending elements of each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        {
            "id": violation["id"],
            "impact": violation["impact"],
            "help": violation["help"],
            "nodes": [
                {"target": node["target"], "summary": node.get("failureSummary", "")[:300]}
                for node in violation["nodes"][:5]
            ],
        }
        for violation in results.response["violations"]
        if violation["impact"] in impacts
    ]


# What axe-core itself trips while it runs: on some pages (the admin's change list with its
# inputs) it adds a style element of its own, which the page CSP refuses. Not the page's doing.
_AXE_OWN = re.compile(r"inline style violates|style-src-elem \| inline")


@pytest.fixture
def axe(page_problems):
    """``axe(page)``: the serious and critical axe-core violations of the current page. The
    CSP reports of axe's own injected style during the run are dropped (``_AXE_OWN``)."""

    def run(page, impacts=SERIOUS):
        before = len(page_problems.found)
        violations = axe_violations(page, impacts)
        page.wait_for_timeout(50)  # let the run's reports arrive
        during = page_problems.found[before:]
        page_problems.found[before:] = [p for p in during if not _AXE_OWN.search(p)]
        return violations

    return run


def shoot(page, name: str) -> Path:
    """A full-page screenshot at ``artifacts/screenshots/<name>.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def screenshot():
    """``screenshot(page, name)``: ``shoot`` as a fixture, for tests (no imports of plugins)."""
    return shoot


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
