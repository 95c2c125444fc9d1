"""The authenticator secret is encrypted at rest (ENCRYPTION_KEY): never in the database column,
a dump or a backup in clear; a restored backup and a rotated key still verify codes; a secret
that no longer opens fails closed. The device keeps django-otp's rules: a code once (even two
requests at the same moment), back-off after a wrong code, drift, the otpauth:// URL."""

import gzip
import io
from base64 import b32encode
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.core.management import call_command
from django.db import connection

from imagegen.core.crypto import UndecryptableSecret, decrypt_text
from settings_app import two_factor
from settings_app.devices import TotpDevice
from tests.mfa.helpers import code_for, enrol

NEW_KEY = "a-brand-new-encryption-key-for-the-totp-rotation-0123"


def raw_secret(device) -> bytes:
    """The stored column, read past the ORM (which would decrypt it)."""
    table = connection.ops.quote_name(TotpDevice._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {table} WHERE id = %s", [device.pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


def clear_forms(device) -> list[bytes]:
    """Every way the secret could appear in clear: hex (either case) and base32."""
    hex_secret = str(device.secret)
    base32 = b32encode(bytes.fromhex(hex_secret)).decode().rstrip("=")
    return [hex_secret.encode(), hex_secret.upper().encode(), base32.encode()]


def assert_nowhere_in(data: bytes, device) -> None:
    for form in clear_forms(device):
        assert form not in data
        assert form[:16] not in data  # nor a long piece of it


# --- In the database and in dumps -----------------------------------------------------------


@pytest.mark.django_db
def test_the_column_holds_ciphertext_that_opens_only_with_encryption_key(owner, settings):
    device, _ = enrol(owner)
    stored = raw_secret(device)
    assert_nowhere_in(stored, device)
    assert decrypt_text(stored, settings.ENCRYPTION_KEY) == device.secret
    with pytest.raises(UndecryptableSecret):
        decrypt_text(stored, "some-other-encryption-key-entirely")


@pytest.mark.django_db
def test_a_pending_set_up_is_encrypted_too(owner):
    device = two_factor.start_enrolment(owner)
    assert len(device.secret) == 40  # 20 random bytes, as hex
    assert_nowhere_in(raw_secret(device), device)


@pytest.mark.django_db
def test_dumpdata_writes_the_ciphertext_and_loads_it_back(owner):
    device, _ = enrol(owner)
    stored = raw_secret(device)
    text = serializers.serialize("json", TotpDevice.objects.all())
    assert_nowhere_in(text.encode(), device)
    TotpDevice.objects.all().delete()
    for obj in serializers.deserialize("json", text):
        obj.save()
    assert raw_secret(device) == stored
    assert two_factor.verify(owner, code_for(device, 1)).ok


@pytest.mark.django_db
def test_checking_codes_never_rewrites_the_secret(owner, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device, _ = enrol(owner)
    stored = raw_secret(device)
    assert not two_factor.verify(owner, "000000").ok
    assert two_factor.verify(owner, code_for(device, 1)).ok
    TotpDevice.objects.get(pk=device.pk).throttle_reset()
    assert raw_secret(device) == stored


# --- Backups --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_backup_holds_no_secret_in_clear_and_its_restore_still_verifies(owner, tmp_path):
    device, codes = enrol(owner)
    backup = tmp_path / "imagegen.tar.gz"
    call_command("backup", str(backup), stdout=io.StringIO())
    content = gzip.decompress(backup.read_bytes())
    assert_nowhere_in(content, device)
    assert owner.username.encode() in content  # the dump is readable, not compressed away

    call_command("flush", interactive=False, verbosity=0)
    assert not TotpDevice.objects.exists()
    call_command("restore", str(backup), stdout=io.StringIO())
    restored = get_user_model().objects.get(username=owner.username)
    assert two_factor.is_enabled(restored)
    assert TotpDevice.objects.get(user=restored).secret == device.secret
    assert two_factor.verify(restored, code_for(device, 1)).ok
    assert two_factor.verify(restored, codes[0]).ok


# --- Rotation and a lost key -----------------------------------------------------------------


@pytest.mark.django_db
def test_rotating_encryption_key_re_encrypts_the_secret(owner, settings):
    device, _ = enrol(owner)
    before = raw_secret(device)
    old = settings.ENCRYPTION_KEY
    call_command("rotate_encryption_key", "--old", old, "--new", NEW_KEY, stdout=io.StringIO())
    after = raw_secret(device)
    assert after != before
    assert_nowhere_in(after, device)
    with pytest.raises(UndecryptableSecret):
        decrypt_text(after, old)
    settings.ENCRYPTION_KEY = NEW_KEY
    assert two_factor.verify(owner, code_for(device, 1)).ok


@pytest.mark.django_db
def test_a_secret_that_no_longer_opens_fails_closed(owner, settings):
    """ENCRYPTION_KEY changed without a rotation: no authenticator code works (and nothing
    crashes); the recovery codes still sign in, so the user can turn it off and set it up
    again."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device, codes = enrol(owner)
    settings.ENCRYPTION_KEY = NEW_KEY
    assert TotpDevice.objects.get(pk=device.pk).secret is None
    assert two_factor.is_enabled(owner)  # still asks for a second factor
    assert not two_factor.verify(owner, code_for(device, 1)).ok
    assert two_factor.verify(owner, codes[0]).ok


@pytest.mark.django_db
def test_a_pending_set_up_that_no_longer_opens_starts_again(owner, owner_client, settings):
    two_factor.start_enrolment(owner)
    settings.ENCRYPTION_KEY = NEW_KEY
    assert two_factor.pending_enrolment(owner) is None
    assert owner_client.get("/settings/two-factor/").status_code == 200
    assert owner_client.post("/settings/two-factor/").status_code == 302
    device = two_factor.pending_enrolment(owner)
    assert device is not None and device.secret is not None
    two_factor.confirm_enrolment(owner, code_for(device))
    assert two_factor.is_enabled(owner)


# --- django-otp's rules, kept ---------------------------------------------------------------


@pytest.mark.django_db
def test_a_code_passes_once_even_when_two_requests_check_it_at_once(owner):
    device, _ = enrol(owner)
    code = code_for(device, 1)
    first, second = TotpDevice.objects.get(pk=device.pk), TotpDevice.objects.get(pk=device.pk)
    assert first.verify_token(code)
    assert not second.verify_token(code)  # it read last_t before the first accepted the code
    assert TotpDevice.objects.get(pk=device.pk).last_t == first.last_t


@pytest.mark.django_db
def test_a_wrong_code_slows_the_next_check_down(owner):
    device, _ = enrol(owner)
    assert not device.verify_token("000000")
    device.refresh_from_db()
    assert device.throttling_failure_count == 1
    check = two_factor.verify(owner, code_for(device, 1))
    assert not check.ok and check.wait_until is not None  # even the right code waits
    device.throttle_reset()
    assert TotpDevice.objects.get(pk=device.pk).throttling_failure_count == 0
    assert two_factor.verify(owner, code_for(device, 1)).ok


@pytest.mark.django_db
def test_a_code_one_step_ahead_is_accepted_and_the_drift_learned(owner):
    device, _ = enrol(owner)
    confirmed_at = device.last_t
    assert device.verify_token(code_for(device, 1))
    device.refresh_from_db()
    assert (device.last_t, device.drift) == (confirmed_at + 1, 1)
    assert device.last_used_at is not None
    assert not device.verify_token(code_for(device, 5))  # beyond the tolerance
    assert not device.verify_token("not a code")


@pytest.mark.django_db
def test_the_qr_code_url_carries_the_secret_for_the_app_only(owner):
    device = two_factor.start_enrolment(owner)
    url = urlsplit(device.config_url)
    params = parse_qs(url.query)
    assert (url.scheme, url.netloc) == ("otpauth", "totp")
    assert url.path == f"/imagegen%3A{owner.username}"
    assert params["secret"] == [b32encode(bytes.fromhex(device.secret)).decode()]
    assert params["issuer"] == ["imagegen"]
    assert (params["digits"], params["period"], params["algorithm"]) == (["6"], ["30"], ["SHA1"])
