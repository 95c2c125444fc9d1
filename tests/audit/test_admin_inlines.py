"""What an admin form changes through its inlines is recorded too: a group's policy and
team-keys checkbox, a user's provider key deleted on the user's page (each once)."""

from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models.signals import pre_delete
from django.utils import timezone

from settings_app import services as settings_services
from settings_app.models import ApiKey, GroupPolicy
from tests.audit.helpers import assert_no_secret, mark, only_entry, since
from tests.groups.helpers import group_post as group_admin_post

OPENAI_KEY = "sk-proj-INLINEKEY0123456789abcdefWXYZ"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def group_post(name, policy=None, **fields):
    """The group change form with its one policy form (prefix ``policy``)."""
    return group_admin_post(name, str(policy.pk) if policy else "", **fields)


def user_post(user, keys=(), **extra):
    """The user change form with its provider-key inline (prefix ``api_keys``)."""
    joined = timezone.localtime(user.date_joined)
    data = {
        "username": user.username,
        "first_name": "",
        "last_name": "",
        "email": user.email,
        "is_active": "on",
        "date_joined_0": joined.strftime("%Y-%m-%d"),
        "date_joined_1": joined.strftime("%H:%M:%S"),
        "last_login_0": "",
        "last_login_1": "",
        "api_keys-TOTAL_FORMS": str(len(keys)),
        "api_keys-INITIAL_FORMS": str(len(keys)),
        "api_keys-MIN_NUM_FORMS": "0",
        "api_keys-MAX_NUM_FORMS": "1000",
        **extra,
    }
    for index, (key, delete) in enumerate(keys):
        data[f"api_keys-{index}-id"] = str(key.pk)
        data[f"api_keys-{index}-user"] = str(user.pk)
        if delete:
            data[f"api_keys-{index}-DELETE"] = "on"
    return data


def test_a_group_saved_with_its_policy_and_team_keys_changed_records_both(admin_client, admin_user):
    group = Group.objects.create(name="Designers")
    policy = GroupPolicy.objects.create(group=group, daily_image_limit=5)
    before = mark()
    data = group_post("Designers", policy, daily_image_limit="9", max_queued="3", team_keys="on")
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    entries = since(before)
    assert sorted(e.action for e in entries) == ["group.changed", "limit.changed"], [
        (e.action, e.details) for e in entries
    ]
    limit = next(e for e in entries if e.action == "limit.changed")
    assert limit.changes == {"daily_image_limit": [5, 9], "max_queued": [None, 3]}
    assert (limit.actor, limit.client) == (admin_user, "admin")
    assert (limit.object_type, limit.object_id) == ("settings_app.grouppolicy", str(policy.pk))
    team = next(e for e in entries if e.action == "group.changed")
    assert team.details == {"permissions_added": ["settings_app.use_team_keys"]}


def test_a_group_policy_created_and_deleted_in_the_admin_is_one_entry_each(admin_client):
    group = Group.objects.create(name="Painters")
    before = mark()
    data = group_post("Painters", monthly_budget_usd="40", unlimited="on")
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    created = only_entry(before, "limit.changed")
    assert created.details == {"created": True}
    assert created.changes == {"monthly_budget_usd": [None, "40"], "unlimited": [False, True]}
    policy = GroupPolicy.objects.get(group=group)
    assert policy.monthly_budget_usd == Decimal("40")

    before = mark()
    data = group_post("Painters", policy, monthly_budget_usd="40", unlimited="on", DELETE="on")
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", data)
    assert response.status_code == 302, response.content[:2000]
    deleted = only_entry(before, "limit.changed")
    assert deleted.details == {"deleted": True, "group": "Painters"}
    assert deleted.changes == {"monthly_budget_usd": ["40.00", None], "unlimited": [True, None]}
    assert not GroupPolicy.objects.exists()


