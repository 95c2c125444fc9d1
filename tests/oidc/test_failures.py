"""Every way a sign-in can go wrong ends on a page a person can read, with a way back, the
right status, no account made, nobody signed in, and no token, code or secret in the log.

The provider is the real one; a wrong audience, an expired token, a bad signature, another
issuer or a nonce mismatch come from a proxy that re-signs the provider's ID token
(tests/oidc/provider.py, TamperingProxy)."""

import copy
import logging
import time

import pytest
from django.contrib.auth import get_user_model

from settings_app.models import OidcIdentity
from tests.oidc.provider import (
    CLIENT_SECRET,
    Signals,
    TamperingProxy,
    callback_path,
    closed_port_url,
    finish_sign_in,
    login_at_provider,
    new_rsa_key,
    sign_in,
    start_sign_in,
)

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
User = get_user_model()


def assert_refused(response, client, status: int, words: str):
    """The failure page: its status and words, a way back, nobody signed in, no account."""
    assert response.status_code == status, response.content[:500]
    html = response.content.decode()
    assert words in html
    assert 'href="/oidc/authenticate/"' in html  # Try again
    assert 'href="/login/"' in html  # Sign in with password
    assert "_auth_user_id" not in client.session
    assert not User.objects.exists()
    assert not OidcIdentity.objects.exists()


def test_a_tampered_state_is_refused(oidc, client, caplog):
    url = login_at_provider(start_sign_in(client), "alice")
    path, query = callback_path(url)
    response = client.get(path, {**query, "state": "forged-state"})
    assert_refused(response, client, 400, "This sign-in link is not valid")
    assert query["code"] not in caplog.text


def test_a_callback_without_a_sign_in_started_here_is_refused(oidc, client):
    url = login_at_provider(start_sign_in(client), "alice")
    client.cookies.clear()  # another browser: it never started this sign-in
    assert_refused(finish_sign_in(client, url), client, 400, "This sign-in link is not valid")


def test_a_callback_without_state_is_refused(oidc, client):
    url = login_at_provider(start_sign_in(client), "alice")
    path, query = callback_path(url)
    response = client.get(path, {"code": query["code"]})
    assert_refused(response, client, 400, "This sign-in link is not valid")


def test_the_same_callback_twice_is_refused_the_second_time(oidc, client):
    url = login_at_provider(start_sign_in(client), "alice")
    assert finish_sign_in(client, url).status_code == 302
    client.logout()
    User.objects.all().delete()
    assert_refused(finish_sign_in(client, url), client, 400, "This sign-in link is not valid")


def test_a_replayed_code_is_refused_by_the_provider(oidc, client, caplog):
    """A true replay: the very same callback URL again, with this browser's session holding
    that flow's state again (its PKCE verifier and nonce), so the studio's own checks pass and
    only the provider stands in the way: the code was used, it answers invalid_grant."""
    authorization = start_sign_in(client)
    flow_states = copy.deepcopy(client.session["oidc_states"])
    assert len(flow_states) == 1
    used = login_at_provider(authorization, "alice")
    assert finish_sign_in(client, used).status_code == 302
    account = User.objects.get()
    client.logout()
    session = client.session
    session["oidc_states"] = flow_states  # as an attacker holding the session's state would
    session.save()
    with Signals() as signals:
        response = finish_sign_in(client, used)
    assert response.status_code == 400, response.content[:500]
    html = response.content.decode()
    assert "already used or has expired" in html
    assert 'href="/oidc/authenticate/"' in html and 'href="/login/"' in html
    assert "_auth_user_id" not in client.session
    assert len(signals.failed) == 1 and signals.logged_in == []
    # No second account or link: the first sign-in's, unchanged.
    assert list(User.objects.all()) == [account]
    assert OidcIdentity.objects.get().user == account
    _, used_query = callback_path(used)
    assert used_query["code"] not in caplog.text
    assert "invalid_grant" in caplog.text  # the provider's word, not our state check


def test_access_denied_by_the_provider(oidc, client):
    url = login_at_provider(start_sign_in(client), "alice", cancel=True)
    assert "error=access_denied" in url
    with Signals() as signals:
        response = finish_sign_in(client, url)
    assert_refused(response, client, 403, "The sign-in was cancelled or refused")
    assert signals.failed == []  # nothing was tried with credentials
    # The state is used up by the error answer too.
    assert client.session["oidc_states"] == {}


@pytest.mark.parametrize("login", ["eve", "mallory"], ids=["other-domain", "unverified-email"])
def test_an_address_outside_the_allowed_domains_is_refused(oidc, client, settings, login):
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    with Signals() as signals:
        response = sign_in(client, login)
    assert_refused(response, client, 403, "This address may not sign in here")
    assert len(signals.failed) == 1


