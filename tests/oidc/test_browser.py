"""In Chromium, against pytest-django's live server and the real provider: sign in with
PKCE, the account and its groups made, sign out at the provider (RP-initiated logout); the
login and failure pages pass axe-core and fit 390 px in both colour schemes."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from settings_app.models import OidcIdentity
from tests.oidc.provider import PASSWORD, closed_port_url

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def sign_in_at_provider(page, oidc, login):
    """At the provider's login form (the browser is on its way there): sign in as ``login``."""
    page.wait_for_url(f"{oidc.issuer}/interaction/**")
    page.get_by_label("Username").fill(login)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_through_the_provider_and_sign_out_there(oidc, live_server, page, axe, screenshot):
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_server.url}/login/")
    assert axe(page) == []
    screenshot(page, "oidc-login")
    page.get_by_role("link", name="Sign in with Test IdP").click()

    sign_in_at_provider(page, oidc, "alice")
    page.wait_for_url(f"{live_server.url}/generate/")

    authorize = [url for url in requests if url.startswith(f"{oidc.issuer}/auth?")]
    assert len(authorize) == 1
    query = parse_qs(urlsplit(authorize[0]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert "code_verifier" not in query  # the verifier goes only to the token endpoint
    user = get_user_model().objects.get(username="alice")
    assert set(user.groups.values_list("name", flat=True)) == {"artists", "reviewers"}
    assert OidcIdentity.objects.get().user == user
    assert page.locator(".account").get_by_text("alice").is_visible()

    page.get_by_role("button", name="Log out").click()
    # Our page sends the browser on to the provider, which asks to confirm.
    page.wait_for_url(f"{oidc.issuer}/session/end**")
    page.get_by_role("button", name="Yes, sign me out").click()
    page.wait_for_url(f"{live_server.url}/login/")
    assert any(url.startswith(f"{oidc.issuer}/session/end?") for url in requests)
    assert any(url.startswith(f"{oidc.issuer}/session/end/confirm") for url in requests)
    assert page.get_by_role("link", name="Sign in with Test IdP").is_visible()
    # Signed out here too: a page that needs an account goes back to the login page.
    page.goto(f"{live_server.url}/generate/")
    assert urlsplit(page.url).path == "/login/"


# Chrome logs the failure page's own error status.
@pytest.mark.allow_console(r"status of 502 \(Bad Gateway\)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1366])
def test_the_sign_in_pages_pass_axe_and_fit(
    oidc_settings, live_server, new_page, axe, screenshot, scheme, width
):
    oidc_settings.OIDC_ISSUER = closed_port_url()
    oidc_settings.OIDC_ONLY = True
    page = new_page(width=width, height=900, color_scheme=scheme)
    for name, path, status in [
        ("login-oidc-only", "/login/", 200),
        ("login-local", "/login/?local=1", 200),
        ("unreachable", "/oidc/authenticate/", 502),
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == status, name
        assert axe(page) == [], name
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, name
        screenshot(page, f"oidc-{name}-{width}-{scheme}")


# Chrome logs the wrong password's 400.
@pytest.mark.allow_console(r"status of 400 \(Bad Request\)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("width", [390, 1366])
def test_link_a_password_account_from_settings(
    oidc, live_server, new_page, client, axe, screenshot, scheme, width
):
    """Settings → Single sign-on: the password, the continue page's refresh on to the
    provider (no form-action CSP refusal), back to Settings linked; the section passes axe
    and fits, linked and not."""
    owner = get_user_model().objects.create_user("owner", password="a-long-local-password")
    client.force_login(owner)
    page = new_page(width=width, height=900, color_scheme=scheme)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/settings/#single-sign-on")
    section = page.locator("#single-sign-on")
    assert "Not linked" in section.inner_text()
    assert axe(page) == []
    screenshot(page, f"oidc-link-before-{width}-{scheme}")

    section.get_by_label("Your password").fill("wrong")
    section.get_by_role("button", name="Link Test IdP").click()
    assert page.locator("#sso-password-error").inner_text() == "That is not your password."
    assert axe(page) == []

    section.get_by_label("Your password").fill("a-long-local-password")
    section.get_by_role("button", name="Link Test IdP").click()
    sign_in_at_provider(page, oidc, "alice")
    page.wait_for_url(f"{live_server.url}/settings/#single-sign-on")
    assert OidcIdentity.objects.get().user == owner
    assert "Your account is linked" in page.locator(".toast").first.inner_text()
    assert "Linked:" in page.locator("#single-sign-on").inner_text()
    assert axe(page) == []
    scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert scroll <= inner
    screenshot(page, f"oidc-link-after-{width}-{scheme}")
