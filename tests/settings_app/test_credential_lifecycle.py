"""A password change, an admin reset, deactivation and deletion end the user's sessions and
API tokens (knox tokens and their names), wherever the change is made."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.models import Session
from knox.models import AuthToken

from settings_app.models import NamedToken
from settings_app.services import create_named_token
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db

KEYS_URL = "/api/settings/api-keys"
NEW_PASSWORD = "a brand new passphrase 9731"


def token_for(user, name="script"):
    return create_named_token(user, name)[1]


def answers(api, token):
    api.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return api.get(KEYS_URL).status_code


def sessions_of(user):
    return [
        s for s in Session.objects.all() if s.get_decoded().get("_auth_user_id") == str(user.pk)
    ]


def signed_in(client_class, user):
    other = client_class()
    assert (
        other.post("/login/", {"username": user.username, "password": PASSWORD}).status_code == 302
    )
    return other


def test_changing_the_password_on_the_account_page_revokes_tokens_and_other_sessions(
    client, api, owner, outsider
):
    token = token_for(owner)
    kept = token_for(outsider)
    elsewhere = signed_in(type(client), owner)
    client.force_login(owner)
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert answers(api, token) == 401
    assert not AuthToken.objects.filter(user=owner).exists()
    assert not NamedToken.objects.filter(token__user=owner).exists()
    assert answers(api, kept) == 200  # another user's token stays
    # The session that changed the password stays signed in; the other one is gone.
    assert client.get("/settings/").status_code == 200
    assert elsewhere.get("/settings/").status_code == 302
    assert len(sessions_of(owner)) == 1


def test_an_admin_password_reset_revokes_the_users_tokens_and_sessions(
    client, api, owner, admin_user
):
    token = token_for(owner)
    victim = signed_in(type(client), owner)
    client.force_login(admin_user)
    response = client.post(
        f"/admin/auth/user/{owner.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content
    assert answers(api, token) == 401
    assert sessions_of(owner) == []
    assert victim.get("/settings/").status_code == 302


def test_set_password_anywhere_revokes_tokens(api, owner):
    token = token_for(owner)
    owner.set_password(NEW_PASSWORD)
    owner.save()
    assert answers(api, token) == 401
    assert not NamedToken.objects.exists()


def test_a_token_minted_with_a_token_dies_with_the_password_too(api, owner):
    first = token_for(owner)
    api.credentials(HTTP_AUTHORIZATION=f"Token {first}")
    minted = api.post("/api/settings/tokens", {"name": "more"}, format="json").json()["token"]
    owner.set_password(NEW_PASSWORD)
    owner.save()
    assert answers(api, first) == 401 and answers(api, minted) == 401


def test_deactivation_revokes_tokens_and_sessions(client, api, owner):
    token = token_for(owner)
    signed_in(type(client), owner)
    owner.is_active = False
    owner.save()
    assert answers(api, token) == 401
    assert not AuthToken.objects.exists() and not NamedToken.objects.exists()
    assert sessions_of(owner) == []


def test_deletion_removes_tokens_and_sessions(client, owner):
    token_for(owner)
    signed_in(type(client), owner)
    assert sessions_of(owner)
    get_user_model().objects.get(pk=owner.pk).delete()
    assert not AuthToken.objects.exists() and not NamedToken.objects.exists()
    assert sessions_of(owner) == []


def test_saving_a_user_without_a_credential_change_keeps_tokens(api, owner):
    token = token_for(owner)
    owner.first_name = "Olive"
    owner.save()
    assert answers(api, token) == 200
    # Signing in with the password (last_login is saved) keeps them too.
    assert (
        api.post(
            "/api/auth/token", {"username": "owner", "password": PASSWORD}, format="json"
        ).status_code
        == 200
    )
    assert answers(api, token) == 200


def test_djangos_rehash_of_the_same_password_at_sign_in_keeps_tokens(api, owner, settings):
    # A Django upgrade raises the hasher's work factor: the next sign-in re-saves the same
    # password's hash. That is not a new password: scripts' tokens keep working, no entry.
    from django.contrib.auth.hashers import make_password

    from imagegen.core.models import AuditEntry

    settings.PASSWORD_HASHERS = [
        "django.contrib.auth.hashers.PBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    old_hash = make_password(PASSWORD, None, "md5")
    get_user_model().objects.filter(pk=owner.pk).update(password=old_hash)
    token = token_for(owner)
    owner.refresh_from_db()
    assert owner.check_password(PASSWORD)
    owner.refresh_from_db()
    assert owner.password.startswith("pbkdf2_sha256$")  # upgraded
    assert answers(api, token) == 200
    assert not AuditEntry.objects.filter(action="user.password_changed").exists()
    # A real change still ends them.
    owner.set_password(NEW_PASSWORD)
    owner.save()
    assert answers(api, token) == 401
    assert AuditEntry.objects.filter(action="user.password_changed").count() == 1
