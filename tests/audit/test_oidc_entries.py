"""An OpenID Connect sign-in's own changes (the account it creates, the profile it refreshes,
the groups it syncs) name the user who signed in, not "system", and say how."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser, Group
from django.test import RequestFactory

from imagegen.core import audit
from settings_app.oidc import accounts
from settings_app.oidc.config import OidcSettings
from tests.audit.helpers import mark, since

pytestmark = pytest.mark.django_db

ISSUER = "https://idp.example.com"
CONF = OidcSettings(
    issuer=ISSUER,
    discovery_url="",
    client_id="studio",
    client_secret="not-used-here",
    scopes="openid email profile groups",
    groups_claim="groups",
    allowed_domains=(),
    only=False,
    provider_name="Test IdP",
    timeout=5,
)


def sign_in(claims, conf=CONF):
    """accounts.sign_in as the callback calls it: in an anonymous request."""
    request = RequestFactory().get("/oidc/callback/", HTTP_USER_AGENT="Firefox/140")
    request.user = AnonymousUser()
    with audit.request_context(request):
        return accounts.sign_in(ISSUER, claims, conf)


def claims(**extra):
    return {
        "sub": "u-1",
        "preferred_username": "alice",
        "email": "alice@example.com",
        "groups": ["artists"],
        **extra,
    }


def test_the_account_an_oidc_sign_in_creates_names_its_user(db):
    before = mark()
    user = sign_in(claims())
    entries = since(before)
    assert [e.action for e in entries] == ["user.created", "group.changed", "user.changed"]
    for entry in entries:
        assert (entry.actor, entry.actor_label) == (user, "alice"), entry.action
        assert entry.details["via"] == "oidc"
        assert entry.details["issuer"] == ISSUER
    assert entries[0].object_id == str(user.pk)
    assert entries[1].details["created"] is True  # the group "artists" made from the claim
    assert entries[2].details["groups_added"] == ["artists"]


def test_a_later_sign_in_names_its_user_for_profile_and_group_changes(db):
    user = sign_in(claims())
    Group.objects.create(name="reviewers")
    before = mark()
    sign_in(claims(email="alice@new.example.com", groups=["reviewers"]))
    entries = since(before)
    assert sorted(e.action for e in entries) == ["user.changed", "user.changed", "user.changed"]
    for entry in entries:
        assert entry.actor == user
        assert (entry.details["via"], entry.details["issuer"]) == ("oidc", ISSUER)
    details = [e.details for e in entries]
    assert any(d.get("groups_added") == ["reviewers"] for d in details)
    assert any(d.get("groups_removed") == ["artists"] for d in details)
    assert any(
        e.changes == {"email": ["alice@example.com", "alice@new.example.com"]} for e in entries
    )


def test_a_sign_in_that_changes_nothing_records_nothing_of_its_own(db):
    sign_in(claims())
    before = mark()
    sign_in(claims())
    assert since(before) == []


def test_after_the_sign_in_entries_no_longer_name_its_user(db):
    sign_in(claims())
    before = mark()
    get_user_model().objects.get(username="alice").groups.clear()
    entry = since(before)[0]
    assert (entry.actor, entry.details) == (None, {"groups_removed": ["artists"]})
