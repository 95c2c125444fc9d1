"""The authenticator app of two-factor sign-in (settings_app/two_factor.py): django-otp's TOTP
device with its shared secret encrypted at rest.

django-otp's own ``TOTPDevice`` keeps the secret as plain hex, so it would sit readable in the
database and in every backup; here it is an ``EncryptedSecretField`` under ENCRYPTION_KEY, like
the provider keys (rotated with them by ``rotate_encryption_key``). Loaded with the app's
models (``settings_app.models`` imports it).
"""

import time
from base64 import b32encode
from binascii import unhexlify
from urllib.parse import quote, urlencode

from django.conf import settings
from django.db import models
from django.db.models import F
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin
from django_otp.oath import TOTP
from django_otp.util import random_hex

from imagegen.core.crypto import EncryptedSecretField


def default_totp_secret() -> str:
    """A new authenticator secret: 20 random bytes (RFC 6238's SHA-1 size), as hex."""
    return random_hex(20)


class TotpDevice(TimestampMixin, ThrottlingMixin, Device):
    """An authenticator app (TOTP, RFC 6238) of one user, with the fields and rules of
    django-otp's ``TOTPDevice`` and its settings (``OTP_TOTP_SYNC``,
    ``OTP_TOTP_THROTTLE_FACTOR``, ``OTP_TOTP_ISSUER``): a code is accepted within
    ``tolerance`` steps of now and only at a step after ``last_t`` (so once); wrong codes slow
    the next check down (exponential back-off). A secret that does not open with the current
    ENCRYPTION_KEY reads as None: then no code verifies until the user sets it up again.
    """

    secret = EncryptedSecretField(
        default=default_totp_secret,
        editable=False,
        help_text="The shared secret (hex), stored encrypted; shown only to its owner at set-up.",
    )
    step = models.PositiveSmallIntegerField(default=30, help_text="The time step in seconds.")
    t0 = models.BigIntegerField(
        default=0, help_text="The Unix time at which to begin counting steps."
    )
    digits = models.PositiveSmallIntegerField(
        choices=[(6, 6), (8, 8)], default=6, help_text="The number of digits in a code."
    )
    tolerance = models.PositiveSmallIntegerField(
        default=1, help_text="The number of time steps in the past or future to allow."
    )
    drift = models.SmallIntegerField(
        default=0, help_text="The number of time steps the app is known to be off our clock."
    )
    last_t = models.BigIntegerField(
        default=-1,
        help_text="The time step of the last accepted code; the next must be at a later one.",
    )

    class Meta(Device.Meta):
        verbose_name = "TOTP device"

    @property
    def bin_key(self) -> bytes:
        """The secret as bytes; ValueError when it does not open with ENCRYPTION_KEY."""
        if self.secret is None:
            raise ValueError("the authenticator secret does not open with ENCRYPTION_KEY")
        return unhexlify(str(self.secret).encode())

    @property
    def config_url(self) -> str:
        """The otpauth:// URL (Key URI Format) an authenticator app reads from the QR code."""
        label = str(self.user.get_username())
        params = urlencode(
            {
                "secret": b32encode(self.bin_key),
                "algorithm": "SHA1",
                "digits": self.digits,
                "period": self.step,
            }
        )
        issuer = getattr(settings, "OTP_TOTP_ISSUER", None)
        if callable(issuer):
            issuer = issuer(self)
        if isinstance(issuer, str) and issuer:
            issuer = issuer.replace(":", "")
            label = f"{issuer}:{label}"
            params += f"&issuer={quote(issuer)}"  # RFC 3986, not quote_plus
        return f"otpauth://totp/{quote(label)}?{params}"

    def get_throttle_factor(self) -> int:
        return getattr(settings, "OTP_TOTP_THROTTLE_FACTOR", 1)

    def verify_token(self, token) -> bool:
        """Whether ``token`` is the app's code now (within ``tolerance`` steps) at a later step
        than any code accepted before. Accepting claims that step with one conditional update,
        so two requests with the same code cannot both pass; a refusal counts towards the
        back-off."""
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        match = self._match(token)
        if match is not None and self._claim(*match):
            return True
        self.throttle_increment(commit=True)
        return False

    def _match(self, token) -> tuple[int, int] | None:
        """(time step, drift) at which ``token`` is the code, after ``last_t``; else None."""
        try:
            token = int(token)
            key = self.bin_key
        except (TypeError, ValueError):
            return None
        totp = TOTP(key, self.step, self.t0, self.digits, self.drift)
        totp.time = time.time()
        if not totp.verify(token, self.tolerance, self.last_t + 1):
            return None
        return totp.t(), totp.drift

    def _claim(self, step: int, drift: int) -> bool:
        changes = {
            "last_t": step,
            "throttling_failure_timestamp": None,
            "throttling_failure_count": 0,
            "last_used_at": timezone.now(),
        }
        if getattr(settings, "OTP_TOTP_SYNC", True):
            changes["drift"] = drift
        if not TotpDevice.objects.filter(pk=self.pk, last_t__lt=step).update(**changes):
            return False  # another request accepted this code (or a later one) first
        for name, value in changes.items():
            setattr(self, name, value)
        return True

    def throttle_reset(self, commit=True):
        """Forget the wrong codes; saves only the throttling fields (never the secret)."""
        self.throttling_failure_timestamp = None
        self.throttling_failure_count = 0
        if commit:
            self.save(update_fields=["throttling_failure_timestamp", "throttling_failure_count"])

    def throttle_increment(self, commit=True):
        """Count one more wrong code; in the database with F(), so concurrent guesses all
        count, and without writing the secret."""
        self.throttling_failure_timestamp = timezone.now()
        if not commit:
            self.throttling_failure_count += 1
            return
        TotpDevice.objects.filter(pk=self.pk).update(
            throttling_failure_timestamp=self.throttling_failure_timestamp,
            throttling_failure_count=F("throttling_failure_count") + 1,
        )
        self.refresh_from_db(fields=["throttling_failure_count"])
