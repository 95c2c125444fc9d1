"""A team lead opens the dashboard and sees the chart and the provider/model table."""

import pytest

from generation.models import Status
from tests.dashboard.helpers import finished

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_open_the_dashboard_and_see_the_chart_and_table(
    page, live_server, admin_user, owner, client, settings
):
    finished(owner, "2025-03-01 10:00", cost="0.10", estimate=False, images=2)
    finished(owner, "2025-03-02 10:00", status=Status.FAILED, error="Rate limited by fal")
    finished(admin_user, "2025-03-02 11:00", provider="scripted", model="scripted-1")
    client.force_login(admin_user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )

    page.goto(f"{live_server.url}/dashboard/?from=2025-03-01&to=2025-03-07&scope=team")

    chart = page.locator("svg.chart")
    chart.wait_for()
    assert chart.locator("g.slot").count() == 7
    assert chart.bounding_box()["width"] > 300
    table = page.locator("#usage-models")
    assert table.is_visible()
    rows = table.locator("tbody tr")
    assert rows.count() == 2
    assert "offline-shapes" in table.inner_text() and "scripted-1" in table.inner_text()
    assert "Rate limited" in page.locator("#failure-reasons").inner_text()
    assert "owner" in page.locator("#usage-users").inner_text()
    page.screenshot(path=str(settings.STORAGE_DIR.parent / "dashboard.png"), full_page=True)
