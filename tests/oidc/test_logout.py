"""Logging out after an OpenID Connect sign-in ends the provider's session too
(RP-initiated logout with the ID token as id_token_hint); otherwise it is the local logout."""

import dataclasses
import re
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from settings_app.oidc import config
from tests.oidc.provider import sign_in

pytestmark = pytest.mark.django_db


def _provider_url(response) -> str:
    match = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', response.content.decode())
    assert match, response.content
    return unescape(match.group(1))


@pytest.mark.slow
def test_logout_sends_the_browser_to_the_providers_end_session(oidc, client):
    sign_in(client, "alice")
    id_token = client.session["oidc_id_token"]
    response = client.post("/logout/")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session  # signed out here first
    url = _provider_url(response)
    assert url.startswith(f"{oidc.issuer}/session/end?")
    query = parse_qs(urlsplit(url).query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://testserver/login/"]
    assert query["client_id"] == ["imagegen"]
    assert f'href="{url}"'.replace("&", "&amp;") in response.content.decode()  # by hand too
    # The provider accepts it (an invalid hint is a 400): it goes on to end its session.
    answer = httpx.get(url, trust_env=False)
    assert answer.status_code == 200
    assert "/session/end/confirm" in answer.text


def test_a_local_account_logs_out_locally(oidc_settings, client, owner):
    oidc_settings.OIDC_ISSUER = "http://127.0.0.1:9"  # never asked: no OIDC sign-in
    client.force_login(owner)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert "_auth_user_id" not in client.session


@pytest.mark.slow
def test_a_provider_without_end_session_logs_out_locally(oidc, client):
    """Google's discovery has no end_session_endpoint."""
    sign_in(client, "alice")
    info = config.provider_info()
    key = config.current().discovery
    expires = config._cache[key][0]
    config._cache[key] = (expires, dataclasses.replace(info, end_session_endpoint=""))
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
