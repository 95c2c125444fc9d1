"""Setting up two-factor sign-in under Settings: the QR code and the secret as text, a code
to confirm, ten recovery codes shown once (stored as digests), new codes for a current code,
turning it off with the password and a code; accounts without a password here are exempt."""

import re
from base64 import b32decode

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_static.models import StaticToken

from settings_app import two_factor
from settings_app.devices import TotpDevice
from tests.mfa.helpers import code_for, codes_on, enrol
from tests.users import PASSWORD

pytestmark = pytest.mark.django_db

PAGE = "/settings/two-factor/"


def secret_on(html: str) -> str:
    return re.search(r"<code class=\"totp-secret\" data-secret>([A-Z2-7 ]+)</code>", html)[1]


def test_the_settings_page_offers_the_set_up(owner_client):
    html = owner_client.get("/settings/").content.decode()
    assert 'href="/settings/two-factor/"' in html and "Set up two-factor sign-in" in html


def test_enrol_with_the_qr_code_and_a_code_computed_from_the_shown_secret(owner_client, owner):
    assert owner_client.post(PAGE).status_code == 302
    response = owner_client.get(PAGE)
    html = response.content.decode()
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    assert '<svg role="img" aria-label="QR code for your authenticator app"' in html
    secret = secret_on(html).replace(" ", "")
    # What an app does with the typed key: RFC 6238 over the base32 secret.
    key = b32decode(secret + "=" * (-len(secret) % 8))
    code = f"{totp(key):06d}"
    response = owner_client.post(f"{PAGE}confirm/", {"code": code})
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    codes = codes_on(response.content.decode())
    assert len(codes) == 10 and len(set(codes)) == 10
    assert two_factor.is_enabled(owner)
    # Stored as digests: no code and no part of one is in the table.
    stored = set(StaticToken.objects.values_list("token", flat=True))
    assert len(stored) == 10
    assert not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)
    # The page now says it is on, shows the count, and never the secret or QR code again.
    html = owner_client.get(PAGE).content.decode()
    assert "Recovery codes left: <strong data-codes-left>10</strong>" in html
    assert "data-secret" not in html and "<svg" not in html
    assert secret[:8] not in html
    assert "Manage two-factor sign-in" in owner_client.get("/settings/").content.decode()


def test_a_wrong_confirmation_code_leaves_it_off(owner_client, owner):
    owner_client.post(PAGE)
    response = owner_client.post(f"{PAGE}confirm/", {"code": "000000"})
    assert response.status_code == 400
    assert "That code is not right" in response.content.decode()
    assert not two_factor.is_enabled(owner)
    assert TotpDevice.objects.filter(user=owner, confirmed=False).exists()


def test_starting_over_draws_a_new_key(owner_client, owner):
    owner_client.post(PAGE)
    first = TotpDevice.objects.get(user=owner).secret
    owner_client.post(PAGE)
    assert list(TotpDevice.objects.filter(user=owner).values_list("secret", flat=True)) != [first]
    assert TotpDevice.objects.filter(user=owner).count() == 1


def test_confirming_without_starting_is_refused(owner_client, owner):
    response = owner_client.post(f"{PAGE}confirm/", {"code": "123456"})
    assert response.status_code == 400 and "Start the set-up again" in response.content.decode()


def test_new_recovery_codes_need_a_current_code_and_replace_the_old(owner_client, owner, settings):
    settings.OTP_STATIC_THROTTLE_FACTOR = 0  # a wrong code just before would slow the next
    device, old = enrol(owner)
    response = owner_client.post(f"{PAGE}recovery-codes/", {"code": old[0]})
    assert response.status_code == 400  # a recovery code does not make new ones
    response = owner_client.post(f"{PAGE}recovery-codes/", {"code": code_for(device, 1)})
    assert response.status_code == 200
    new = codes_on(response.content.decode())
    assert len(new) == 10 and not set(new) & set(old)
    assert not two_factor.verify(owner, old[1]).ok
    assert two_factor.verify(owner, new[1]).ok and two_factor.recovery_codes_left(owner) == 9


def test_turning_off_needs_the_password_and_a_code(owner_client, owner, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = settings.OTP_STATIC_THROTTLE_FACTOR = 0
    _, codes = enrol(owner)
    response = owner_client.post(f"{PAGE}disable/", {"password": "wrong", "code": codes[0]})
    assert response.status_code == 400 and "not your password" in response.content.decode()
    response = owner_client.post(f"{PAGE}disable/", {"password": PASSWORD, "code": "111111"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert two_factor.is_enabled(owner)
    response = owner_client.post(f"{PAGE}disable/", {"password": PASSWORD, "code": codes[0]})
    assert response.status_code == 302
    assert not two_factor.is_enabled(owner)
    assert not TotpDevice.objects.filter(user=owner).exists()
    assert not StaticToken.objects.filter(device__user=owner).exists()


def test_an_account_without_a_usable_password_is_exempt(client, owner):
    owner.set_unusable_password()
    owner.save()
    client.force_login(owner)
    assert not two_factor.applies(owner)
    html = client.get(PAGE).content.decode()
    assert "Not for this account" in html
    assert client.post(PAGE).status_code == 400
    assert not TotpDevice.objects.exists()
    assert "two-factor" not in client.get("/settings/").content.decode().lower()


def test_a_session_from_another_backend_is_exempt(owner):
    assert two_factor.applies(owner, "django.contrib.auth.backends.ModelBackend")
    assert not two_factor.applies(owner, "mozilla_django_oidc.auth.OIDCAuthenticationBackend")


def test_pages_need_a_signed_in_user(client):
    assert client.get(PAGE).status_code == 302
    assert client.post(f"{PAGE}confirm/", {"code": "1"}).status_code == 302
