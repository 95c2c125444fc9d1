"""Login throttling (django-axes): a username is locked out from an address after
AXES_FAILURE_LIMIT failures, on the login page, the admin and POST /api/auth/token."""

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.cache import cache
from django.core.exceptions import ValidationError
from knox.models import AuthToken

from tests.users import PASSWORD


@pytest.fixture(autouse=True)
def fresh_throttle_counts(settings):
    """DRF's own throttle counts live in the cache; keep ours apart from other tests."""
    settings.AXES_FAILURE_LIMIT = 5
    cache.clear()
    yield
    cache.clear()


def token(api, username, password, **extra):
    return api.post(
        "/api/auth/token", {"username": username, "password": password}, format="json", **extra
    )


def test_token_endpoint_locks_out_after_the_failure_limit(api, owner):
    for _ in range(4):
        assert token(api, "owner", "wrong").status_code == 401
    locked = token(api, "owner", "wrong")
    assert locked.status_code == 429
    assert "Too many failed logins" in locked.json()["detail"]
    # Now even the right password is refused, and no token is issued.
    again = token(api, "owner", PASSWORD)
    assert again.status_code == 429 and "token" not in again.json()
    assert AuthToken.objects.count() == 0


def test_lockout_is_per_username_and_address(api, owner, member):
    for _ in range(5):
        token(api, "owner", "wrong")
    assert token(api, "owner", PASSWORD).status_code == 429
    assert token(api, "member", PASSWORD).status_code == 200
    assert token(api, "owner", PASSWORD, REMOTE_ADDR="192.0.2.7").status_code == 200


def test_a_success_resets_the_failure_count(api, owner):
    for _ in range(4):
        token(api, "owner", "wrong")
    assert token(api, "owner", PASSWORD).status_code == 200
    for _ in range(4):
        assert token(api, "owner", "wrong").status_code == 401
    assert token(api, "owner", PASSWORD).status_code == 200


def test_failure_limit_comes_from_the_setting(api, owner, settings):
    settings.AXES_FAILURE_LIMIT = 2
    assert token(api, "owner", "wrong").status_code == 401
    assert token(api, "owner", "wrong").status_code == 429


def test_login_page_locks_out_after_the_failure_limit(client, owner):
    for _ in range(4):
        response = client.post("/login/", {"username": "owner", "password": "wrong"})
        assert response.status_code == 200 and b"Wrong username or password" in response.content
    response = client.post("/login/", {"username": "owner", "password": "wrong"})
    assert response.status_code == 429
    assert b"Too many failed logins" in response.content
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_the_admin_signs_in_through_the_throttled_login_page(client, admin_user):
    # The admin's login page is /login/ (two-factor sign-in, issue #18): it reads no password.
    for _ in range(5):
        response = client.post("/admin/login/", {"username": "boss", "password": "wrong"})
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    for _ in range(5):
        login_page(client, "boss", "wrong", path="/login/?next=/admin/")
    response = login_page(client, "boss", PASSWORD, path="/login/?next=/admin/")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_behind_a_trusted_proxy_the_forwarded_address_counts(api, owner, settings):
    settings.TRUST_PROXY_HEADERS = True
    attacker = {"HTTP_X_FORWARDED_FOR": "198.51.100.1, 203.0.113.5"}
    for _ in range(5):
        token(api, "owner", "wrong", **attacker)
    assert token(api, "owner", PASSWORD, **attacker).status_code == 429
    # Same proxy (REMOTE_ADDR), another client: not locked out.
    colleague = {"HTTP_X_FORWARDED_FOR": "203.0.113.6"}
    assert token(api, "owner", PASSWORD, **colleague).status_code == 200


def test_a_forged_forwarded_header_does_not_dodge_the_lockout_without_a_proxy(api, owner):
    for n in range(5):
        token(api, "owner", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert token(api, "owner", PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.99").status_code == 429


def test_password_validators_refuse_weak_passwords(owner):
    for weak in ("short", "password", "12345678901", "owner123"):
        with pytest.raises(ValidationError):
            validate_password(weak, user=owner)
    validate_password("a long and uncommon passphrase 42", user=owner)


def test_password_change_page_refuses_a_weak_password(client, owner):
    client.force_login(owner)
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 200
    assert b"too common" in response.content


def test_tried_passwords_are_not_stored_by_the_throttle(client, api, owner):
    from axes.models import AccessAttempt, AccessFailureLog

    tried = "hunter2-Tried-Password-7781"
    for _ in range(3):
        client.post("/login/", {"username": "owner", "password": tried})
        token(api, "owner", tried)
    rows = [*AccessAttempt.objects.values(), *AccessFailureLog.objects.values()]
    assert rows
    assert tried not in repr(rows)


# --- Per-address limit: one address may not spread guesses over many usernames ----------------


def login_page(client, username, password, path="/login/", **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


@pytest.fixture
def address_limit(settings):
    settings.AXES_IP_FAILURE_LIMIT = 6
    return 6


def spread_guesses(send, count):
    """``count`` wrong passwords, two per username, over names that mostly do not exist."""
    for n in range(count):
        send(f"name-{n // 2}", "wrong")


# (The admin's and the browsable API's logins send people to /login/.)
@pytest.mark.parametrize("where", ["token", "/login/"])
def test_one_address_is_locked_out_after_the_address_limit_across_usernames(
    api, client, owner, address_limit, where
):
    def send(username, password, **extra):
        if where == "token":
            return token(api, username, password, **extra)
        return login_page(client, username, password, path=where, **extra)

    spread_guesses(send, address_limit)
    # No single username reached AXES_FAILURE_LIMIT, but the address did: even a right
    # password for an untouched account is refused from it...
    assert send("owner", PASSWORD).status_code == 429
    # ...and only from it.
    assert send("owner", PASSWORD, REMOTE_ADDR="192.0.2.9").status_code in (200, 302)


def test_a_success_does_not_reset_the_addresses_other_failures(api, owner, outsider, address_limit):
    spread_guesses(lambda u, p: token(api, u, p), address_limit - 1)
    # The attacker signs in to their own account: only outsider's failures (none) are reset.
    assert token(api, "outsider", PASSWORD).status_code == 200
    assert token(api, "ghost", "wrong").status_code == 429
    assert token(api, "owner", PASSWORD).status_code == 429


def test_the_address_limit_defaults_above_the_username_limit(settings):
    assert settings.AXES_IP_FAILURE_LIMIT > settings.AXES_FAILURE_LIMIT
