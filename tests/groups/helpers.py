"""Helpers of the group-permission tests: a group with a policy, and a user in it."""

from django.contrib.auth.models import Group

from settings_app.models import GroupPolicy


def policy_for(name: str, *members, **fields) -> GroupPolicy:
    """The group ``name`` (made if missing) with a policy of ``fields``, and ``members`` in it."""
    group, _ = Group.objects.get_or_create(name=name)
    policy, _ = GroupPolicy.objects.update_or_create(group=group, defaults=fields)
    group.user_set.add(*members)
    return policy


def group_post(name, policy_id="", **policy):
    """The Group change form's fields with one policy form (prefix ``policy``)."""
    data = {
        "name": name,
        "policy-TOTAL_FORMS": "1",
        "policy-INITIAL_FORMS": "1" if policy_id else "0",
        "policy-MIN_NUM_FORMS": "0",
        "policy-MAX_NUM_FORMS": "1",
        "policy-0-id": policy_id,
        "policy-0-allowed_providers": "",
        "policy-0-allowed_models": "",
        "policy-0-monthly_budget_usd": "",
        "policy-0-daily_image_limit": "",
        "policy-0-max_running": "",
        "policy-0-max_queued": "",
    }
    data.update({f"policy-0-{key}": value for key, value in policy.items()})
    return data
