"""The spending gate: every path that can spend money (a generation, a prompt enhancement;
later the OpenAI-compatible gateway, compare, self-hosted backends) asks here first, with
what it is about to spend, whoever's key pays (the user's, the team's or the server's).

``admit_spending`` is the one budget and quota check: it locks the user's row, so that
parallel requests of one user are checked one at a time, and refuses what would pass the
user's daily image limit (429) or the user's or the team's monthly budget (400), counted in
the team's days and months (``generation.usage.budgets``). A path that records its spend in
a row of its own (a Generation) creates that row in the same transaction; any other path
reserves a SpendEntry with ``reserve_spend`` (the gate and the reservation in one
transaction, so the estimate counts as running at once) and settles it with the cost the
call reported (``settle_spend``) or releases it when the call cost nothing
(``release_spend``).

Rate limits: an API endpoint that spends declares a ``SpendingRateThrottle`` subclass (a DRF
throttle per user whose rate is a setting), as ``PromptEnhanceThrottle`` does.
"""

from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.throttling import UserRateThrottle

from generation.usage.budgets import check_limits
from generation.usage.models import SpendEntry


def lock_user(user) -> None:
    """Lock the user's row until the transaction ends (PostgreSQL; SQLite's IMMEDIATE
    transaction serialises writers), so parallel requests of one user are checked one at a
    time."""
    list(get_user_model().objects.select_for_update().filter(pk=user.pk).values("pk"))


def admit_spending(user, estimate_usd: Decimal | None, *, num_images: int = 0) -> None:
    """Refuse (QuotaExceeded 429, ValidationError 400 with the budget message) spending of
    ``estimate_usd`` (None: unknown, counted as nothing) and ``num_images`` images that would
    pass a limit. Call it inside the transaction that records the spend."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("admit_spending must run inside the transaction that records spend")
    lock_user(user)
    check_limits(user, estimate_usd, num_images)


def reserve_spend(user, *, kind: str, provider: str, model: str, estimate_usd: Decimal):
    """Pass the gate with ``estimate_usd`` and record it as running spend (a SpendEntry),
    in one transaction; the caller settles or releases the entry after its call."""
    with transaction.atomic():
        admit_spending(user, estimate_usd)
        return SpendEntry.objects.create(
            owner=user, kind=kind, provider=provider, model=model[:200], cost_usd=estimate_usd
        )


def settle_spend(entry: SpendEntry, cost_usd: Decimal | None) -> None:
    """The call answered: count what it reported it cost, or keep the estimate (still marked
    an estimate) when it did not say."""
    if cost_usd is not None:
        entry.cost_usd = cost_usd.quantize(Decimal("0.000001"))
        entry.cost_is_estimate = False
    entry.settled = True
    entry.save(update_fields=["cost_usd", "cost_is_estimate", "settled"])


def release_spend(entry: SpendEntry) -> None:
    """The call cost nothing (the provider refused it, or it never reached the provider)."""
    entry.delete()


class SpendingRateThrottle(UserRateThrottle):
    """A per-user rate limit for an endpoint that spends; ``rate_setting`` names the setting
    ("30/hour"; None: no limit), read on each request so a change applies at once."""

    rate_setting: str = ""

    def get_rate(self):
        return getattr(settings, self.rate_setting)


class PromptEnhanceThrottle(SpendingRateThrottle):
    scope = "prompt_enhance"
    rate_setting = "PROMPT_ENHANCE_RATE"