def test_deleting_a_group_with_a_policy_in_the_admin_is_one_entry(admin_client):
    group = Group.objects.create(name="Doomed")
    GroupPolicy.objects.create(group=group, max_running=2)
    before = mark()
    response = admin_client.post(f"/admin/auth/group/{group.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert only_entry(before, "admin.change").details["admin_action"] == "deletion"


def test_a_user_saved_with_staff_changed_and_a_key_deleted_inline_records_both_once(
    admin_client, admin_user, owner
):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    settings_services.save_api_key(owner, "fal", "id:inline-s3cret")
    openai, fal = ApiKey.objects.get(provider="openai"), ApiKey.objects.get(provider="fal")
    before = mark()
    data = user_post(owner, keys=[(fal, False), (openai, True)], is_staff="on")
    response = admin_client.post(f"/admin/auth/user/{owner.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    entries = since(before)
    assert sorted(e.action for e in entries) == ["key.deleted", "user.changed"], [
        (e.action, e.details) for e in entries
    ]
    changed = next(e for e in entries if e.action == "user.changed")
    assert changed.changes == {"is_staff": [False, True]}
    deleted = next(e for e in entries if e.action == "key.deleted")
    assert deleted.details == {"provider": "openai", "scope": "user", "owner": "owner"}
    assert (deleted.actor, deleted.object_id) == (admin_user, str(openai.pk))
    assert list(ApiKey.objects.filter(user=owner)) == [fal]
    for entry in entries:
        assert_no_secret(entry, OPENAI_KEY, OPENAI_KEY[-4:], "id:inline-s3cret")


def test_a_key_deleted_by_its_service_is_one_entry(owner):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    before = mark()
    assert settings_services.delete_api_key(owner, "openai")
    assert only_entry(before, "key.deleted").actor == owner


def test_a_user_deleted_with_keys_is_one_user_entry(owner):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    before = mark()
    owner.delete()
    assert only_entry(before, "user.deleted").object_label == "owner"


def test_users_deleted_as_a_queryset_with_keys_are_one_user_entry_each(owner, member):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    settings_services.save_api_key(member, "openai", OPENAI_KEY)
    before = mark()
    get_user_model().objects.filter(pk__in=[owner.pk, member.pk]).delete()
    assert sorted(entry.action for entry in since(before)) == ["user.deleted", "user.deleted"]


def test_a_user_deletion_that_rolls_back_leaves_later_key_deletions_recorded(owner):
    """Nothing of a failed deletion is remembered: the key deleted afterwards, alone, is
    its own entry."""
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)

    def refuse(sender, instance, **kwargs):
        raise RuntimeError("refused by a receiver")

    User = get_user_model()
    # After the project's own receivers of the user's deletion have run.
    pre_delete.connect(refuse, sender=User, dispatch_uid="test.refuse")
    try:
        with pytest.raises(RuntimeError), transaction.atomic():
            owner.delete()
    finally:
        pre_delete.disconnect(dispatch_uid="test.refuse", sender=User)
    before = mark()
    assert settings_services.delete_api_key(owner, "openai")
    ApiKey.objects.filter(user=owner).delete()  # nothing left: no entry
    assert only_entry(before, "key.deleted").actor == owner
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    before = mark()
    ApiKey.objects.filter(user=owner).delete()  # not through the service: the hook's entry
    assert only_entry(before, "key.deleted").object_label


def test_a_user_deleted_with_keys_in_the_admin_is_one_entry(admin_client, owner):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    before = mark()
    response = admin_client.post(f"/admin/auth/user/{owner.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert only_entry(before, "admin.change").details["admin_action"] == "deletion"


def test_a_key_deleted_inline_alone_is_one_key_entry(admin_client, owner):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    key = ApiKey.objects.get()
    before = mark()
    data = user_post(owner, keys=[(key, True)])
    response = admin_client.post(f"/admin/auth/user/{owner.pk}/change/", data)
    assert response.status_code == 302, response.content[:3000]
    assert only_entry(before, "key.deleted").object_id == str(key.pk)
