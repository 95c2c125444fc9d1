"""Helpers of the group-permission tests: a group with a policy, and a user in it."""

from django.contrib.auth.models import Group

from settings_app.models import GroupPolicy


def policy_for(name: str, *members, **fields) -> GroupPolicy:
    """The group ``name`` (made if missing) with a policy of ``fields``, and ``members`` in it."""
    group, _ = Group.objects.get_or_create(name=name)
    policy, _ = GroupPolicy.objects.update_or_create(group=group, defaults=fields)
    group.user_set.add(*members)
    return policy
