"""Accounts from claims, without a provider (settings_app/oidc/accounts.py): a groups claim
that is missing or unreadable changes no membership, and two people's first sign-ins that
want the same name at once both get an account."""

import logging
from unittest import mock

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError

from settings_app.models import OidcIdentity
from settings_app.oidc import accounts
from settings_app.oidc.config import current

pytestmark = pytest.mark.django_db
User = get_user_model()
ISSUER = "https://idp.example"


def claims(sub="sub-1", **more):
    return {"sub": sub, "preferred_username": "alice", "email": "alice@example.com", **more}


def groups_of(user) -> set[str]:
    return set(user.groups.values_list("name", flat=True))


# --- The groups claim ---------------------------------------------------------------------------


@pytest.fixture
def synced(oidc_settings):
    """An account whose first sign-in's claim set two groups, plus one an admin gave."""
    user = accounts.sign_in(ISSUER, claims(groups=["artists", "reviewers"]), current())
    user.groups.add(Group.objects.create(name="manual"))
    return user


ENTRA_OVERAGE = {
    "_claim_names": {"groups": "src1"},
    "_claim_sources": {
        "src1": {"endpoint": "https://graph.windows.net/t/users/u/getMemberObjects"}
    },
}
UNREADABLE = {
    "missing": {},
    "entra-overage": ENTRA_OVERAGE,
    "null": {"groups": None},
    "an-object": {"groups": {"artists": True}},
    "a-number": {"groups": 7},
}


@pytest.mark.parametrize("extra", UNREADABLE.values(), ids=list(UNREADABLE))
def test_a_missing_or_unreadable_groups_claim_leaves_memberships_unchanged(synced, caplog, extra):
    caplog.set_level(logging.WARNING, logger="imagegen.oidc")
    user = accounts.sign_in(ISSUER, claims(**extra), current())
    assert user == synced
    assert groups_of(user) == {"artists", "reviewers", "manual"}
    assert sorted(OidcIdentity.objects.get().synced_groups) == ["artists", "reviewers"]
    assert "groups claim is missing or not a list" in caplog.text
    # The next sign-in with the claim back syncs against what the first one set.
    user = accounts.sign_in(ISSUER, claims(groups=["artists"]), current())
    assert groups_of(user) == {"artists", "manual"}


def test_an_empty_groups_list_is_no_groups(synced):
    user = accounts.sign_in(ISSUER, claims(groups=[]), current())
    assert groups_of(user) == {"manual"}
    assert OidcIdentity.objects.get().synced_groups == []


def test_a_first_sign_in_without_the_claim_joins_nothing(oidc_settings):
    user = accounts.sign_in(ISSUER, claims(), current())
    assert groups_of(user) == set()
    assert OidcIdentity.objects.get().synced_groups == []


# --- Two first sign-ins with one name at once ---------------------------------------------------


def test_a_name_taken_meanwhile_by_another_first_sign_in_is_retried(oidc_settings):
    """Both first sign-ins looked the name up before either saved it: the second one's save
    collides (forced here: the name it was given is already taken) and it takes the next."""
    other = accounts.sign_in(ISSUER, claims(sub="someone-else"), current())
    assert other.username == "alice"
    with mock.patch.object(accounts, "unique_username", side_effect=["alice", "alice-2"]):
        user = accounts.sign_in(ISSUER, claims(sub="sub-2"), current())
    assert user.username == "alice-2" and user != other
    assert OidcIdentity.objects.get(subject="sub-2").user == user
    assert User.objects.count() == 2


def test_a_name_that_keeps_colliding_gives_up_after_a_few_tries(oidc_settings):
    accounts.sign_in(ISSUER, claims(sub="someone-else"), current())
    with (
        mock.patch.object(accounts, "unique_username", return_value="alice") as named,
        pytest.raises(IntegrityError),
    ):
        accounts.sign_in(ISSUER, claims(sub="sub-2"), current())
    assert named.call_count == accounts.NAME_ATTEMPTS
    assert User.objects.count() == 1
    assert not OidcIdentity.objects.filter(subject="sub-2").exists()


def test_the_same_person_in_two_tabs_gets_one_account(oidc_settings):
    """The other tab made the link (and the account) meanwhile: this one finds it."""
    first = accounts.sign_in(ISSUER, claims(), current())
    # The lookup before creating finds nothing: the other tab had not committed yet.
    nothing = OidcIdentity.objects.none()
    with mock.patch.object(OidcIdentity.objects, "select_for_update", return_value=nothing):
        user = accounts.sign_in(ISSUER, claims(), current())
    assert user == first
    assert User.objects.count() == 1
