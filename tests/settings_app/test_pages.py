"""The Settings page (preferences, keys, team keys, tokens) and the optional sign-up page."""

import pytest
from django.contrib.auth import get_user_model

from settings_app import services
from settings_app.models import ApiKey, NamedToken, Preferences
from tests.settings_app.helpers import GOOD_KEY
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
KEY = "sk-page-key-ABCDEFGH-4321"


def test_settings_page_has_every_section(owner_client, owner, django_assert_max_num_queries):
    services.save_api_key(owner, "openai", KEY)
    # 17: one of them asks which self-hosted GPU providers have backends (issue #17), one
    # whether two-factor sign-in is on (issue #18).
    with django_assert_max_num_queries(17):
        response = owner_client.get("/settings/")
    body = response.content.decode()
    assert response.status_code == 200
    sections = ("preferences", "two-factor", "provider-keys", "team-keys", "api-tokens")
    for section in (f'id="{name}"' for name in sections):
        assert section in body
    assert "••••4321" in body and KEY not in body
    assert 'type="password"' in body and "cdn" not in body.lower()


def test_adding_a_key_with_htmx_answers_the_masked_row(owner_client, owner):
    response = owner_client.post("/settings/keys/openai/", {"openai-api_key": KEY}, **HTMX)
    body = response.content.decode()
    assert response.status_code == 200 and 'id="key-openai"' in body
    assert "••••4321" in body and KEY not in body and "Replace" in body
    assert ApiKey.objects.get(user=owner).secret == KEY


def test_a_bad_key_is_an_error_next_to_the_field(owner_client):
    response = owner_client.post("/settings/keys/fal/", {"fal-api_key": "no-colon"}, **HTMX)
    body = response.content.decode()
    assert 'class="error field-error" data-field="api_key"' in body
    assert "key_id:key_secret" in body and "no-colon" not in body
    plain = owner_client.post("/settings/keys/fal/", {"fal-api_key": "  "})
    assert plain.status_code == 400 and "only whitespace" in plain.content.decode()
    assert not ApiKey.objects.exists()


def test_adding_without_htmx_redirects_back(owner_client, owner):
    response = owner_client.post("/settings/keys/openai/", {"openai-api_key": KEY})
    assert response.status_code == 302 and response["Location"] == "/settings/"


def test_removing_a_key_from_the_page(owner_client, owner):
    services.save_api_key(owner, "openai", KEY)
    body = owner_client.post("/settings/keys/openai/delete/", **HTMX).content.decode()
    assert "No key" in body and not ApiKey.objects.exists()


def test_the_test_button_shows_the_result_in_words(owner_client, owner, keyed):
    services.save_api_key(owner, "keyed", GOOD_KEY)
    body = owner_client.post("/settings/keys/keyed/test/", **HTMX).content.decode()
    assert "The key works: Keyed Test Cloud answered." in body and GOOD_KEY not in body
    assert "Last test: works" in body


def test_unknown_provider_pages_are_404(owner_client):
    assert (
        owner_client.post("/settings/keys/nonsense/", {"nonsense-api_key": KEY}).status_code == 404
    )


def test_team_key_availability_is_shown(owner_client):
    services.save_team_key("openai", "sk-team-1111")
    body = owner_client.get("/settings/").content.decode()
    assert "a team key exists; ask an administrator for access" in body


def test_tokens_are_created_shown_once_and_revoked_from_the_page(owner_client):
    body = owner_client.post(
        "/settings/tokens/", {"name": "backup script"}, **HTMX
    ).content.decode()
    named = NamedToken.objects.get()
    assert "shown only this once" in body and "backup script" in body
    token_text = body.split("<code>")[1].split("</code>")[0]
    assert token_text.startswith(named.token.token_key) and len(token_text) > 20
    assert token_text not in owner_client.get("/settings/").content.decode()
    owner_client.post(f"/settings/tokens/{named.pk}/revoke/", **HTMX)
    assert not NamedToken.objects.exists()


def test_a_token_needs_a_name_shown_next_to_the_field(owner_client):
    body = owner_client.post("/settings/tokens/", {"name": ""}, **HTMX).content.decode()
    assert 'data-field="name"' in body and not NamedToken.objects.exists()


def test_outsider_cannot_revoke_the_owners_token(owner, client, outsider):
    named, _ = services.create_named_token(owner, "mine")
    client.force_login(outsider)
    assert client.post(f"/settings/tokens/{named.pk}/revoke/").status_code == 404
    assert NamedToken.objects.filter(pk=named.pk).exists()


def test_preferences_form_saves_and_shows_errors_next_to_fields(owner_client, owner):
    response = owner_client.post("/settings/", {"items_per_page": 500, "default_steps": 0})
    body = response.content.decode()
    assert response.status_code == 400
    assert 'data-field="items_per_page"' in body and 'data-field="default_steps"' in body
    response = owner_client.post("/settings/", {"items_per_page": 50, "shortcuts_enabled": "False"})
    assert response.status_code == 302
    prefs = Preferences.objects.get(user=owner)
    assert (prefs.items_per_page, prefs.shortcuts_enabled, prefs.theme) == (50, False, "dark")


def test_signup_is_off_by_default(client):
    assert client.get("/signup/").status_code == 404
    assert b"Accounts are created by an administrator" in client.get("/login/").content


def test_signup_when_allowed_creates_an_ordinary_user(client, settings, db):
    settings.ALLOW_SIGNUP = True
    assert b'href="/signup/"' in client.get("/login/").content
    response = client.post(
        "/signup/", {"username": "newcomer", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = get_user_model().objects.get(username="newcomer")
    assert user.is_active and not user.is_staff and not user.is_superuser
    assert client.get("/settings/").status_code == 200


def test_signup_errors_are_shown_next_to_fields(client, settings, db):
    settings.ALLOW_SIGNUP = True
    response = client.post("/signup/", {"username": "x", "password1": "a", "password2": "b"})
    assert response.status_code == 400 and b'data-field="password2"' in response.content
