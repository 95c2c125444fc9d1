"""The one resolver of a user's effective limits (generation.usage.policy): per-user value,
else the most generous of their groups' policies (unlimited beats any number; a blank field
counts as the setting's default), else the settings' defaults; the allow-lists' union."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import ValidationError

from generation.usage.models import UserBudget
from generation.usage.policy import _resolve, effective_limits, max_running_by_owner
from settings_app.models import GroupPolicy
from tests.groups.helpers import policy_for
from tests.users import make_user

DEFAULTS = {
    "monthly_budget_usd": Decimal("20"),
    "daily_image_limit": 50,
    "max_running": 3,
    "max_queued": 20,
}


def group(name, **fields):
    return GroupPolicy(group=Group(name=name), **fields)


def budget(**fields):
    return UserBudget(**fields)


CASES = [
    # (id, per-user row, policies, expected numbers, expected sources of some)
    ("no group, no row: the defaults", None, [], DEFAULTS, {"max_running": "server default"}),
    (
        "a row with every field blank: the defaults",
        budget(),
        [],
        DEFAULTS,
        {"monthly_budget_usd": "server default"},
    ),
    (
        "one group's numbers",
        None,
        [
            group(
                "Designers",
                monthly_budget_usd=Decimal("5"),
                daily_image_limit=7,
                max_running=1,
                max_queued=4,
            )
        ],
        {
            "monthly_budget_usd": Decimal("5"),
            "daily_image_limit": 7,
            "max_running": 1,
            "max_queued": 4,
        },
        {"monthly_budget_usd": "group Designers"},
    ),
    (
        "two groups: the larger of each number, each from its own group",
        None,
        [
            group(
                "A",
                monthly_budget_usd=Decimal("5"),
                daily_image_limit=70,
                max_running=1,
                max_queued=4,
            ),
            group(
                "B",
                monthly_budget_usd=Decimal("9"),
                daily_image_limit=7,
                max_running=2,
                max_queued=3,
            ),
        ],
        {
            "monthly_budget_usd": Decimal("9"),
            "daily_image_limit": 70,
            "max_running": 2,
            "max_queued": 4,
        },
        {"monthly_budget_usd": "group B", "daily_image_limit": "group A", "max_queued": "group A"},
    ),
    (
        "an unlimited group beats any number",
        None,
        [group("A", monthly_budget_usd=Decimal("500")), group("B", unlimited=True)],
        {**DEFAULTS, "monthly_budget_usd": None, "daily_image_limit": None},
        {"monthly_budget_usd": "group B", "daily_image_limit": "group B"},
    ),
    (
        "a blank field counts as the default: larger than the other group's",
        None,
        [group("A", monthly_budget_usd=Decimal("5")), group("B", max_running=9)],
        {**DEFAULTS, "monthly_budget_usd": Decimal("20"), "max_running": 9},
        {"monthly_budget_usd": "group B", "max_running": "group B"},
    ),
    (
        "a queue cap of 0 (no cap) beats any number",
        None,
        [group("A", max_queued=0), group("B", max_queued=100)],
        {**DEFAULTS, "max_queued": 0},
        {"max_queued": "group A"},
    ),
    (
        "a per-user value beats the groups, even a smaller one",
        budget(monthly_budget_usd=Decimal("1"), max_running=1),
        [group("A", monthly_budget_usd=Decimal("100"), max_running=8, unlimited=False)],
        {**DEFAULTS, "monthly_budget_usd": Decimal("1"), "max_running": 1},
        {"monthly_budget_usd": "you", "max_running": "you"},
    ),
    (
        "a per-user value beats an unlimited group",
        budget(daily_image_limit=3),
        [group("A", unlimited=True)],
        {**DEFAULTS, "monthly_budget_usd": None, "daily_image_limit": 3},
        {"daily_image_limit": "you", "monthly_budget_usd": "group A"},
    ),
    (
        "per-user unlimited lifts the budget and the daily limit, not the caps",
        budget(unlimited=True, monthly_budget_usd=Decimal("1")),
        [group("A", monthly_budget_usd=Decimal("2"), max_running=2)],
        {**DEFAULTS, "monthly_budget_usd": None, "daily_image_limit": None, "max_running": 2},
        {"monthly_budget_usd": "you", "max_running": "group A"},
    ),
]


@pytest.mark.parametrize(
    ("row", "policies", "expected", "sources"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_resolver_takes_the_user_then_the_most_generous_group_then_the_default(
    row, policies, expected, sources
):
    resolved, found = _resolve(row, policies, DEFAULTS)
    assert resolved == expected
    assert {name: found[name] for name in sources} == sources


def test_unlimited_defaults_beat_a_groups_number(settings):
    defaults = {**DEFAULTS, "monthly_budget_usd": None}
    resolved, found = _resolve(
        None, [group("A"), group("B", monthly_budget_usd=Decimal(3))], defaults
    )
    assert resolved["monthly_budget_usd"] is None and found["monthly_budget_usd"] == "group A"


@pytest.mark.django_db
def test_effective_limits_read_the_users_groups_row_and_settings(settings):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("10")
    settings.GENERATION_MAX_CONCURRENT = 3
    alice = make_user("alice")
    bob = make_user("bob")
    policy_for("Designers", alice, monthly_budget_usd=Decimal("40"), max_running=5)
    Group.objects.create(name="No policy").user_set.add(alice, bob)  # says nothing
    UserBudget.objects.create(user=alice, max_running=1)

    limits = effective_limits(alice)
    assert (limits.monthly_budget_usd, limits.max_running) == (Decimal("40"), 1)
    assert limits.sources["monthly_budget_usd"] == "group Designers"
    assert limits.sources["max_running"] == "you"
    assert limits.group_names == ["Designers"]

    other = effective_limits(bob)  # only a group without a policy: the settings
    assert (other.monthly_budget_usd, other.max_running) == (Decimal("10"), 3)
    assert not other.restricted and other.allows("openai", "dall-e-3")


@pytest.mark.django_db
def test_the_allow_lists_are_the_union_of_the_groups():
    alice = make_user("alice")
    policy_for("Offline only", alice, allowed_providers="offline")
    policy_for("Some OpenAI", alice, allowed_models="openai/gpt-image-1\nfal/fal-ai/flux/dev")
    limits = effective_limits(alice)
    assert limits.allows("offline", "offline-shapes")
    assert limits.allows("openai", "gpt-image-1")
    assert limits.allows("fal", "fal-ai/flux/dev")  # a model id with slashes
    assert not limits.allows("openai", "dall-e-3")
    assert not limits.allows("replicate", "black-forest-labs/flux-schnell")
    assert limits.allows_provider("openai") and not limits.allows_provider("replicate")


@pytest.mark.django_db
def test_one_unrestricted_group_allows_everything():
    alice = make_user("alice")
    policy_for("Offline only", alice, allowed_providers="offline")
    policy_for("Budget only", alice, monthly_budget_usd=Decimal(5))
    assert effective_limits(alice).allows("replicate", "stability-ai/sdxl")


@pytest.mark.django_db
def test_a_superuser_may_use_every_model_whatever_their_groups():
    boss = make_user("boss", is_superuser=True, is_staff=True)
    policy_for("Offline only", boss, allowed_providers="offline", max_running=7)
    limits = effective_limits(boss)
    assert not limits.restricted and limits.allows("openai", "dall-e-3")
    assert limits.max_running == 7  # the numbers still come from the groups


@pytest.mark.django_db
def test_team_keys_come_from_the_groups_permission():
    alice = make_user("alice")
    policy = policy_for("Designers", alice)
    assert not effective_limits(alice).team_keys
    permission = Permission.objects.get(codename="use_team_keys")
    policy.group.permissions.add(permission)
    alice = type(alice).objects.get(pk=alice.pk)  # no cached permissions
    assert effective_limits(alice).team_keys


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"allowed_providers": "openai\nmidjourney"}, "allowed_providers", "Unknown provider"),
        ({"allowed_models": "gpt-image-1"}, "allowed_models", "provider/model"),
        ({"allowed_models": "nowhere/x"}, "allowed_models", "provider/model"),
        (
            {"allowed_providers": "offline", "allowed_models": "openai/gpt-image-1"},
            "allowed_models",
            "not among the allowed providers",
        ),
    ],
)
def test_a_policy_refuses_lists_it_cannot_mean(fields, field, words):
    policy = GroupPolicy(group=Group.objects.create(name="G"), **fields)
    with pytest.raises(ValidationError) as error:
        policy.full_clean()
    assert words in " ".join(error.value.message_dict[field])


@pytest.mark.django_db
def test_the_feeds_running_caps_agree_with_the_resolver(settings, django_assert_num_queries):
    settings.GENERATION_MAX_CONCURRENT = 2
    alice, bob, carol, dave = (make_user(name) for name in ("alice", "bob", "carol", "dave"))
    policy_for("Four", alice, bob, max_running=4)
    policy_for("Six", bob, max_running=6)
    policy_for("One", carol, max_running=1)
    UserBudget.objects.create(user=carol, max_running=3)
    owners = [alice.pk, bob.pk, carol.pk, dave.pk]
    with django_assert_num_queries(2):
        caps = max_running_by_owner(owners)
    assert caps == {alice.pk: 4, bob.pk: 6, carol.pk: 3, dave.pk: 2}
    assert caps == {
        user.pk: effective_limits(user).max_running for user in (alice, bob, carol, dave)
    }
