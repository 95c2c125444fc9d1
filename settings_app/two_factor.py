"""Two-factor sign-in for local accounts (docs/two-factor.md): an authenticator app (TOTP,
our ``TotpDevice``: django-otp's device with the secret encrypted at rest) and ten single-use
recovery codes (django-otp's ``StaticDevice``, holding their digests).

One rule says whom it concerns, :func:`applies`: accounts that sign in here with a password.
A user without a usable password (an identity provider's, the desktop's) is exempt, and so is
a session another backend opened (OpenID Connect): the identity provider does its own.

Enrolment: :func:`start_enrolment` makes an unconfirmed device (its secret is shown to its
owner as a QR code and as text, and nowhere else), :func:`confirm_enrolment` confirms it with
a code and issues the recovery codes. Sign-in checks a code with :func:`verify`: the device
refuses a TOTP code at or before the last accepted time step (so a code works once) and slows
wrong guesses down per device (exponential back-off). Recovery codes are stored as SHA-256
digests, never as the codes, and are deleted when used.

No function here logs, returns or raises with a secret or a code in it, except the two that
exist to show them to their owner once (:func:`secret_text`, :func:`qr_svg`, the codes
:func:`confirm_enrolment` and :func:`regenerate_recovery_codes` return).
"""

import hashlib
import secrets
from base64 import b32encode
from dataclasses import dataclass
from datetime import datetime

import qrcode
import qrcode.image.svg
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.html import escape
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken

from imagegen.core import audit
from settings_app.devices import TotpDevice

# The backends a password sign-in goes through (axes' wraps Django's); a session that
# another backend opened (an identity provider's) is exempt from the second factor here.
PASSWORD_BACKENDS = frozenset(
    {"django.contrib.auth.backends.ModelBackend", "axes.backends.AxesStandaloneBackend"}
)
RECOVERY_CODE_COUNT = 10
# 31 letters and digits without the look-alikes (i, l, o, 0, 1): 10 of them are ~49 bits.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
RECOVERY_CODE_LENGTH = 10
TOTP_NAME = "Authenticator app"
RECOVERY_NAME = "Recovery codes"
WRONG_CODE = "That code is not right. Enter the current code from your app, or a recovery code."


def applies(user, backend: str | None = None) -> bool:
    """Whether two-factor sign-in concerns ``user`` (signed in through ``backend``, when
    known): only accounts that sign in here with a password. No usable password (an identity
    provider's account, the desktop's user) or another backend's session: exempt."""
    if not user.is_authenticated or not user.has_usable_password():
        return False
    return backend is None or backend in PASSWORD_BACKENDS


def is_enabled(user) -> bool:
    """The user has a confirmed authenticator and it concerns them: sign-in asks for a code."""
    return applies(user) and TotpDevice.objects.filter(user=user, confirmed=True).exists()


def pending_enrolment(user) -> TotpDevice | None:
    """The authenticator being set up (not yet confirmed with a code), if any. One whose
    secret no longer opens (ENCRYPTION_KEY changed) is none: the set-up starts again."""
    device = TotpDevice.objects.filter(user=user, confirmed=False).first()
    return device if device is not None and device.secret is not None else None


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def _refuse_unless_applies(user):
    if not applies(user):
        raise ValidationError(
            "This account does not sign in with a password here, so two-factor sign-in "
            "is up to its identity provider."
        )


def start_enrolment(user) -> TotpDevice:
    """A new unconfirmed authenticator with a fresh secret (an earlier unfinished one goes)."""
    _refuse_unless_applies(user)
    if is_enabled(user):
        raise ValidationError("Two-factor sign-in is already on; turn it off first.")
    with transaction.atomic():
        TotpDevice.objects.filter(user=user, confirmed=False).delete()
        return TotpDevice.objects.create(user=user, name=TOTP_NAME, confirmed=False)


def secret_text(device: TotpDevice) -> str:
    """The secret in base32, in groups of four, for typing into an app by hand."""
    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def qr_svg(device: TotpDevice) -> str:
    """The otpauth:// URL as an inline SVG QR code (drawn here: no outside service)."""
    image = qrcode.make(
        device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=10, border=2
    )
    svg = image.to_string(encoding="unicode")
    label = escape("QR code for your authenticator app")
    return svg.replace("<svg ", f'<svg role="img" aria-label="{label}" class="qr-code" ', 1)


