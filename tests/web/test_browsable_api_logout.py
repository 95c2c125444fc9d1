"""The browsable API's log-out works under the CSP: DRF's own link submits a hidden form from
an onclick handler, which the policy blocks; ours is the form's own submit button."""

import re

import pytest

pytestmark = pytest.mark.django_db


def test_the_browsable_api_logs_out_with_a_post_form_and_no_inline_handler(owner_client):
    html = owner_client.get("/api/", HTTP_ACCEPT="text/html").content.decode()
    assert "onclick" not in html and "<style" not in html
    form = re.search(
        r'<form class="navbar-form api-logout" method="post" action="([^"]+)">(.*?)</form>',
        html,
        re.S,
    )
    assert form, "no log-out form"
    assert form.group(1).startswith("/api-auth/logout/")
    assert 'name="csrfmiddlewaretoken"' in form.group(2)
    assert '<button type="submit"' in form.group(2)


def test_the_form_logs_out(owner_client):
    html = owner_client.get("/api/", HTTP_ACCEPT="text/html").content.decode()
    action = re.search(
        r'class="navbar-form api-logout" method="post" action="([^"]+)"', html
    ).group(1)
    response = owner_client.post(action.replace("&amp;", "&"))
    assert response.status_code == 302
    assert "_auth_user_id" not in owner_client.session
    assert owner_client.get("/api/", HTTP_ACCEPT="text/html").status_code in (401, 403)
