"""Helpers for the two-factor tests: a code computed from a device's secret (RFC 6238, by
django-otp's own TOTP arithmetic, no authenticator app), and an account with two-factor
sign-in set up through the same services the Settings page calls."""

import re
import time

from django_otp.oath import TOTP

from settings_app import two_factor
from settings_app.devices import TotpDevice
from tests.users import PASSWORD


def code_for(device, steps_ahead: int = 0) -> str:
    """The code ``device``'s app shows now (or ``steps_ahead`` 30-second steps from now)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + steps_ahead * device.step
    return f"{totp.token():0{device.digits}d}"


def enrol(user) -> tuple[TotpDevice, list[str]]:
    """Set two-factor sign-in up for ``user``; its device (confirmed) and recovery codes.
    The confirming code used the current time step: the next sign-in needs a later one
    (``code_for(device, 1)``), as a real app's next code is."""
    device = two_factor.start_enrolment(user)
    codes = two_factor.confirm_enrolment(user, code_for(device))
    device.refresh_from_db()
    return device, codes


def password_step(client, username, next_url=None, password=PASSWORD):
    """Post the login form; the response."""
    data = {"username": username, "password": password}
    if next_url is not None:
        data["next"] = next_url
    return client.post("/login/", data)


def codes_on(html: str) -> list[str]:
    """The recovery codes a codes page shows."""
    return re.findall(r"<li><code>([a-z2-9]{5}-[a-z2-9]{5})</code></li>", html)


def signed_in_as(client):
    from django.contrib.auth import SESSION_KEY

    return client.session.get(SESSION_KEY)