def test_an_address_in_an_allowed_domain_signs_in(oidc, client, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["other.example", "example.com"]
    assert sign_in(client, "alice").status_code == 302
    assert User.objects.get().username == "alice"


def test_an_unreachable_provider_gets_a_clear_page(oidc_settings, client, caplog):
    oidc_settings.OIDC_ISSUER = closed_port_url()
    response = client.get("/oidc/authenticate/")
    assert_refused(response, client, 502, "The sign-in provider cannot be reached")


def test_a_provider_whose_token_endpoint_is_down_gets_a_clear_page(oidc, oidc_settings, client):
    with TamperingProxy(oidc, token_url=f"{closed_port_url()}/token") as proxy:
        oidc_settings.OIDC_ISSUER = ""
        oidc_settings.OIDC_DISCOVERY_URL = proxy.discovery_url
        response = sign_in(client, "alice")
    assert_refused(response, client, 502, "The sign-in provider cannot be reached")


def test_a_discovery_document_of_another_issuer_is_refused(oidc, oidc_settings, client):
    with TamperingProxy(oidc) as proxy:
        oidc_settings.OIDC_ISSUER = proxy.url  # the document names the real provider
        oidc_settings.OIDC_DISCOVERY_URL = proxy.discovery_url
        response = client.get("/oidc/authenticate/")
    assert_refused(response, client, 502, "Single sign-on is not set up correctly")


def _shift(claims, **changes):
    return {**claims, **changes}


TAMPERED = {
    "wrong-audience": {"alter": lambda c: _shift(c, aud="another-client")},
    "several-audiences-without-azp": {"alter": lambda c: _shift(c, aud=[c["aud"], "other"])},
    "expired": {
        "alter": lambda c: _shift(c, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200)
    },
    "other-issuer": {"alter": lambda c: _shift(c, iss="http://127.0.0.1:1")},
    "nonce-mismatch": {"alter": lambda c: _shift(c, nonce="not-the-one-we-sent")},
    "no-nonce": {"alter": lambda c: {k: v for k, v in c.items() if k != "nonce"}},
    "bad-signature": {"signing_key": "other"},
}


@pytest.mark.parametrize("case", TAMPERED, ids=list(TAMPERED))
def test_an_id_token_that_does_not_check_out_is_refused(oidc, oidc_settings, client, caplog, case):
    options = dict(TAMPERED[case])
    if options.get("signing_key") == "other":
        options["signing_key"] = new_rsa_key()
    caplog.set_level(logging.INFO)
    with TamperingProxy(oidc, **options) as proxy:
        oidc_settings.OIDC_ISSUER = ""
        oidc_settings.OIDC_DISCOVERY_URL = proxy.discovery_url
        with Signals() as signals:
            response = sign_in(client, "alice")
    assert_refused(response, client, 400, "could not be verified")
    # One failed sign-in signal, its credentials masked (nonce and PKCE verifier).
    assert len(signals.failed) == 1
    assert set(signals.failed[0].values()) == {"********************"}
    assert CLIENT_SECRET not in caplog.text
    assert "eyJ" not in caplog.text  # no JWT


def test_the_untampered_proxy_signs_in(oidc, oidc_settings, client):
    """The proxy itself changes nothing: the refusals above are the alterations'."""
    with TamperingProxy(oidc) as proxy:
        oidc_settings.OIDC_ISSUER = ""
        oidc_settings.OIDC_DISCOVERY_URL = proxy.discovery_url
        assert sign_in(client, "alice").status_code == 302
    assert User.objects.get().username == "alice"


def test_the_sign_in_urls_are_404_while_oidc_is_off(client, db):
    assert client.get("/oidc/authenticate/").status_code == 404
    assert client.get("/oidc/callback/", {"code": "x", "state": "y"}).status_code == 404


def test_refused_sign_ins_do_not_lock_the_address_out_of_single_sign_on(oidc, client, settings):
    """django-axes counts password failures per username and address; a refused OIDC sign-in
    names no account, and the provider throttles its own logins: an office behind one address
    must not be locked out of single sign-on by a few refused colleagues."""
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    for _ in range(settings.AXES_FAILURE_LIMIT + 1):
        assert sign_in(client, "eve").status_code == 403
    assert sign_in(client, "alice").status_code == 302
    assert User.objects.get().username == "alice"


def test_an_answer_naming_another_issuer_is_refused(oidc, client):
    """RFC 9207: the provider names itself in its answer (a mix-up attack names another)."""
    url = login_at_provider(start_sign_in(client), "alice")
    path, query = callback_path(url)
    assert query["iss"] == oidc.issuer
    response = client.get(path, {**query, "iss": "http://127.0.0.1:1"})
    assert_refused(response, client, 400, "This sign-in link is not valid")
