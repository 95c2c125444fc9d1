"""The Playwright fixtures (``browser``, ``page``) of tests/browser, for the CSP browser test."""

from tests.browser.conftest import browser, page  # noqa: F401
