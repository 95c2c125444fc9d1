"""The login page with OpenID Connect: the provider's button; with OIDC_ONLY the password
form is hidden and passwords sign in superusers only (the first admin among them), so a
provider that is down never locks the team out. Without OIDC nothing changes."""

from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import MD5PasswordHasher

from imagegen.core.accounts import ensure_initial_admin
from settings_app.signin import PENDING_KEY
from tests.mfa.helpers import enrol
from tests.oidc.provider import closed_port_url
from tests.users import PASSWORD, make_user

pytestmark = pytest.mark.django_db
User = get_user_model()


@pytest.fixture
def provider_down(oidc_settings):
    """OIDC on, with a provider that does not answer."""
    oidc_settings.OIDC_ISSUER = closed_port_url()
    return oidc_settings


@pytest.fixture
def oidc_only(provider_down):
    provider_down.OIDC_ONLY = True
    return provider_down


@pytest.fixture
def first_admin(settings):
    settings.ADMIN_USERNAME, settings.ADMIN_PASSWORD = "root", PASSWORD
    assert ensure_initial_admin() == ("root", None)
    return User.objects.get(username="root")


def test_without_oidc_the_login_page_is_unchanged(client):
    html = client.get("/login/").content.decode()
    assert 'name="password"' in html
    assert "/oidc/authenticate/" not in html


def test_with_oidc_the_login_page_offers_the_provider_and_the_password(provider_down, client):
    html = client.get("/login/?next=/gallery/").content.decode()
    assert 'href="/oidc/authenticate/?next=/gallery/"' in html
    assert "Sign in with Test IdP" in html
    assert 'name="password"' in html


def test_with_oidc_a_local_account_still_signs_in_with_its_password(provider_down, client, owner):
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == owner.pk


def test_oidc_only_hides_the_password_form(oidc_only, client):
    html = client.get("/login/").content.decode()
    assert "Sign in with Test IdP" in html
    assert 'name="password"' not in html
    assert "/signup/" not in html


def test_oidc_only_the_first_admin_signs_in_locally(oidc_only, client, first_admin):
    html = client.get("/login/?local=1").content.decode()
    assert 'name="password"' in html
    assert 'action="/login/?local=1"' in html
    response = client.post("/login/?local=1", {"username": "root", "password": PASSWORD})
    assert response.status_code == 302
    assert int(client.session["_auth_user_id"]) == first_admin.pk
    assert client.get("/generate/").status_code == 200


def test_oidc_only_a_wrong_admin_password_keeps_the_form(oidc_only, client, first_admin):
    response = client.post("/login/?local=1", {"username": "root", "password": "wrong"})
    assert response.status_code == 200
    assert b"Wrong username or password." in response.content
    assert b'name="password"' in response.content


@pytest.mark.parametrize("staff", [False, True], ids=["member", "staff"])
def test_oidc_only_other_local_accounts_cannot_use_a_password(oidc_only, client, staff):
    make_user("local", is_staff=staff)
    response = client.post("/login/?local=1", {"username": "local", "password": PASSWORD})
    assert response.status_code == 200
    assert b"Wrong username or password." in response.content
    assert "_auth_user_id" not in client.session
    # Nor through the admin's login or the API's token exchange.
    client.post("/admin/login/", {"username": "local", "password": PASSWORD})
    assert "_auth_user_id" not in client.session
    response = client.post(
        "/api/auth/token",
        {"username": "local", "password": PASSWORD},
        content_type="application/json",
    )
    assert response.status_code == 401


def test_oidc_only_turns_self_sign_up_off(oidc_only, client, settings):
    settings.ALLOW_SIGNUP = True
    assert client.get("/signup/").status_code == 404


def test_the_provider_button_of_a_provider_that_is_down_gets_a_clear_page(oidc_only, client):
    response = client.get("/oidc/authenticate/")
    assert response.status_code == 502
    html = response.content.decode()
    assert "The sign-in provider cannot be reached" in html
    # With OIDC_ONLY the way back is the sign-in page (superusers: ?local=1).
    assert "Back to the sign-in page" in html


def test_oidc_only_the_admin_login_leads_to_the_password_form(oidc_only, client, first_admin):
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response.url == "/login/?next=%2Fadmin%2F&local=1"
    assert b'name="password"' in client.get(response.url).content
    response = client.post(response.url, {"username": "root", "password": PASSWORD})
    assert response.status_code == 302 and response.url == "/admin/"


def test_oidc_only_refusals_hash_the_password_like_a_superusers_check(
    oidc_only, client, first_admin
):
    """Refusing a member or an unknown name without hashing would answer faster than a
    superuser's password check: a timing oracle for which names are superusers."""
    make_user("member")
    calls = {}
    for username, password in [
        ("root", "wrong"),
        ("member", PASSWORD),
        ("nobody", PASSWORD),
        ("root", PASSWORD),
    ]:
        with mock.patch.object(
            MD5PasswordHasher, "encode", autospec=True, side_effect=MD5PasswordHasher.encode
        ) as encode:
            client.post("/login/?local=1", {"username": username, "password": password})
        calls[(username, password)] = encode.call_count
        client.logout()
    assert calls == {
        ("root", "wrong"): 1,
        ("member", PASSWORD): 1,
        ("nobody", PASSWORD): 1,
        ("root", PASSWORD): 1,
    }


def _expire_pending(client):
    session = client.session
    session[PENDING_KEY]["until"] = 0
    session.save()


def test_oidc_only_every_way_back_from_the_code_step_shows_the_password_form(
    oidc_only, client, first_admin, settings
):
    """A superuser whose code step expired or failed goes back to the password form
    (?local=1): without it the page under OIDC_ONLY has no password form at all."""
    settings.AXES_FAILURE_LIMIT = 100  # the code step's own limit, not the lockout's
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    enrol(first_admin)
    back = "/login/?next=%2Fadmin%2F&local=1"

    def password_step():
        response = client.post(
            "/login/?local=1", {"username": "root", "password": PASSWORD, "next": "/admin/"}
        )
        assert response.url == "/login/verify/?next=%2Fadmin%2F"

    password_step()
    page = client.get("/login/verify/?next=/admin/").content.decode()
    assert f'href="{back.replace("&", "&amp;")}">Start again' in page
    # Expired.
    _expire_pending(client)
    response = client.get("/login/verify/?next=/admin/")
    assert response.status_code == 302 and response.url == back
    assert b'name="password"' in client.get(response.url).content
    # Too many wrong codes.
    password_step()
    for _ in range(5):
        response = client.post("/login/verify/", {"code": "000000", "next": "/admin/"})
    assert response.status_code == 302 and response.url == back
    # Without OIDC_ONLY the way back stays the plain login page.
    oidc_only.OIDC_ONLY = False
    password_step()
    _expire_pending(client)
    assert client.get("/login/verify/?next=/admin/").url == "/login/?next=%2Fadmin%2F"