def normalise(code: str) -> str:
    """A code as typed: spaces and dashes out, lower case."""
    return "".join(ch for ch in str(code).lower() if ch not in " -\t")


def _digest(code: str) -> str:
    # StaticToken.token holds 16 characters: 64 bits of SHA-256 over a ~49-bit random code.
    return hashlib.sha256(f"imagegen-recovery:{normalise(code)}".encode()).hexdigest()[:16]


def _new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with new ones; only their digests are stored."""
    device, _ = StaticDevice.objects.get_or_create(
        user=user, name=RECOVERY_NAME, defaults={"confirmed": True}
    )
    StaticDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.token_set.all().delete()
    device.throttle_reset(commit=True)  # wrong guesses at the old codes do not slow the new
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        codes.append(f"{raw[:5]}-{raw[5:]}")
    StaticToken.objects.bulk_create(StaticToken(device=device, token=_digest(c)) for c in codes)
    return codes


@dataclass(frozen=True)
class Check:
    """What checking a code found: ``ok``; ``recovery`` when a recovery code was spent;
    ``wait_until`` when the device refused to check (too many wrong codes just now)."""

    ok: bool
    recovery: bool = False
    wait_until: datetime | None = None


def _check_device(device, token) -> Check:
    if device is None:
        return Check(False)
    allowed, details = device.verify_is_allowed()
    if not allowed:
        return Check(False, wait_until=(details or {}).get("locked_until"))
    return Check(device.verify_token(token), recovery=isinstance(device, StaticDevice))


def _totp(user) -> TotpDevice | None:
    return TotpDevice.objects.filter(user=user, confirmed=True).first()


def verify(user, code: str, *, recovery_allowed: bool = True) -> Check:
    """Check a code from the user's authenticator (six digits) or, when ``recovery_allowed``,
    one of their recovery codes (spent by this). A TOTP code already accepted is refused."""
    code = normalise(code)
    if code.isdigit() and len(code) <= 8:
        return _check_device(_totp(user), code)
    if not recovery_allowed or len(code) != RECOVERY_CODE_LENGTH:
        return Check(False)
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    return _check_device(device, _digest(code))


def code_error(check: Check) -> ValidationError:
    if check.wait_until is not None:
        return ValidationError({"code": "Too many wrong codes: wait a minute, then try again."})
    return ValidationError({"code": WRONG_CODE})


def confirm_enrolment(user, code: str) -> list[str]:
    """Confirm the pending authenticator with a code from it; answer the new recovery codes
    (to show once). A wrong code is a field error on ``code``."""
    _refuse_unless_applies(user)
    device = pending_enrolment(user)
    if device is None:
        raise ValidationError("Start the set-up again: there is no authenticator to confirm.")
    check = _check_device(device, normalise(code))
    if not check.ok:
        raise code_error(check)
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _new_recovery_codes(user)
        audit.record("mfa.enabled", actor=user, obj=user)
        return codes


def regenerate_recovery_codes(user, code: str) -> list[str]:
    """New recovery codes for a current authenticator code; the old ones stop working."""
    if not is_enabled(user):
        raise ValidationError("Two-factor sign-in is off.")
    check = verify(user, code, recovery_allowed=False)
    if not check.ok:
        raise code_error(check)
    with transaction.atomic():
        codes = _new_recovery_codes(user)
        audit.record("mfa.recovery_codes", actor=user, obj=user)
        return codes


def disable(user, password: str, code: str) -> None:
    """Turn two-factor sign-in off: the password and a code (or a recovery code) prove it."""
    if not is_enabled(user):
        raise ValidationError("Two-factor sign-in is off.")
    if not user.check_password(password):
        raise ValidationError({"password": "That is not your password."})
    check = verify(user, code)
    if not check.ok:
        raise code_error(check)
    with transaction.atomic():
        _remove(user)
        audit.record("mfa.disabled", actor=user, obj=user)


def reset(user) -> None:
    """An administrator's reset: every second factor of the user removed, in the audit trail
    under the administrator's name (the current request's user)."""
    with transaction.atomic():
        _remove(user)
        audit.record("mfa.reset", obj=user)


def _remove(user) -> None:
    TotpDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
