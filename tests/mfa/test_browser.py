"""In a browser: set up two-factor sign-in from the Settings page (QR code, key, code), save
the recovery codes, then sign in through the code step. Every page is checked with axe-core
(no serious or critical violation), fits 390 px without sideways scroll, in both themes, with
no console error or CSP violation (the ``new_page`` fixture), and is photographed."""

from base64 import b32decode
from pathlib import Path

import pytest
from django_otp.oath import totp

from settings_app.devices import TotpDevice
from settings_app.models import Preferences
from tests.mfa.helpers import code_for
from tests.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"1366": (1366, 900), "390": (390, 844)}


def problems_of(page, axe, width):
    found = [f"axe {v['impact']} {v['id']}: {v['help']} {v['nodes']}" for v in axe(page)]
    if width <= 390:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            found.append(f"scrolls sideways: {scroll} px in {inner} px")
    return found


def sign_in_with_password(page, base, username):
    page.goto(f"{base}/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", VIEWPORTS)
def test_set_up_then_sign_in_with_a_code(
    new_page, live_server, axe, screenshot, owner, size, theme
):
    width, height = VIEWPORTS[size]
    Preferences.objects.update_or_create(user=owner, defaults={"theme": theme})
    page = new_page(width=width, height=height, color_scheme=theme)
    base = live_server.url
    found = {}

    def look(name):
        page.wait_for_load_state("load")
        problems = problems_of(page, axe, width)
        if problems:
            found[name] = problems
        screenshot(page, f"two-factor-{name}-{size}-{theme}")

    sign_in_with_password(page, base, owner.username)
    page.wait_for_url("**/generate/")
    page.goto(f"{base}/settings/")
    page.click("text=Set up two-factor sign-in")
    page.wait_for_url("**/settings/two-factor/")
    look("off")

    page.click("button:has-text('Set up two-factor sign-in')")
    page.locator("svg.qr-code").wait_for()
    look("set-up")
    secret = page.locator("[data-secret]").inner_text().replace(" ", "")
    code = f"{totp(b32decode(secret + '=' * (-len(secret) % 8))):06d}"
    page.fill("#confirm-code", code)
    page.click("button:has-text('Turn on')")
    page.locator("#recovery-codes").wait_for()
    look("codes")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    with page.expect_download() as download:
        page.click("button:has-text('Download as a text file')")
    saved = Path(download.value.path()).read_text()
    assert all(c in saved for c in codes)

    page.click("text=I have saved them")
    page.wait_for_url("**/settings/two-factor/")
    look("on")
    assert secret not in page.content()

    if page.locator(".nav-toggle").is_visible():  # at 390 px the menu holds "Log out"
        page.click(".nav-toggle")
    page.click("header button:has-text('Log out')")
    page.wait_for_url("**/login/")
    sign_in_with_password(page, base, owner.username)
    page.wait_for_url("**/login/verify/")
    look("verify")
    page.fill("#id_code", "000000")
    page.press("#id_code", "Enter")
    page.locator("#code-error").wait_for()
    look("verify-wrong")
    # The device slows guesses down (1 s after a wrong one): the next code is accepted later.
    device = TotpDevice.objects.get(user=owner)
    device.throttle_reset()
    page.fill("#id_code", code_for(device, 1))
    page.press("#id_code", "Enter")
    page.wait_for_url("**/generate/")

    report = "\n".join(f"{name}: " + "\n    ".join(p) for name, p in sorted(found.items()))
    assert not found, f"{size} px, {theme} theme:\n{report}"
