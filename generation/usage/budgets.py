"""Budgets and quotas: what a user (and the team) has used, and the limits checked by the
spending gate (``generation.usage.gate``).

Used = spend recorded in the rollup for this calendar month (succeeded generations) plus the
spend of other paid calls (SpendEntry: prompt enhancement), plus the estimates of what is
still running: generations queued or running, read from the live Generation rows, and
unsettled SpendEntry reservations. Every quota counts the team's days and months
(TIME_ZONE), never a zone the user chooses: changing one's own time zone (a preference,
for display) must not start a new day or month for the limits. The dashboard's own figures
(``dashboard.services``) stay in the viewer's zone.

Every image operation (edit, inpaint, outpaint, upscale, remove_background) is a generation
here, estimated and counted like one. Uploads are not: they cost nothing, make no images for
the daily limit (the rollup counts them apart, ``generation.usage.rollup``) and never run.
"""

from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db.models import Q, Sum
from django.utils import timezone

from generation.models import Generation, Status
from generation.usage import windows
from generation.usage.models import MICROS, SpendEntry, TeamBudget
from generation.usage.policy import effective_limits
from generation.usage.rollup import day_start, team_zone
from imagegen.core.exceptions import QuotaExceeded

WARNING_RATIO = Decimal("0.8")
LIVE_STATUSES = (Status.QUEUED, Status.RUNNING)
CENT = Decimal("0.01")


@dataclass
class SpendUse:
    """A monthly spend limit and what counts against it."""

    limit: Decimal | None
    spent: Decimal
    running: Decimal

    @property
    def used(self) -> Decimal:
        return self.spent + self.running

    @property
    def left(self) -> Decimal | None:
        return None if self.limit is None else max(Decimal(0), self.limit - self.used)

    def ratio(self, extra: Decimal = Decimal(0)) -> Decimal | None:
        if self.limit is None:
            return None
        if self.limit == 0:
            return Decimal(1) if self.used + extra > 0 else Decimal(0)
        return (self.used + extra) / self.limit

    def as_dict(self) -> dict:
        ratio = self.ratio()
        return {
            "limit_usd": _money(self.limit),
            "spent_usd": _money(self.spent),
            "running_usd": _money(self.running),
            "used_usd": _money(self.used),
            "left_usd": _money(self.left),
            "percent": None if ratio is None else round(float(ratio) * 100, 1),
        }


