"""Signing in through the real OpenID provider: PKCE, state and nonce sent; the account made
from the claims and linked by (issuer, subject); profile and groups refreshed each time;
a local account with the same name or email never taken over."""

from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from imagegen.core.models import AuditEntry
from settings_app.models import OidcIdentity
from tests.oidc.provider import (
    Signals,
    finish_sign_in,
    login_at_provider,
    sign_in,
    start_sign_in,
)
from tests.users import PASSWORD, make_user

pytestmark = [pytest.mark.slow, pytest.mark.django_db]
User = get_user_model()


def _groups(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


def test_the_provider_is_asked_for_code_with_pkce_state_and_nonce(oidc, client):
    query = parse_qs(urlsplit(start_sign_in(client)).query)
    assert query["response_type"] == ["code"]
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43  # base64url of a SHA-256
    assert query["state"][0] and query["nonce"][0]
    assert query["scope"] == ["openid email profile groups"]
    assert query["redirect_uri"] == ["http://testserver/oidc/callback/"]


def test_first_sign_in_creates_the_account_from_the_claims(oidc, client):
    with Signals() as signals:
        response = sign_in(client, "alice")
    assert response.status_code == 302
    assert response["Location"] == "/generate/"
    user = User.objects.get()
    assert (user.username, user.email, user.first_name, user.last_name) == (
        "alice",
        "alice@example.com",
        "Alice",
        "Liddell",
    )
    assert not user.has_usable_password()
    assert _groups(user) == {"artists", "reviewers"}
    identity = OidcIdentity.objects.get()
    assert (identity.user, identity.issuer, identity.subject) == (user, oidc.issuer, "u-1001")
    assert signals.logged_in == [user]
    assert signals.failed == []
    assert client.get("/generate/").status_code == 200  # signed in


def test_the_next_page_is_kept_across_the_provider(oidc, client):
    url = login_at_provider(start_sign_in(client, "?next=/gallery/"), "bob")
    assert finish_sign_in(client, url)["Location"] == "/gallery/"


def test_the_next_sign_in_finds_the_same_account_and_refreshes_it(oidc, client):
    sign_in(client, "alice")
    user = User.objects.get()
    user.email, user.first_name = "stale@example.com", "Stale"
    user.save()
    stale, manual = Group.objects.create(name="left-the-team"), Group.objects.create(name="manual")
    user.groups.add(stale, manual)
    user.groups.remove(Group.objects.get(name="reviewers"))
    identity = OidcIdentity.objects.get()
    identity.synced_groups = ["artists", "reviewers", "left-the-team"]
    identity.save()
    client.logout()

    with Signals() as signals:
        assert sign_in(client, "alice").status_code == 302
    assert User.objects.count() == 1
    user.refresh_from_db()
    assert (user.email, user.first_name) == ("alice@example.com", "Alice")
    # The claim's groups again; the one the claim dropped left; the admin's own kept.
    assert _groups(user) == {"artists", "reviewers", "manual"}
    assert sorted(OidcIdentity.objects.get().synced_groups) == ["artists", "reviewers"]
    assert signals.logged_in == [user]


def test_the_account_and_groups_a_sign_in_makes_are_recorded_as_the_users(oidc, client):
    sign_in(client, "alice")
    user = User.objects.get()
    entries = list(AuditEntry.objects.exclude(action="auth.sign_in").order_by("id"))
    assert {e.action for e in entries} == {"user.created", "group.changed", "user.changed"}
    for entry in entries:
        assert entry.actor == user, entry.action
        assert entry.details["via"] == "oidc"
        assert entry.details["issuer"] == oidc.issuer


def test_groups_are_not_touched_without_a_groups_claim_setting(oidc, client, settings):
    settings.OIDC_GROUPS_CLAIM = ""
    sign_in(client, "alice")
    assert _groups(User.objects.get()) == set()
    assert not Group.objects.exists()


def test_a_local_account_with_the_same_name_and_email_is_never_taken_over(oidc, client):
    local = make_user("Alice", email="alice@example.com")
    assert sign_in(client, "alice").status_code == 302
    assert User.objects.count() == 2
    created = User.objects.exclude(pk=local.pk).get()
    assert created.username == "alice-2"
    assert OidcIdentity.objects.get().user == created
    local.refresh_from_db()
    assert local.check_password(PASSWORD)
    assert not local.groups.exists()
    assert int(client.session["_auth_user_id"]) == created.pk


def test_without_preferred_username_the_name_comes_from_the_email(oidc, client):
    sign_in(client, "carol")
    assert User.objects.get().username == "carol"


def test_an_account_disabled_in_the_studio_cannot_sign_in(oidc, client):
    sign_in(client, "alice")
    User.objects.update(is_active=False)
    client.logout()
    response = sign_in(client, "alice")
    assert response.status_code == 403
    assert b"This account is disabled" in response.content
    assert "_auth_user_id" not in client.session


def test_a_next_page_on_another_site_is_ignored(oidc, client):
    url = login_at_provider(start_sign_in(client, "?next=https://evil.example/"), "bob")
    assert finish_sign_in(client, url)["Location"] == "/generate/"
