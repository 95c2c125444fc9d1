"""Signing in with two-factor sign-in: the password step signs nobody in, /login/verify/
takes a TOTP code (once) or a recovery code (once), wrong codes count like wrong passwords,
the pending sign-in expires, ``next`` survives both steps and never leaves the site, and
``user_logged_in`` fires once, after the code."""

import pytest
from axes.models import AccessAttempt, AccessFailureLog
from django.contrib.auth.signals import user_logged_in, user_login_failed

from settings_app.signin import PENDING_KEY
from tests.mfa.helpers import code_for, enrol, password_step, signed_in_as
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db

VERIFY = "/login/verify/"


@pytest.fixture
def enrolled(owner):
    device, codes = enrol(owner)
    return owner, device, codes


@pytest.fixture
def signals():
    """Every user_logged_in and user_login_failed sent during the test."""
    sent = {"in": [], "failed": []}

    def logged_in(sender, user, **kwargs):
        sent["in"].append(user.username)

    def failed(sender, credentials, **kwargs):
        sent["failed"].append(dict(credentials))

    user_logged_in.connect(logged_in, dispatch_uid="tests.mfa.in")
    user_login_failed.connect(failed, dispatch_uid="tests.mfa.failed")
    yield sent
    user_logged_in.disconnect(dispatch_uid="tests.mfa.in")
    user_login_failed.disconnect(dispatch_uid="tests.mfa.failed")


def test_without_two_factor_the_password_signs_in(client, owner, signals):
    response = password_step(client, "owner")
    assert response.status_code == 302 and response["Location"] == "/generate/"
    assert signed_in_as(client) == str(owner.pk) and signals["in"] == ["owner"]


def test_the_password_step_signs_nobody_in_and_the_code_does(client, enrolled, signals):
    owner, device, _ = enrolled
    response = password_step(client, "owner")
    assert response.status_code == 302 and response["Location"] == VERIFY
    assert signed_in_as(client) is None and signals["in"] == []
    assert client.get("/generate/").status_code == 302  # nothing is reachable yet
    page = client.get(VERIFY)
    assert page.status_code == 200 and b"Signing in as <strong>owner</strong>" in page.content
    assert "no-store" in page["Cache-Control"]
    response = client.post(VERIFY, {"code": code_for(device, 1)})
    assert response.status_code == 302 and response["Location"] == "/generate/"
    assert signed_in_as(client) == str(owner.pk)
    assert signals["in"] == ["owner"] and signals["failed"] == []
    assert PENDING_KEY not in client.session
    assert client.get("/generate/").status_code == 200


def test_a_wrong_code_is_refused_and_reported_as_a_failed_sign_in(client, enrolled, signals):
    password_step(client, "owner")
    response = client.post(VERIFY, {"code": "000000"})
    assert response.status_code == 200 and b"That code is not right" in response.content
    assert signed_in_as(client) is None and signals["in"] == []
    assert signals["failed"] == [{"username": "owner"}]
    # django-axes counted it, and kept no code.
    assert AccessAttempt.objects.get(username="owner").failures_since_start == 1
    rows = repr([*AccessAttempt.objects.values(), *AccessFailureLog.objects.values()])
    assert "000000" not in rows


def test_a_used_code_is_refused_the_second_time(client, enrolled, signals):
    _, device, _ = enrolled
    code = code_for(device, 1)
    password_step(client, "owner")
    assert client.post(VERIFY, {"code": code}).status_code == 302
    client.post("/logout/")
    password_step(client, "owner")
    response = client.post(VERIFY, {"code": code})
    assert response.status_code == 200 and b"That code is not right" in response.content
    assert signed_in_as(client) is None
    assert signals["in"] == ["owner"] and signals["failed"] == [{"username": "owner"}]


def test_a_recovery_code_signs_in_once(client, enrolled):
    owner, _, codes = enrolled
    password_step(client, "owner")
    response = client.post(VERIFY, {"code": codes[0].upper().replace("-", " ")})
    assert response.status_code == 302 and signed_in_as(client) == str(owner.pk)
    assert "recovery code; 9 left" in " ".join(m.message for m in response.wsgi_request._messages)
    client.post("/logout/")
    password_step(client, "owner")
    response = client.post(VERIFY, {"code": codes[0]})
    assert response.status_code == 200 and signed_in_as(client) is None


