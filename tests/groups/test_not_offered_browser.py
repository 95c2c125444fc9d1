"""The Generate page's "Not offered to you" note in a browser: a member of a group that
allows some models only opens it and reads why each missing model is missing; no serious or
critical axe-core violation and no sideways scroll at 1366 and 390 px, in both themes."""

import pytest

from tests.browser.helpers import signed_in_page
from tests.groups.helpers import policy_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("width", VIEWPORTS)
def test_the_note_says_why_a_model_is_not_offered(
    new_page, live_server, client, outsider, axe, screenshot, width, theme
):
    policy_for("Designers", outsider, allowed_models="offline/offline-shapes\nopenai/gpt-image-2")
    page = signed_in_page(new_page, live_server, client, outsider, VIEWPORTS[width], theme)
    page.goto(f"{page.base}/generate/", wait_until="load")
    note = page.locator("#not-offered")
    summary = note.locator("summary")
    assert summary.inner_text().startswith("Not offered to you:")
    assert not note.locator("li").first.is_visible()  # closed until asked
    summary.click()
    refused = note.locator("li", has_text="gpt-image-1.5")  # OpenAI's line
    assert refused.is_visible()
    assert "not allowed for your groups (Designers)" in refused.inner_text()
    assert note.locator("li", has_text="(gpt-image-2)").count() == 0
    options = page.locator("#id_model option").all_inner_texts()
    assert not any("1.5" in option for option in options)
    assert axe(page) == []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= VIEWPORTS[width]["width"], scroll
    screenshot(page, f"groups-not-offered-{width}-{theme}")
