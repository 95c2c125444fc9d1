"""Linking an existing (password) account to the identity provider from Settings, through the
real provider, and unlinking it: the password first, a ticket used once, the answer of that
sign-in only, never an identity another account holds; audited."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from imagegen.core.models import AuditEntry
from settings_app.models import OidcIdentity
from settings_app.oidc import linking
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


def test_an_account_linked_already_cannot_link_a_second_identity(oidc, client):
    owner = make_user("owner")
    client.force_login(owner)
    assert _link(client, "alice").status_code == 302
    response = _link(client, "bob")
    assert response.status_code == 409
    assert b"Your account is already linked" in response.content
    assert list(OidcIdentity.objects.values_list("subject", flat=True)) == ["u-1001"]


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
