"""What a user may use and how much: the one resolver of their effective limits, from their
groups' policies (``settings_app.GroupPolicy``), the per-user values an administrator set
(``UserBudget``) and the settings' defaults (docs/identity.md, "Groups and permissions").

- Numbers (monthly budget, daily image limit, generations running and queued at once): a
  per-user value wins; else the most generous of the user's groups that have a policy
  (unlimited beats any number; a group's empty field counts as the setting's default);
  else the setting.
- Models: the union of the groups' allow-lists; a user in no group with a policy, and a
  superuser, may use every model. There is no per-user allow-list.
- Team keys: the ``settings_app.use_team_keys`` permission, given to the user or to one of
  their groups (``settings_app.keys.may_use_team_keys``).

Every model list (the Generate page, ``GET /api/providers``, the gateway's ``/v1/models``)
goes through ``offered_models``, and every submission through ``validation.resolve_model``,
which refuses a model the user's groups do not allow with ``refusal``'s words.
"""

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import F

from generation.usage.models import UserBudget
from imagegen.core.audit import current_request
from imagegen.providers.base import ModelSpec, Provider
from settings_app.keys import may_use_team_keys
from settings_app.models import GroupPolicy, policies_allow

DEFAULT = "server default"


@dataclass(frozen=True)
class Limits:
    """A user's effective limits; ``sources`` says where each number came from ("you",
    "group Designers", "server default") and ``policies`` are the group policies that
    restrict models (empty: every model)."""

    user: Any
    monthly_budget_usd: Decimal | None
    daily_image_limit: int | None
    max_running: int
    max_queued: int  # 0: no cap
    policies: tuple[GroupPolicy, ...] = ()
    sources: dict = field(default_factory=dict)

    @cached_property
    def team_keys(self) -> bool:
        """Whether the user may use the team keys (read when asked: a permission lookup)."""
        return may_use_team_keys(self.user)

    @property
    def restricted(self) -> bool:
        return bool(self.policies)

    @property
    def group_names(self) -> list[str]:
        return [policy.group.name for policy in self.policies]

    def allows(self, provider: str, model: str) -> bool:
        """Whether the user may use the provider's model."""
        return policies_allow(self.policies, provider, model)

    def allows_provider(self, provider: str) -> bool:
        """Whether the user may use some model of the provider."""
        return not self.policies or any(p.allows_provider(provider) for p in self.policies)

    def as_dict(self) -> dict:
        return {
            "monthly_budget_usd": None
            if self.monthly_budget_usd is None
            else str(self.monthly_budget_usd),
            "daily_image_limit": self.daily_image_limit,
            "max_running": self.max_running,
            "max_queued": self.max_queued,
            "team_keys": self.team_keys,
            "groups": self.group_names,
            "sources": dict(self.sources),
        }


def _most(values: list[tuple], *, none_wins: bool, zero_wins: bool = False):
    """The most generous (value, source) of candidates: None beats any number when
    ``none_wins``, 0 when ``zero_wins`` (a cap of 0 is no cap); else the largest."""
    if none_wins:
        for value, source in values:
            if value is None:
                return value, source
    if zero_wins:
        for value, source in values:
            if value == 0:
                return value, source
    return max(values, key=lambda pair: pair[0])


def _resolve(budget: UserBudget | None, policies: list[GroupPolicy], defaults: dict):
    """The numbers: per-user value, else the most generous group, else the default."""
    resolved, sources = {}, {}
    rules = {  # field: (None means unlimited, 0 means unlimited)
        "monthly_budget_usd": (True, False),
        "daily_image_limit": (True, False),
        "max_running": (False, False),
        "max_queued": (False, True),
    }
    for name, (none_wins, zero_wins) in rules.items():
        unlimited_applies = name in ("monthly_budget_usd", "daily_image_limit")
        if budget is not None and unlimited_applies and budget.unlimited:
            resolved[name], sources[name] = None, "you"
            continue
        own = getattr(budget, name, None) if budget is not None else None
        if own is not None:
            resolved[name], sources[name] = own, "you"
            continue
        if not policies:
            resolved[name], sources[name] = defaults[name], DEFAULT
            continue
        candidates = []
        for policy in policies:
            source = f"group {policy.group.name}"
            if unlimited_applies and policy.unlimited:
                candidates.append((None, source))
            else:
                value = getattr(policy, name)
                candidates.append((defaults[name] if value is None else value, source))
        resolved[name], sources[name] = _most(candidates, none_wins=none_wins, zero_wins=zero_wins)
    return resolved, sources