@dataclass
class ImageUse:
    """A daily image limit and what counts against it."""

    limit: int | None
    made: int
    running: int

    @property
    def used(self) -> int:
        return self.made + self.running

    @property
    def left(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def ratio(self, extra: int = 0) -> float | None:
        if self.limit is None:
            return None
        if self.limit == 0:
            return 1.0 if self.used + extra > 0 else 0.0
        return (self.used + extra) / self.limit

    def as_dict(self) -> dict:
        ratio = self.ratio()
        return {
            "limit": self.limit,
            "made": self.made,
            "running": self.running,
            "used": self.used,
            "left": self.left,
            "percent": None if ratio is None else round(ratio * 100, 1),
        }


def _money(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount.quantize(Decimal("0.000001")))


def _usd(amount: Decimal | None) -> str:
    """Dollars for a sentence: cents, or more digits when the amount is smaller than a cent."""
    amount = amount or Decimal(0)
    if amount and abs(amount) < CENT:
        return f"${amount.normalize():f}"
    return f"${amount.quantize(CENT)}"


def month_bounds(today):
    """First day of the month of ``today`` and of the next one."""
    first = today.replace(day=1)
    return first, (first + timedelta(days=32)).replace(day=1)


def month_spend(zone: tzinfo, filters: dict) -> tuple[date, dict[str, int]]:
    """The first day of the current calendar month of ``zone``, and the spend (reported and
    estimated micros) of the succeeded generations matching ``filters`` in that month."""
    first, following = month_bounds(timezone.localdate(timezone=zone))
    sums = windows.collect(
        filters,
        windows.period_bucket(first, following - timedelta(days=1), zone),
        fields=("spend_reported_micros", "spend_estimated_micros"),
    )
    return first, sums.get((0,), {})


def _other_spend(**filters) -> tuple[Decimal, Decimal]:
    """Spend of paid calls that are not generations (SpendEntry) in the team's current
    month: (settled, still running)."""
    zone = team_zone()
    first, following = month_bounds(timezone.localdate(timezone=zone))
    rows = SpendEntry.objects.filter(
        created_at__gte=day_start(first, zone), created_at__lt=day_start(following, zone), **filters
    )
    sums = rows.aggregate(
        done=Sum("cost_usd", filter=Q(settled=True)),
        running=Sum("cost_usd", filter=Q(settled=False)),
    )
    return sums["done"] or Decimal(0), sums["running"] or Decimal(0)


def _month_use(limit: Decimal | None, live_cost: Decimal | None, **filters) -> SpendUse:
    """A monthly limit against the team month's spend of the generations and other paid
    calls matching ``filters`` (owner_id, or nothing for the team)."""
    _, found = month_spend(team_zone(), filters)
    generations = (
        Decimal(found.get("spend_reported_micros", 0) + found.get("spend_estimated_micros", 0))
        / MICROS
    )
    other_owner = {"owner_id": filters["owner_id"]} if "owner_id" in filters else {}
    settled, running = _other_spend(**other_owner)
    return SpendUse(limit, generations + settled, (live_cost or Decimal(0)) + running)


def _live(**filters) -> dict:
    return (
        Generation.objects.runs()
        .filter(status__in=LIVE_STATUSES, **filters)
        .aggregate(cost=Sum("cost_usd"), images=Sum("num_images"))
    )


def user_usage(user, limits=None) -> tuple[SpendUse, ImageUse]:
    """The user's monthly spend and today's images against their limits, in the team's
    month and day (TIME_ZONE), whatever zone the user has chosen."""
    limits = limits or effective_limits(user)
    live = _live(owner=user)
    zone = team_zone()
    today = timezone.localdate(timezone=zone)
    made = (
        windows.collect(
            {"owner_id": user.pk}, windows.period_bucket(today, today, zone), fields=("images",)
        )
        .get((0,), {})
        .get("images", 0)
    )
    spend = _month_use(limits.monthly_budget_usd, live["cost"], owner_id=user.pk)
    return spend, ImageUse(limits.daily_image_limit, made, live["images"] or 0)


def team_usage(team: TeamBudget | None = None) -> SpendUse | None:
    """The whole team's monthly spend against the team budget; None (and no query of the
    team's spend) when there is no team budget."""
    team = team or TeamBudget.current()
    limit = team.monthly_limit()
    if limit is None:
        return None
    return _month_use(limit, _live()["cost"])


def budget_status(user, estimate_usd: Decimal | None = None, num_images: int = 0) -> dict:
    """Used and left of every budget that applies to the user, with warnings at 80% (this
    request's estimate and images included when given), and the user's effective limits
    with where each comes from (``limits``: per user, a group, or the server default)."""
    limits = effective_limits(user)
    spend, images = user_usage(user, limits)
    team = team_usage()
    estimate = estimate_usd or Decimal(0)
    warnings = []
    for label, use, extra in (
        ("your monthly budget", spend, estimate),
        ("the team's monthly budget", team, estimate),
        ("your daily image limit", images, num_images),
    ):
        ratio = use.ratio(extra) if use is not None else None
        if ratio is not None and ratio >= WARNING_RATIO:
            verb = "would exceed" if ratio > 1 else "reaches"
            warnings.append(f"This request {verb} {round(float(ratio) * 100)}% of {label}.")
    zone = team_zone()
    today = timezone.localdate(timezone=zone)
    return {
        # The limits' day and month: the team's, as check_limits counts them.
        "time_zone": str(zone),
        "day": today.isoformat(),
        "month": today.isoformat()[:7],
        "monthly": spend.as_dict(),
        "daily_images": images.as_dict(),
        "team_monthly": team.as_dict() if team is not None else None,
        "estimate_usd": _money(estimate_usd),
        "warning": bool(warnings),
        "warnings": warnings,
        "limits": limits.as_dict(),
    }


def check_queued(user, adding: int) -> None:
    """Refuse (QuotaExceeded, 429) a submission that would leave the user more generations
    queued or running than their limit (``policy.effective_limits``: per user, their groups,
    else MAX_QUEUED_GENERATIONS_PER_USER; 0: no cap). Call it inside the submission's
    transaction after locking the user's row, so that parallel submissions are counted one
    after the other."""
    limits = effective_limits(user)
    cap = limits.max_queued
    if not cap:
        return
    live = Generation.objects.runs().filter(owner=user, status__in=LIVE_STATUSES).count()
    if live + adding > cap:
        source = limits.sources.get("max_queued", "")
        whose = f" (the limit of your {source})" if source.startswith("group") else ""
        raise QuotaExceeded(
            {
                "queued": [
                    f"Too many generations at once: you may have {cap} queued or running"
                    f"{whose}, {live} are, and this request adds {adding}. Wait for some to "
                    "finish or cancel them."
                ]
            },
            code="quota",
        )


def check_limits(user, estimate_usd: Decimal | None, num_images: int = 0) -> None:
    """Refuse spending that would pass a limit: QuotaExceeded (429) for the daily image
    limit (only when ``num_images`` asks for images), ValidationError (400) for a monthly
    budget. Not called directly: ``generation.usage.gate.admit_spending`` locks the user's
    row and calls it; it locks the team budget row itself."""
    estimate = estimate_usd or Decimal(0)
    limits = effective_limits(user)
    if limits.monthly_budget_usd is not None or (
        num_images and limits.daily_image_limit is not None
    ):
        _check_user_limits(user, estimate, num_images, limits)
    _check_team_limit(estimate)


def _check_user_limits(user, estimate: Decimal, num_images: int, limits) -> None:
    """check_limits' part for the user's own limits (only asked when one applies: the
    usage figures are a handful of aggregate queries on every submission)."""
    spend, images = user_usage(user, limits)
    if num_images and images.limit is not None and images.used + num_images > images.limit:
        raise QuotaExceeded(
            {
                "num_images": [
                    f"Daily image limit reached: your limit is {images.limit} images a day, "
                    f"{images.used} are made or running today, and this request asks for "
                    f"{num_images}."
                ]
            },
            code="quota",
        )
    if spend.limit is not None and spend.used + estimate > spend.limit:
        raise ValidationError(
            {
                "budget": [
                    f"This request would exceed your monthly budget of {_usd(spend.limit)}: "
                    f"{_usd(spend.used)} is spent or running this month, and this request is "
                    f"estimated at {_usd(estimate)}."
                ]
            },
            code="budget",
        )


def _check_team_limit(estimate: Decimal) -> None:
    if TeamBudget.current().monthly_limit() is None:
        return
    # Serialise submissions of different users against the team budget (PostgreSQL).
    team, _ = TeamBudget.objects.select_for_update().get_or_create(pk=1)
    use = team_usage(team)
    if use is not None and use.used + estimate > use.limit:
        raise ValidationError(
            {
                "budget": [
                    f"This request would exceed the team's monthly budget of {_usd(use.limit)}: "
                    f"{_usd(use.used)} is spent or running this month, and this request is "
                    f"estimated at {_usd(estimate)}."
                ]
            },
            code="budget",
        )
