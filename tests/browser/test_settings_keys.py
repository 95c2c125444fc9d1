"""A person adds a provider key on the Settings page and sees only its masked form."""

import pytest

from settings_app.models import ApiKey

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEY = "sk-browser-ABCDEFGHIJKLMNOP-9876"


def log_in(page, live_server, client, user):
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_add_a_key_and_see_it_masked(page, live_server, owner, client):
    log_in(page, live_server, client, owner)
    page.goto(f"{live_server.url}/settings/")
    page.evaluate("window.__marker = 'same page'")
    row = page.locator("#key-openai")
    assert row.locator(".key-status").inner_text().strip().startswith("No key")
    row.locator("input[type=password]").fill(KEY)
    row.locator("button[type=submit]", has_text="Add").click()

    page.locator("#key-openai code.masked").wait_for()
    assert page.locator("#key-openai code.masked").inner_text() == "••••9876"
    assert page.evaluate("window.__marker") == "same page"  # htmx swapped only the row
    assert KEY not in page.content()
    assert page.locator("#key-openai input[type=password]").input_value() == ""
    assert ApiKey.objects.get(user=owner).secret == KEY

    page.reload()
    assert page.locator("#key-openai code.masked").inner_text() == "••••9876"
    assert KEY not in page.content()


def test_a_bad_key_shows_the_error_next_to_the_field(page, live_server, owner, client):
    log_in(page, live_server, client, owner)
    page.goto(f"{live_server.url}/settings/")
    row = page.locator("#key-fal")
    row.locator("input[type=password]").fill("missing-the-colon")
    row.locator("button[type=submit]", has_text="Add").click()
    error = page.locator('#key-fal .field-error[data-field="api_key"]')
    error.wait_for()
    assert "key_id:key_secret" in error.inner_text()
    assert not ApiKey.objects.exists()
