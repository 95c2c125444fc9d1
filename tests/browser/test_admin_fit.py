"""The admin at 1366 px: the model catalog's change list shows every column without cutting
any (it used to be wider than the screen), and the admin wears the user's theme."""

import pytest

from settings_app.models import Preferences
from tests.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(
    "theme, admin_theme", [("light", "light"), ("dark", "dark"), ("system", "auto")]
)
def test_catalog_changelist_fits_1366_in_the_users_theme(
    new_page, live_server, admin_user, theme, admin_theme
):
    Preferences.objects.update_or_create(user=admin_user, defaults={"theme": theme})
    page = new_page(width=1366, height=900)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")  # /admin/login/ leads to /login/
    page.goto(f"{live_server.url}/admin/generation/catalogmodel/")
    assert page.evaluate("document.documentElement.dataset.theme") == admin_theme
    table, content = page.evaluate(
        "[document.querySelector('#result_list').getBoundingClientRect().right,"
        " document.querySelector('#changelist .results').getBoundingClientRect().right]"
    )
    assert table <= content + 1  # nothing scrolled out of the results box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert page.locator("#result_list thead th").last.inner_text().startswith("PRICE")
