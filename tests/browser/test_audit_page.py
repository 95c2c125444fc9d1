"""The audit trail page (/audit/) for staff at 1366 and 390 px, in both themes: no serious or
critical axe-core violation, the page never scrolls sideways (the wide table scrolls in its
own labelled region), the filters work from the form, and a screenshot of each."""

import pytest

from imagegen.core import audit
from tests.browser.helpers import signed_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"1366": {"width": 1366, "height": 900}, "390": {"width": 390, "height": 844}}


@pytest.fixture
def trail(admin_user, owner):
    """A few entries with long values, as a busy team's trail has."""
    audit.record("key.added", actor=owner, obj=owner, details={"provider": "openai"})
    audit.record(
        "budget.changed",
        actor=admin_user,
        obj=owner,
        changes={"monthly_budget_usd": [None, "250.00"], "daily_image_limit": [10, 40]},
        request=None,
    )
    audit.record(
        "export.zip",
        actor=owner,
        object_type="gallery.image",
        object_label="120 images",
        details={"count": 120, "ids": list(range(1, 121))},
    )
    audit.record("auth.sign_in_failed", actor_label="someone-with-a-long-name-indeed")


@pytest.mark.parametrize("theme", ["light", "dark"])
@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_audit_page_is_accessible_and_fits(
    new_page, live_server, client, admin_user, trail, axe, screenshot, size, theme
):
    page = signed_in_page(new_page, live_server, client, admin_user, VIEWPORTS[size], theme)
    page.goto(page.base + "/audit/")
    page.locator("#audit-entries").wait_for()
    assert page.locator("#audit-entries tbody tr").count() >= 4
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    assert axe(page) == []
    screenshot(page, f"audit-{size}-{theme}")

    page.select_option("#id_action", "export.zip")
    page.click("form.range-picker button[type=submit]")
    page.wait_for_url("**/audit/?*action=export.zip*")
    assert page.locator("#audit-entries tbody tr").count() == 1
    assert axe(page) == []
