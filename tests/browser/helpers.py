"""Browser test helpers (plain functions, no fixtures): a page signed in with a test client's
session, and polling the page for a condition."""

import time

from settings_app.models import Preferences


def signed_in(page, client, live_server):
    """``page`` with the session of ``client`` (signed in already) and ``page.base`` set to the
    live server's URL."""
    page.context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": client.cookies["sessionid"].value,
                "url": live_server.url,
            }
        ]
    )
    page.base = live_server.url
    return page


def signed_in_page(new_page, live_server, client, user, viewport, theme, **options):
    """A new page (the browser plugin's ``new_page``; ``options`` go to it) at ``viewport``,
    signed in as ``user`` with ``theme`` saved; a phone-wide viewport is a touch screen (no
    hover)."""
    Preferences.objects.update_or_create(user=user, defaults={"theme": theme})
    client.force_login(user)
    phone = viewport["width"] < 600
    page = new_page(
        viewport["width"], viewport["height"], has_touch=phone, is_mobile=phone, **options
    )
    return signed_in(page, client, live_server)


def wait_until(page, expression, timeout=15.0):
    """Poll ``expression`` through page.evaluate (Playwright's wait_for_function compiles it
    in the page, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out: {expression}"
        page.wait_for_timeout(50)
