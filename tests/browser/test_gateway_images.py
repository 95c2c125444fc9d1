"""An image made by an OpenAI client through /v1 shows in the studio as such: the gallery tile
says "API", the lightbox's details name the client (and, for its owner, the client's user
field), and Settings gives the /v1 base URL to paste into a client. At 1366 px and 390 px,
light and dark, with no serious or critical axe violation."""

import openai
import pytest

from gallery.models import Image
from imagegen.core import live
from settings_app.services import create_named_token
from tests.browser.helpers import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 768}


@pytest.fixture
def api_image(live_server, owner, background_jobs):
    token = create_named_token(owner, "open webui")[1]
    client = openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=token, max_retries=0)
    client.images.generate(
        model="offline-shapes", prompt="a lighthouse at dusk", size="512x384", user="alice"
    )
    yield Image.objects.get(owner=owner)
    live.broadcaster.stop()


@pytest.mark.parametrize(
    "viewport,theme", [(LAPTOP, "light"), (LAPTOP, "dark"), (PHONE, "light"), (PHONE, "dark")]
)
def test_an_api_image_is_marked_and_its_client_named(
    new_page, live_server, client, owner, api_image, axe, screenshot, viewport, theme
):
    page = signed_in_page(new_page, live_server, client, owner, viewport, theme)
    size = f"{viewport['width']}-{theme}"

    page.goto(page.base + "/gallery/")
    tile = page.locator(f'.tile[data-id="{api_image.pk}"]')
    assert tile.locator(".tile-origin").inner_text() == "API"
    assert "(from an API client)" in tile.locator(".tile-open").get_attribute("aria-label")
    assert axe(page) == []
    screenshot(page, f"gateway-gallery-{size}")

    tile.locator(".tile-open").click()
    details = page.locator(f'#lightbox-details .details[data-id="{api_image.pk}"]')
    details.wait_for()
    origin = details.locator(".details-origin")
    assert "API client" in origin.inner_text()
    assert "OpenAI/Python" in origin.inner_text() and "alice" in origin.inner_text()
    assert axe(page) == []
    screenshot(page, f"gateway-details-{size}")
    page.keyboard.press("Escape")

    page.goto(page.base + "/settings/#api-tokens")
    url = page.locator("#api-tokens .gateway-url")
    assert url.inner_text() == f"{live_server.url}/v1"
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    # The token's dates and its Revoke button never break inside a word.
    for selector in ("#tokens td.when", "#tokens button.link"):
        for i in range(page.locator(selector).count()):
            lines = (
                page.locator(selector)
                .nth(i)
                .evaluate(
                    """(el) => { const r = document.createRange(); r.selectNodeContents(el);
                   return new Set([...r.getClientRects()].filter(b => b.width > 0)
                                  .map(b => Math.round(b.top))).size; }"""
                )
            )
            assert lines == 1, (selector, i, lines)
    assert axe(page) == []
    url.scroll_into_view_if_needed()
    screenshot(page, f"gateway-settings-{size}")
