"""Linking an existing (password) account to the identity provider from Settings, through the
real provider, and unlinking it: the password first, a ticket used once, the answer of that
sign-in only, never an identity another account holds; audited."""

from urllib.parse import parse_qs, urlsplit

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from imagegen.core.models import AuditEntry
from settings_app.models import OidcIdentity
from settings_app.oidc import config as oidc_config
from settings_app.oidc import linking
from tests.mfa.helpers import code_for, enrol
from tests.oidc.provider import finish_sign_in, login_at_provider, sign_in, start_sign_in
from tests.users import PASSWORD, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
User = get_user_model()


def _start_link(client, password=PASSWORD):
    """Settings → Link (the password), then the continue page's link: the provider URL."""
    response = client.post("/settings/single-sign-on/link/", {"password": password})
    assert response.status_code == 200, response.content
    assert b"/oidc/authenticate/?link=1" in response.content
    return start_sign_in(client, "?link=1")


def _link(client, login):
    return finish_sign_in(client, login_at_provider(_start_link(client), login))


def test_settings_offer_the_link_while_oidc_is_on(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    page = client.get("/settings/").content.decode()
    assert 'id="single-sign-on"' in page
    assert "Not linked" in page and "Link Test IdP" in page


def test_no_section_and_404s_while_oidc_is_off(oidc_settings, client):
    client.force_login(make_user("owner"))
    assert 'id="single-sign-on"' not in client.get("/settings/").content.decode()
    for url in ("/settings/single-sign-on/link/", "/settings/single-sign-on/unlink/"):
        assert client.post(url, {"password": PASSWORD}).status_code == 404


def test_linking_ties_the_identity_to_the_account_and_later_sign_ins_find_it(oidc, client):
    owner = make_user("owner", email="old@example.com")
    Group.objects.create(name="hand-made").user_set.add(owner)
    client.force_login(owner)

    response = _link(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == "/settings/#single-sign-on"
    identity = OidcIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (owner, oidc.issuer, "u-1001")
    assert User.objects.count() == 1  # no second account
    owner.refresh_from_db()
    # Profile and groups from the provider, as at every sign-in; the admin's group stays.
    assert owner.email == "alice@example.com"
    assert set(owner.groups.values_list("name", flat=True)) == {
        "hand-made",
        "artists",
        "reviewers",
    }
    assert owner.has_usable_password()  # the password still works
    page = client.get("/settings/").content.decode()
    assert "Your account is linked" in page and "Linked:" in page
    entry = AuditEntry.objects.get(action="user.sso_linked")
    assert (entry.actor_id, entry.object_id, entry.details) == (
        owner.pk,
        str(owner.pk),
        {"issuer": oidc.issuer},
    )

    client.logout()
    assert sign_in(client, "alice").status_code == 302
    assert int(client.session["_auth_user_id"]) == owner.pk
    assert User.objects.count() == 1


def test_a_wrong_password_is_a_field_error_and_starts_nothing(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    response = client.post("/settings/single-sign-on/link/", {"password": "wrong"})
    assert response.status_code == 400
    assert b"That is not your password." in response.content
    assert linking.TICKET_KEY not in client.session
    refused = client.get("/oidc/authenticate/?link=1")
    assert refused.status_code == 400
    assert b"This link request is not valid" in refused.content
    assert b"Back to Settings" in refused.content


def test_the_ticket_is_used_once_and_expires(oidc, client):
    client.force_login(make_user("owner"))
    _start_link(client)
    assert client.get("/oidc/authenticate/?link=1").status_code == 400  # used up

    client.post("/settings/single-sign-on/link/", {"password": PASSWORD})
    session = client.session
    session[linking.TICKET_KEY]["expires"] = 0
    session.save()
    assert client.get("/oidc/authenticate/?link=1").status_code == 400


def test_a_link_needs_the_account_that_started_it(oidc, client):
    """The session's account changed between start and answer: refused, nothing linked,
    nobody created."""
    client.force_login(make_user("owner"))
    callback = login_at_provider(_start_link(client), "alice")
    other = make_user("other")
    session = client.session  # the started flow stays; the account is another now
    session["_auth_user_id"] = str(other.pk)
    session["_auth_user_hash"] = other.get_session_auth_hash()
    session.save()
    response = finish_sign_in(client, callback)
    assert response.status_code == 400
    assert b"This link request is not valid" in response.content
    assert not OidcIdentity.objects.exists()
    assert User.objects.count() == 2


def test_an_identity_of_another_account_is_refused(oidc, client):
    assert sign_in(client, "alice").status_code == 302  # alice's own account, made by SSO
    client.logout()
    owner = make_user("owner", email="owner@example.com")
    client.force_login(owner)
    response = _link(client, "alice")
    assert response.status_code == 409
    assert b"linked to another account" in response.content
    assert b"Back to Settings" in response.content
    assert OidcIdentity.objects.get().user.username == "alice"
    owner.refresh_from_db()
    assert owner.email == "owner@example.com"  # nothing changed
    assert not AuditEntry.objects.filter(action="user.sso_linked").exists()
    assert int(client.session["_auth_user_id"]) == owner.pk  # still signed in as owner


def test_an_account_linked_already_is_told_so_and_gets_no_ticket(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    assert _link(client, "alice").status_code == 302
    response = client.post("/settings/single-sign-on/link/", {"password": PASSWORD})
    assert response.status_code == 400
    assert b"linked already" in response.content
    assert linking.TICKET_KEY not in client.session


def test_a_second_identity_linked_meanwhile_is_refused_at_the_answer(oidc, client):
    """Another tab linked the account while this link was at the provider."""
    owner = make_user("owner")
    client.force_login(owner)
    callback = login_at_provider(_start_link(client), "bob")
    OidcIdentity.objects.create(user=owner, issuer=oidc.issuer, subject="u-1001")
    response = finish_sign_in(client, callback)
    assert response.status_code == 409
    assert b"Your account is already linked" in response.content
    assert list(OidcIdentity.objects.values_list("subject", flat=True)) == ["u-1001"]


def test_a_cancelled_link_leads_back_to_settings_and_makes_no_account(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    response = finish_sign_in(client, login_at_provider(_start_link(client), "", cancel=True))
    assert response.status_code == 403
    assert b"Back to Settings" in response.content
    assert b"Try again with" not in response.content  # no sign-in into another account
    assert User.objects.count() == 1
    assert int(client.session["_auth_user_id"]) == owner.pk


def test_a_link_answered_after_the_ticket_ended_is_refused(oidc, client):
    """The provider's page left open and finished later does not link: the flow carries the
    ticket's end."""
    owner = make_user("owner")
    client.force_login(owner)
    callback = login_at_provider(_start_link(client), "alice")
    session = client.session
    for flow in session["oidc_states"].values():
        flow[linking.FLOW_UNTIL] = 0
    session.save()
    response = finish_sign_in(client, callback)
    assert response.status_code == 400
    assert not OidcIdentity.objects.exists()


def test_the_provider_is_asked_to_sign_in_afresh_for_a_link_only(oidc, client):
    client.force_login(make_user("owner"))
    assert parse_qs(urlsplit(_start_link(client)).query)["prompt"] == ["login"]
    client.logout()
    assert "prompt" not in parse_qs(urlsplit(start_sign_in(client)).query)


def test_a_refused_link_leaves_no_token_of_the_other_person_in_the_session(oidc, client):
    assert sign_in(client, "alice").status_code == 302
    client.logout()
    client.force_login(make_user("owner"))
    assert _link(client, "alice").status_code == 409
    assert "oidc_id_token" not in client.session
    assert "oidc_access_token" not in client.session


def test_wrong_passwords_count_toward_the_lockout(oidc, client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    owner = make_user("owner")
    client.force_login(owner)
    statuses = [
        client.post("/settings/single-sign-on/link/", {"password": "wrong"}).status_code
        for _ in range(3)
    ]
    assert statuses == [400, 400, 429]  # the third locks out: django-axes' own page
    assert AccessAttempt.objects.filter(username="owner").get().failures_since_start == 3
    locked = client.post("/settings/single-sign-on/link/", {"password": PASSWORD})
    assert locked.status_code == 400
    assert b"Too many wrong attempts" in locked.content
    assert linking.TICKET_KEY not in client.session
    assert AuditEntry.objects.filter(action="auth.sign_in_failed").count() == 3


def test_with_two_factor_on_the_link_asks_the_code_too(oidc, client):
    owner = make_user("owner")
    device, _codes = enrol(owner)
    client.force_login(owner)
    page = client.get("/settings/").content.decode()
    assert 'id="sso-link-code"' in page
    missing = client.post("/settings/single-sign-on/link/", {"password": PASSWORD})
    assert missing.status_code == 400
    assert b"That code is not right" in missing.content
    assert linking.TICKET_KEY not in client.session
    right = client.post(
        "/settings/single-sign-on/link/", {"password": PASSWORD, "code": code_for(device, 1)}
    )
    assert right.status_code == 200
    assert linking.TICKET_KEY in client.session
    # The same code again (already used), or a wrong one: refused as at sign-in.
    for code in (code_for(device, 1), "000000"):
        again = client.post("/settings/single-sign-on/link/", {"password": PASSWORD, "code": code})
        assert again.status_code == 400
        assert b'id="sso-code-error"' in again.content


def test_a_link_stored_with_the_issuers_trailing_slash_is_found(oidc_settings, db):
    """Discovery's issuer may end in "/" (Auth0) where OIDC_ISSUER is kept without it."""
    oidc_settings.OIDC_ISSUER = "https://login.example.com/"
    owner = make_user("owner")
    OidcIdentity.objects.create(user=owner, issuer="https://login.example.com/", subject="s")
    assert linking.identity_of(owner, oidc_config.current()).subject == "s"


def test_linking_obeys_the_allowed_domains(oidc, client, settings):
    settings.OIDC_ALLOWED_DOMAINS = ["example.com"]
    client.force_login(make_user("owner"))
    response = _link(client, "eve")
    assert response.status_code == 403
    assert b"Back to Settings" in response.content
    assert not OidcIdentity.objects.exists()


def test_unlink_needs_the_password_and_is_audited(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    _link(client, "alice")
    refused = client.post("/settings/single-sign-on/unlink/", {"password": "wrong"})
    assert refused.status_code == 400
    assert b"That is not your password." in refused.content
    assert OidcIdentity.objects.exists()

    response = client.post("/settings/single-sign-on/unlink/", {"password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/settings/#single-sign-on"
    assert not OidcIdentity.objects.exists()
    assert AuditEntry.objects.filter(action="user.sso_unlinked", actor=owner).count() == 1
    # Signing in through the provider now makes a new account (the link is gone).
    client.logout()
    sign_in(client, "alice")
    assert int(client.session["_auth_user_id"]) == User.objects.get(username="alice").pk


def test_an_account_made_by_the_provider_cannot_unlink(oidc, client):
    sign_in(client, "alice")
    page = client.get("/settings/").content.decode()
    assert "stays linked" in page and "Unlink" not in page
    response = client.post("/settings/single-sign-on/unlink/", {"password": "anything"})
    assert response.status_code == 400
    assert b"cannot be unlinked" in response.content
    assert OidcIdentity.objects.exists()


def test_under_oidc_only_a_member_cannot_unlink_but_a_superuser_can(oidc, client, settings):
    member = make_user("member")
    client.force_login(member)
    _link(client, "alice")
    settings.OIDC_ONLY = True
    assert (
        client.post("/settings/single-sign-on/unlink/", {"password": PASSWORD}).status_code == 400
    )
    assert OidcIdentity.objects.filter(user=member).exists()

    chief = User.objects.create_superuser("chief", password=PASSWORD)
    client.force_login(chief)
    _link(client, "bob")
    response = client.post("/settings/single-sign-on/unlink/", {"password": PASSWORD})
    assert response.status_code == 302
    assert not OidcIdentity.objects.filter(user=chief).exists()
