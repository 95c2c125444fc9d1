"""The dashboard's "In progress" card follows the user's generations live: a change in the
database reaches the open page without a reload (static/js/live.js + the card's fragment)."""

import pytest

from generation.models import Generation, Status

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def new_generation(user):
    return Generation.objects.create(
        owner=user, provider="offline", model="offline-shapes", prompt="p", width=64, height=64
    )


def card_shows(page, text):
    card = page.locator("#in-progress .value")
    for _ in range(100):  # up to ~10 s: the watcher polls every 200 ms
        if card.inner_text() == text:
            return True
        page.wait_for_timeout(100)
    return False


def test_in_progress_card_updates_without_a_reload(page, live_server, owner, client):
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    events = []
    page.on("console", lambda message: events.append(message.text))
    page.goto(f"{live_server.url}/dashboard/")
    assert page.locator("#in-progress .value").inner_text() == "0"
    page.evaluate("() => document.addEventListener('imagegen:resync', () => console.log('resync'))")
    page.wait_for_timeout(1000)  # connected, the watcher started

    generation = new_generation(owner)
    assert card_shows(page, "1")
    Generation.objects.filter(pk=generation.pk).update(status=Status.RUNNING)
    assert Generation.objects.get(pk=generation.pk).mark_canceled()
    assert card_shows(page, "0")
    page.goto(f"{live_server.url}/dashboard/")  # no navigation error, no console error
    assert not [text for text in events if "error" in text.lower()], events
