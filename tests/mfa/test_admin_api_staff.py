"""Two-factor sign-in around the edges: the admin's and the browsable API's logins go
through /login/ (so through the second factor), API tokens work as before, the token
endpoint asks for a code, MFA_REQUIRED_FOR_STAFF sends staff to the set-up first, and the
user admin resets a user's second factor without ever showing a secret."""

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken

from settings_app import two_factor
from settings_app.devices import TotpDevice
from settings_app.services import create_named_token
from tests.mfa.helpers import code_for, enrol, password_step, signed_in_as
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db


# --- The admin's and the browsable API's logins -------------------------------------------------


def test_the_admin_login_sends_to_the_site_login_with_next(client):
    response = client.get("/admin/login/?next=/admin/generation/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=%2Fadmin%2Fgeneration%2F"
    assert client.get("/admin/login/?next=https://evil.example/")["Location"] == (
        "/login/?next=%2Fadmin%2F"
    )


def test_a_password_posted_to_the_admin_login_signs_nobody_in(client, admin_user):
    response = client.post("/admin/login/", {"username": "boss", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert signed_in_as(client) is None


def test_staff_reach_the_admin_through_the_second_factor(client, admin_user):
    device, _ = enrol(admin_user)
    response = client.get("/admin/", follow=True)
    assert response.redirect_chain[-1][0] == "/login/?next=%2Fadmin%2F"
    response = password_step(client, "boss", next_url="/admin/")
    assert response["Location"] == "/login/verify/?next=%2Fadmin%2F"
    assert client.get("/admin/").status_code == 302
    response = client.post("/login/verify/", {"code": code_for(device, 1), "next": "/admin/"})
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/login/")["Location"] == "/admin/"


def test_a_signed_in_member_is_refused_the_admin_login(owner_client):
    assert owner_client.get("/admin/login/?next=/admin/").status_code == 403


def test_the_browsable_api_login_goes_to_the_site_login(client, owner):
    response = client.get("/api-auth/login/?next=/api/gallery")
    assert response["Location"] == "/login/?next=%2Fapi%2Fgallery"
    assert client.post("/api-auth/login/", {"username": "owner", "password": PASSWORD})[
        "Location"
    ].startswith("/login/")
    assert signed_in_as(client) is None
    client.force_login(owner)
    assert client.get("/api-auth/login/?next=/api/")["Location"] == "/api/"


# --- API tokens ---------------------------------------------------------------------------------


def test_api_tokens_work_unchanged_for_an_account_with_two_factor(client, owner):
    enrol(owner)
    _, token = create_named_token(owner, "script")
    response = client.get("/api/settings", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200


def test_the_token_endpoint_asks_for_the_code(api, owner):
    device, codes = enrol(owner)
    credentials = {"username": "owner", "password": PASSWORD}
    response = api.post("/api/auth/token", credentials, format="json")
    assert response.status_code == 401 and "two-factor" in response.json()["detail"]
    response = api.post("/api/auth/token", {**credentials, "code": "000000"}, format="json")
    assert response.status_code == 401
    response = api.post("/api/auth/token", {**credentials, "code": codes[0]}, format="json")
    assert response.status_code == 200 and response.json()["token"]


# --- MFA_REQUIRED_FOR_STAFF ---------------------------------------------------------------------


@pytest.fixture
def clerk(db):
    return make_user("clerk", is_staff=True)


def test_staff_without_two_factor_are_sent_to_the_set_up(client, clerk, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    response = password_step(client, "clerk")
    assert response["Location"] == "/generate/" and signed_in_as(client) == str(clerk.pk)
    for path in ("/generate/", "/gallery/", "/settings/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and response["Location"] == "/settings/two-factor/"
    page = client.get("/settings/two-factor/")
    assert page.status_code == 200 and b"requires two-factor sign-in for staff" in page.content
    assert client.get("/api/settings").status_code == 403
    # Scripts with a token are not the session: untouched.
    _, token = create_named_token(clerk, "script")
    assert client.get("/api/settings", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200
    # Setting it up opens the rest.
    client.post("/settings/two-factor/")
    device = TotpDevice.objects.get(user=clerk)
    client.post("/settings/two-factor/confirm/", {"code": code_for(device)})
    assert client.get("/generate/").status_code == 200
    assert client.post("/logout/").status_code == 302


def test_a_made_up_authorization_header_does_not_open_pages(client, clerk, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    client.force_login(clerk)
    assert client.get("/generate/", HTTP_AUTHORIZATION="Basic x")["Location"] == (
        "/settings/two-factor/"
    )
    assert client.get("/api/settings", HTTP_AUTHORIZATION="Basic x").status_code == 403


def test_the_setting_off_or_members_or_exempt_staff_are_not_sent(client, clerk, owner, settings):
    client.force_login(clerk)
    assert client.get("/generate/").status_code == 200  # off by default
    settings.MFA_REQUIRED_FOR_STAFF = True
    client.force_login(owner)
    assert client.get("/generate/").status_code == 200  # not staff
    clerk.set_unusable_password()  # an identity provider's or the desktop's user
    clerk.save()
    client.force_login(clerk)
    assert client.get("/generate/").status_code == 200


def test_a_staff_session_from_another_backend_is_exempt(client, clerk, settings):
    settings.MFA_REQUIRED_FOR_STAFF = True
    settings.AUTHENTICATION_BACKENDS = [
        *settings.AUTHENTICATION_BACKENDS,
        "tests.mfa.backends.IdentityProviderBackend",
    ]
    client.force_login(clerk, backend="tests.mfa.backends.IdentityProviderBackend")
    assert client.get("/generate/").status_code == 200


# --- The user admin -----------------------------------------------------------------------------


def test_the_user_admin_shows_who_has_it_and_resets_it_without_showing_secrets(
    client, admin_user, owner
):
    device, codes = enrol(owner)
    client.force_login(admin_user)
    changelist = client.get("/admin/auth/user/").content.decode()
    assert "two-factor" in changelist.lower()
    change = client.get(f"/admin/auth/user/{owner.pk}/change/").content.decode()
    secret = two_factor.secret_text(device)
    for page in (changelist, change):
        assert (
            device.secret not in page and secret not in page and secret.replace(" ", "") not in page
        )
        assert not any(code in page for code in codes)
    # Not in the admin at all: no device admin.
    for path in ("/admin/settings_app/totpdevice/", "/admin/otp_static/staticdevice/"):
        assert client.get(path).status_code == 404
    response = client.post(
        "/admin/auth/user/",
        {"action": "reset_two_factor", "_selected_action": [owner.pk]},
    )
    assert response.status_code == 302
    assert not two_factor.is_enabled(owner)
    assert password_step(client.__class__(), "owner")["Location"] == "/generate/"


def test_staff_reset_only_accounts_they_may_edit(client, owner):
    from django.contrib.auth.models import Permission

    clerk = make_user("clerk2", is_staff=True)
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    boss = get_user_model().objects.create_superuser("boss2", password=PASSWORD)
    enrol(owner)
    enrol(boss)
    client.force_login(clerk)
    client.post(
        "/admin/auth/user/",
        {"action": "reset_two_factor", "_selected_action": [owner.pk, boss.pk]},
    )
    assert not two_factor.is_enabled(owner)
    assert two_factor.is_enabled(boss)


def test_the_token_endpoint_refuses_staff_without_two_factor_when_required(api, clerk, settings):
    """The pages send such a staff member to the set-up; the password alone must not buy a
    token that skips it."""
    credentials = {"username": "clerk", "password": PASSWORD}
    settings.MFA_REQUIRED_FOR_STAFF = True
    response = api.post("/api/auth/token", credentials, format="json")
    assert response.status_code == 403
    assert response.json() == {
        "detail": "Set up two-factor sign-in first: staff must use it here "
        "(Settings → Two-factor sign-in)."
    }
    assert not AuthToken.objects.filter(user=clerk).exists()
    # Once it is set up, the endpoint asks for a code and then answers a token.
    device, _ = enrol(clerk)
    response = api.post(
        "/api/auth/token", {**credentials, "code": code_for(device, 1)}, format="json"
    )
    assert response.status_code == 200 and response.json()["token"]
    # Without the requirement, or for a member, nothing changes.
    settings.MFA_REQUIRED_FOR_STAFF = False
    make_user("plainstaff", is_staff=True)
    response = api.post(
        "/api/auth/token", {"username": "plainstaff", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
