"""API tokens: issued for a password, hashed at rest, expiring, revocable."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from knox.models import AuthToken

from tests.users import PASSWORD

pytestmark = pytest.mark.django_db


def test_token_for_password_authenticates_api_calls(api, owner):
    response = api.post(
        "/api/auth/token", {"username": "owner", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    token, expires_at = response.json()["token"], response.json()["expires_at"]
    assert expires_at
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/generations").status_code == 200
    stored = AuthToken.objects.get(user=owner)
    assert token not in (stored.digest, stored.token_key)  # only a hash is kept
    assert (stored.expiry - timezone.now()) > timedelta(days=29)


def test_wrong_password_is_401_with_a_clear_message(api, owner):
    response = api.post(
        "/api/auth/token", {"username": "owner", "password": "wrong"}, format="json"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Wrong username or password."}
    assert response["WWW-Authenticate"].startswith("Token")
    # an unknown user reads the same (no oracle for usernames)
    unknown = api.post("/api/auth/token", {"username": "nobody", "password": "x"}, format="json")
    assert (unknown.status_code, unknown.json()) == (401, response.json())


def test_inactive_account_is_401(api, owner):
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    response = api.post(
        "/api/auth/token", {"username": "owner", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 401 and "token" not in response.json()


def test_missing_fields_stay_400_with_field_errors(api, owner):
    response = api.post("/api/auth/token", {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"username", "password"}
    response = api.post("/api/auth/token", {"username": "owner"}, format="json")
    assert response.status_code == 400 and set(response.json()) == {"password"}


def test_schema_documents_400_401_and_429(api, owner):
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    answers = schema["paths"]["/api/auth/token"]["post"]["responses"]
    assert {"200", "400", "401", "429"} <= set(answers)
    assert "Wrong username or password" in answers["401"]["description"]


def test_expired_or_revoked_token_is_refused(api, owner):
    instance, token = AuthToken.objects.create(owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/generations").status_code == 200
    AuthToken.objects.filter(pk=instance.pk).update(expiry=timezone.now() - timedelta(seconds=1))
    assert api.get("/api/generations").status_code == 401
    _, token2 = AuthToken.objects.create(owner)
    AuthToken.objects.filter(user=owner).delete()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token2}")
    assert api.get("/api/generations").status_code == 401


def test_create_api_token_command_prints_a_working_token(api, owner, capsys):
    call_command("create_api_token", "owner")
    token = capsys.readouterr().out.strip()
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert api.get("/api/generations").status_code == 200


def test_ensure_admin_creates_the_first_superuser_once(db, settings, capsys):
    from django.contrib.auth import get_user_model

    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = None, None
    call_command("ensure_admin")
    out = capsys.readouterr().out
    admin = get_user_model().objects.get()
    assert admin.username == "admin" and admin.is_superuser
    password = out.split("password: ")[1].split()[0]
    assert admin.check_password(password)
    call_command("ensure_admin")
    assert get_user_model().objects.count() == 1


def test_ensure_admin_uses_the_configured_credentials(db, settings):
    from django.contrib.auth import get_user_model

    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "chief", "s3cret-enough-pass"
    call_command("ensure_admin")
    assert get_user_model().objects.get(username="chief").check_password("s3cret-enough-pass")


def test_password_and_command_tokens_are_listed_and_revocable(api, owner, capsys):
    response = api.post(
        "/api/auth/token",
        {"username": "owner", "password": PASSWORD},
        format="json",
        HTTP_USER_AGENT="curl/8.0 (x)",
    )
    token = response.json()["token"]
    call_command("create_api_token", "owner", "--name", "nightly export")
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    listed = api.get("/api/settings/tokens").json()
    rows = listed["results"] if isinstance(listed, dict) else listed
    names = {row["name"]: row["id"] for row in rows}
    assert set(names) == {"Signed in with a password (curl/8.0)", "nightly export"}
    assert api.delete(f"/api/settings/tokens/{names['nightly export']}").status_code == 204
    assert (
        api.delete(
            f"/api/settings/tokens/{names['Signed in with a password (curl/8.0)']}"
        ).status_code
        == 204
    )
    assert api.get("/api/generations").status_code == 401  # revoked itself
