"""Named API tokens: created (plaintext shown once), listed, used, revoked; owner-only."""

import pytest
from knox.models import AuthToken

from settings_app.models import NamedToken
from tests.settings_app.test_api_keys import URL as KEYS_URL

pytestmark = pytest.mark.django_db

URL = "/api/settings/tokens"


def test_a_new_token_is_shown_once_and_works(owner_api, api):
    response = owner_api.post(URL, {"name": "nightly script"}, format="json")
    assert response.status_code == 201
    body = response.json()
    token = body["token"]
    assert body["name"] == "nightly script" and token.startswith(body["prefix"])
    assert body["expires_at"]
    listed = owner_api.get(URL)
    assert token not in listed.content.decode()
    assert [t["name"] for t in listed.json()] == ["nightly script"]
    assert "token" not in listed.json()[0]
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get(KEYS_URL).status_code == 200


def test_revoking_a_token_stops_it_at_once(owner_api, api):
    body = owner_api.post(URL, {"name": "ci"}, format="json").json()
    assert owner_api.delete(f"{URL}/{body['id']}").status_code == 204
    assert not NamedToken.objects.exists() and not AuthToken.objects.exists()
    api.credentials(HTTP_AUTHORIZATION=f"Token {body['token']}")
    assert api.get(KEYS_URL).status_code == 401


def test_a_name_is_required(owner_api):
    for payload in ({}, {"name": "  "}, {"name": "x" * 101}):
        response = owner_api.post(URL, payload, format="json")
        assert response.status_code == 400 and "name" in response.json()
    assert not AuthToken.objects.exists()


def test_outsider_cannot_see_or_revoke_the_owners_tokens(owner_api, outsider_api):
    body = owner_api.post(URL, {"name": "mine"}, format="json").json()
    assert outsider_api.get(URL).json() == []
    assert outsider_api.delete(f"{URL}/{body['id']}").status_code == 404
    assert NamedToken.objects.filter(pk=body["id"]).exists()


def test_listing_tokens_takes_a_fixed_number_of_queries(owner_api, django_assert_max_num_queries):
    for name in ("a", "b", "c", "d"):
        owner_api.post(URL, {"name": name}, format="json")
    with django_assert_max_num_queries(2):
        response = owner_api.get(URL)
    assert len(response.json()) == 4