def _defaults() -> dict:
    return {
        "monthly_budget_usd": settings.DEFAULT_MONTHLY_BUDGET_USD,
        "daily_image_limit": settings.DEFAULT_DAILY_IMAGE_LIMIT,
        "max_running": settings.GENERATION_MAX_CONCURRENT,
        "max_queued": settings.MAX_QUEUED_GENERATIONS_PER_USER,
    }


def effective_limits(user) -> Limits:
    """The one resolver: ``user``'s effective limits (see the module's docstring).

    Kept for the rest of a GET (or HEAD) request, which asks several times (the Generate
    page: its pickers, the not-offered note, the budget notice); a request that writes, a job
    and a direct call resolve afresh every time."""
    request = current_request()
    memo = None
    if request is not None and request.method in ("GET", "HEAD") and user.pk is not None:
        memo = request.__dict__.setdefault("_effective_limits", {})
        if user.pk in memo:
            return memo[user.pk]
    limits = _effective_limits(user)
    if memo is not None:
        memo[user.pk] = limits
    return limits


def _effective_limits(user) -> Limits:
    policies = list(
        GroupPolicy.objects.filter(group__user=user).select_related("group").order_by("group__name")
    )
    budget = UserBudget.objects.filter(user=user).first()
    resolved, sources = _resolve(budget, policies, _defaults())
    restricting = () if user.is_superuser else tuple(policies)
    return Limits(user, policies=restricting, sources=sources, **resolved)


def effective_limits_by_owner(owner_id: int) -> Limits:
    """The limits of the user with this id, read afresh (the runner knows only ids, and
    decides under the owner's row lock: never a value kept from earlier in a request)."""
    return _effective_limits(get_user_model().objects.get(pk=owner_id))


def max_running_by_owner(owner_ids) -> dict[int, int]:
    """Each owner's ``max_running`` (as ``effective_limits`` resolves it), in two queries
    whatever the number of owners (the feed's progress of many users' generations)."""
    owner_ids = set(owner_ids)
    budgets = {row.user_id: row for row in UserBudget.objects.filter(user_id__in=owner_ids)}
    policies: dict[int, list[GroupPolicy]] = {owner_id: [] for owner_id in owner_ids}
    rows = (
        GroupPolicy.objects.filter(group__user__in=owner_ids)
        .select_related("group")
        .annotate(member_id=F("group__user"))
        .order_by("group__name")
    )
    for policy in rows:
        policies[policy.member_id].append(policy)
    defaults = _defaults()
    return {
        owner_id: _resolve(budgets.get(owner_id), policies[owner_id], defaults)[0]["max_running"]
        for owner_id in owner_ids
    }


def _names(limits: Limits) -> str:
    return ", ".join(limits.group_names)


def offered_models(user, provider: Provider, limits: Limits | None = None) -> list[ModelSpec]:
    """The provider's models this user may use: what it offers them (a team GPU may serve
    some groups only) that their groups' policies allow."""
    offered = provider.models_for(user)
    limits = limits or effective_limits(user)
    if not limits.restricted:
        return offered
    return [spec for spec in offered if limits.allows(provider.name, spec.id)]


def refusal(user, provider: Provider, model_id: str, limits: Limits | None = None) -> str:
    """Why the user's groups refuse the provider's model, in words; "" when they allow it."""
    limits = limits or effective_limits(user)
    if limits.allows(provider.name, model_id):
        return ""
    groups = _names(limits)
    if not limits.allows_provider(provider.name):
        return f"Your groups ({groups}) don't allow provider {provider.label}."
    return f"Your groups ({groups}) don't allow model {model_id} of {provider.label}."


@dataclass(frozen=True)
class NotOffered:
    """A model the provider would offer the user that their groups do not allow."""

    provider: str
    provider_label: str
    model: str
    label: str
    reason: str


def not_offered(user, providers, limits: Limits | None = None) -> list[NotOffered]:
    """Each model of ``providers`` that the user's groups refuse, with the reason (the
    Generate page lists them so nobody wonders where a model went)."""
    limits = limits or effective_limits(user)
    if not limits.restricted:
        return []
    groups = _names(limits)
    refused = []
    for provider in providers:
        for spec in provider.models_for(user):
            if not limits.allows(provider.name, spec.id):
                refused.append(
                    NotOffered(
                        provider.name,
                        provider.label,
                        spec.id,
                        spec.label,
                        f"not allowed for your groups ({groups})",
                    )
                )
    return refused