def test_the_pending_sign_in_expires(client, enrolled):
    _, device, _ = enrolled
    password_step(client, "owner", next_url="/gallery/")
    session = client.session
    session[PENDING_KEY] = {**session[PENDING_KEY], "until": 0}
    session.save()
    response = client.post(VERIFY, {"code": code_for(device, 1), "next": "/gallery/"})
    assert response.status_code == 302 and response["Location"] == "/login/?next=%2Fgallery%2F"
    assert signed_in_as(client) is None and PENDING_KEY not in client.session
    assert b"took too long" in client.get(response["Location"]).content


def test_a_password_change_between_the_steps_ends_the_pending_sign_in(client, enrolled):
    owner, device, _ = enrolled
    password_step(client, "owner")
    owner.set_password("an entirely new passphrase 7")
    owner.save()
    response = client.post(VERIFY, {"code": code_for(device, 1)})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert signed_in_as(client) is None


def test_verify_without_a_password_step_goes_to_the_login(client, enrolled):
    response = client.get(VERIFY)
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.post(VERIFY, {"code": "123456"})["Location"] == "/login/"


def test_too_many_wrong_codes_end_the_pending_sign_in(client, enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 100  # this sign-in's own limit, not the lockout's
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    _, device, _ = enrolled
    password_step(client, "owner")
    for _ in range(4):
        assert client.post(VERIFY, {"code": "000000"}).status_code == 200
    response = client.post(VERIFY, {"code": "000000"})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.post(VERIFY, {"code": code_for(device, 1)})["Location"] == "/login/"
    assert signed_in_as(client) is None


def test_wrong_codes_lock_the_account_out_like_wrong_passwords(client, enrolled, settings):
    settings.AXES_FAILURE_LIMIT = 3
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    _, device, _ = enrolled
    password_step(client, "owner")
    client.post(VERIFY, {"code": "000000"})
    client.post(VERIFY, {"code": "000001"})
    response = client.post(VERIFY, {"code": "000002"})
    assert response.status_code == 429 and b"Too many failed logins" in response.content
    # Locked: the password is refused too, and the right code cannot help.
    response = password_step(client, "owner")
    assert response.status_code == 429
    assert client.post(VERIFY, {"code": code_for(device, 1)}).status_code != 200
    assert signed_in_as(client) is None


def test_quick_wrong_guesses_are_slowed_down_by_the_device(client, enrolled):
    _, device, _ = enrolled
    password_step(client, "owner")
    client.post(VERIFY, {"code": "000000"})
    # The device waits (1 s, doubling) before it checks again, even a right code.
    response = client.post(VERIFY, {"code": code_for(device, 1)})
    assert b"wait a minute" in response.content and signed_in_as(client) is None


def test_next_is_kept_through_both_steps(client, enrolled):
    _, device, _ = enrolled
    response = password_step(client, "owner", next_url="/gallery/?page=2")
    assert response["Location"] == "/login/verify/?next=%2Fgallery%2F%3Fpage%3D2"
    page = client.get(response["Location"]).content.decode()
    assert 'name="next" value="/gallery/?page=2"' in page
    response = client.post(VERIFY, {"code": code_for(device, 1), "next": "/gallery/?page=2"})
    assert response["Location"] == "/gallery/?page=2"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/\\evil"]
)
def test_an_offsite_next_is_never_followed(client, enrolled, target):
    _, device, _ = enrolled
    response = password_step(client, "owner", next_url=target)
    assert response["Location"] == VERIFY
    response = client.post(VERIFY + "?next=" + target, {"code": code_for(device, 1)})
    assert response["Location"] == "/generate/"


def test_the_password_is_still_checked_first(client, enrolled, signals):
    response = password_step(client, "owner", password="wrong")
    assert response.status_code == 200 and b"Wrong username or password" in response.content
    assert PENDING_KEY not in client.session
    assert [f["username"] for f in signals["failed"]] == ["owner"]
    assert password_step(client, "owner", password=PASSWORD)["Location"] == VERIFY
