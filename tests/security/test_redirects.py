"""Redirect targets a user supplies must stay on this site (no open redirect)."""

import pytest


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/phish",
        "//evil.example/phish",
        "javascript:alert(1)",
        "/\\evil.example",
    ],
)
def test_theme_toggle_does_not_redirect_off_site(client, owner, target):
    client.force_login(owner)
    response = client.post("/settings/theme/", {"next": target})
    assert response.status_code == 302
    assert response["Location"] == "/generate/"


def test_theme_toggle_returns_to_a_page_of_this_site(client, owner):
    client.force_login(owner)
    response = client.post("/settings/theme/", {"next": "/gallery/?tag=fox"})
    assert response["Location"] == "/gallery/?tag=fox"
