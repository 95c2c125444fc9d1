"""Dashboard figures: stats, usage breakdowns and trends for a scope and a date range.

Every figure about finished generations is read from the DailyUsage rollup (a few thousand
rows at most, whatever the number of generations) where the viewer's days are the team's, and
otherwise added up from the generations of the days that differ (``generation.usage.windows``); only
"in progress", favorites and budgets read live tables, through indexed lookups.

Every image operation counts like a generation, and usage can be grouped by operation
(``by=operation``). Uploads are no generations: they are left out of every count, spend and
rate, and only their bytes count, in ``storage_bytes`` (with ``uploads``, their number).

GPU time (issue #17): ``gpu_seconds`` beside spend in the stats, every usage row and every
trend point: the GPU-seconds of the generations that ran on the team's own GPUs, whatever
their outcome (the rollup keeps whole milliseconds, so the figures have three decimals at
most). Their cost is in the spend already (GPU-seconds × the backend's price).
"""

import math
from dataclasses import dataclass, field
from datetime import date, timedelta, tzinfo
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from gallery.models import Image
from generation.models import Generation, OperationChoice
from generation.usage import budgets, windows
from generation.usage.failures import failure_label
from generation.usage.models import LATENCY_BUCKETS_MS, LATENCY_FIELDS, MICROS
from generation.usage.rollup import team_zone
from imagegen.core.exceptions import Forbidden, NotFound
from projects.models import Project

DEFAULT_RANGE_DAYS = 30
MAX_RANGE_DAYS = 3 * 366
WEEKLY_AFTER_DAYS = 90
SUMMED = (
    "generations",
    "succeeded",
    "failed",
    "canceled",
    "images",
    "uploads",
    "image_bytes",
    "spend_reported_micros",
    "spend_estimated_micros",
    "latency_count",
    "latency_sum_ms",
    "gpu_ms",
)
USAGE_GROUPS = {
    "provider": ("provider",),
    "model": ("provider", "model"),
    "user": ("owner_id",),
    "project": ("project_id",),
    "operation": ("operation",),
}
OPERATION_LABELS = dict(OperationChoice.choices)
USAGE_SORTS = ("generations", "images", "failures", "spend", "gpu_seconds", "avg_latency", "name")


@dataclass
class Scope:
    """Whose figures: one user, a project, or the whole team (staff), over the local days
    start..end of ``zone`` (the viewer's)."""

    start: date
    end: date
    owner_id: int | None = None
    project_id: int | None = None
    team: bool = False
    zone: tzinfo = field(default_factory=team_zone)

    @property
    def kind(self) -> str:
        if self.project_id is not None:
            return "project"
        return "team" if self.team else "user"

    def collect(
        self,
        keys: tuple[str, ...] = (),
        fields=windows.COUNTERS,
        *,
        weekly: bool = False,
        whole: bool = False,
    ) -> tuple[dict[tuple, dict], windows.Buckets]:
        """Sums over the range (``whole``) or per local day or week, per ``keys``, and the
        buckets they are indexed by."""
        if whole:
            buckets = windows.period_bucket(self.start, self.end, self.zone)
        else:
            buckets = windows.day_buckets(self.start, self.end, self.zone, weekly=weekly)
        return windows.collect(self.filters(), buckets, keys, fields), buckets

    def filters(self) -> dict:
        """The scope as a filter on DailyUsage, Generation and Image rows."""
        filters = {}
        if self.owner_id is not None:
            filters["owner_id"] = self.owner_id
        if self.project_id is not None:
            filters["project_id"] = self.project_id
        return filters

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "user": self.owner_id,
            "project": self.project_id,
            "from": self.start.isoformat(),
            "to": self.end.isoformat(),
            "time_zone": str(self.zone),
        }


def make_scope(
    *,
    start: date,
    end: date,
    owner_id=None,
    project_id=None,
    team=False,
    zone: tzinfo | None = None,
) -> Scope:
    """A Scope; the caller has checked that the requester may see it."""
    return Scope(
        start=start,
        end=end,
        owner_id=owner_id,
        project_id=project_id,
        team=team and owner_id is None,
        zone=zone or team_zone(),
    )


def default_range(zone: tzinfo | None = None) -> tuple[date, date]:
    """The last 30 local days of ``zone`` (the team's by default), today included."""
    today = timezone.localdate(timezone=zone or team_zone())
    return today - timedelta(days=DEFAULT_RANGE_DAYS - 1), today


def _dollars(micros: int | None) -> str:
    return str((Decimal(micros or 0) / MICROS).quantize(Decimal("0.000001")))


def gpu_seconds(milliseconds: int | None) -> float:
    """The rollup's whole GPU milliseconds as seconds (exact to the millisecond)."""
    return round((milliseconds or 0) / 1000, 3)


def _spend(sums: dict) -> dict:
    reported, estimated = (
        sums.get("spend_reported_micros") or 0,
        sums.get("spend_estimated_micros") or 0,
    )
    return {
        "total_usd": _dollars(reported + estimated),
        "reported_usd": _dollars(reported),
        "estimated_usd": _dollars(estimated),
    }


def p95_from_histogram(counts: list[int], maximum: int) -> int | None:
    """The 95th percentile (nearest rank) as the upper bound of its histogram bucket, never
    above the largest latency seen."""
    total = sum(counts)
    if not total:
        return None
    rank, seen = math.ceil(0.95 * total), 0
    for count, bound in zip(counts, LATENCY_BUCKETS_MS, strict=True):
        seen += count
        if seen >= rank:
            return maximum if bound is None else min(bound, maximum)
    return maximum


def in_progress_count(scope: Scope) -> int:
    """Generations of the scope queued or running now (whatever the date range)."""
    return (
        Generation.objects.runs()
        .filter(status__in=budgets.LIVE_STATUSES, **scope.filters())
        .count()
    )


def stats(scope: Scope, *, budget_user=None) -> dict:
    """The summary figures of a scope (see README: GET /api/dashboard/stats)."""
    fields = (*SUMMED, *LATENCY_FIELDS, "latency_max_ms")
    sums, _ = scope.collect(("failure_kind",), fields, whole=True)
    by_kind = [{"failure_kind": key[1], **values} for key, values in sums.items()]
    totals = {name: sum(row[name] for row in by_kind) for name in SUMMED + LATENCY_FIELDS}
    latency_max = max((row["latency_max_ms"] for row in by_kind), default=0)
    failures = sorted(
        (
            {
                "kind": row["failure_kind"],
                "label": failure_label(row["failure_kind"]),
                "count": row["failed"],
            }
            for row in by_kind
            if row["failure_kind"] and row["failed"]
        ),
        key=lambda item: (-item["count"], item["kind"]),
    )
    decided = totals["succeeded"] + totals["failed"]

    first, month = budgets.month_spend(scope.zone, scope.filters())
    live = scope.filters()
    in_progress = in_progress_count(scope)
    # favorite__in=[True], not favorite=True: Django writes the latter as a bare `WHERE
    # "favorite"`, which SQLite cannot match to the (owner, favorite) index, so it walked
    # every image of the scope (bench figure 6: ~90 ms of the team's stats at 1M images).
    favorites = Image.objects.filter(favorite__in=[True], **live)
    if not live:  # the team: per-owner ranges of the (owner, favorite) index, not a scan
        favorites = favorites.filter(owner_id__in=get_user_model().objects.values("pk"))

    return {
        "scope": scope.as_dict(),
        "generations": totals["generations"],
        "succeeded": totals["succeeded"],
        "failed": totals["failed"],
        "canceled": totals["canceled"],
        "in_progress": in_progress,
        "images": totals["images"],
        "success_rate": round(totals["succeeded"] / decided, 4) if decided else None,
        "failures_by_reason": failures,
        "latency_ms": {
            "count": totals["latency_count"],
            "average": (
                round(totals["latency_sum_ms"] / totals["latency_count"])
                if totals["latency_count"]
                else None
            ),
            "p95": p95_from_histogram([totals[name] for name in LATENCY_FIELDS], latency_max),
        },
        "spend": {
            "range": _spend(totals),
            "this_month": _spend(month),
            "month": first.isoformat()[:7],
        },
        # GPU time on the team's own GPUs in the range (seconds; cost is in the spend).
        "gpu_seconds": gpu_seconds(totals["gpu_ms"]),
        "favorites": favorites.count(),
        # Images uploaded in the range (not counted in "images": uploads are no generations).
        "uploads": totals["uploads"],
        # Bytes of the images made and uploaded in the range (from the rollup: summing the
        # live Image table costs a scan of every image row).
        "storage_bytes": totals["image_bytes"],
        "budget": _budget_for(scope, budget_user),
    }


def _budget_for(scope: Scope, budget_user) -> dict | None:
    if budget_user is not None:
        return budgets.budget_status(budget_user)
    if scope.team and scope.project_id is None:
        team = budgets.team_usage()
        return {"team_monthly": team.as_dict() if team is not None else None}
    return None


USAGE_METRICS = (
    "generations",
    "succeeded",
    "failures",
    "canceled",
    "images",
    "avg_latency_ms",
    "spend_usd",
    "spend_reported_usd",
    "spend_estimated_usd",
    "gpu_seconds",
)
_USAGE_LABELS = {
    "provider": ("provider",),
    "model": ("provider", "model"),
    "user": ("user_id", "username"),
    "project": ("project_id", "project"),
    "operation": ("operation", "label"),
}


def usage_columns(by: str) -> list[str]:
    """The columns of a usage row grouped ``by``: the CSV header, even with no rows."""
    return [*_USAGE_LABELS[by], *USAGE_METRICS]


def usage(scope: Scope, *, by: str = "model", sort: str = "-spend") -> list[dict]:
    """One row per provider, model, user, project or operation of the scope, sorted. Rows
    of uploads alone (no generation) are left out: uploads are not usage."""
    keys = USAGE_GROUPS[by]
    sums, _ = scope.collect(keys, SUMMED, whole=True)
    rows = [
        {**dict(zip(keys, key[1:], strict=True)), **values}
        for key, values in sums.items()
        if values["generations"]
    ]
    names = _names(by, [row[keys[0]] for row in rows])
    result = []
    for row in rows:
        item = {}
        if by == "provider":
            item["provider"] = row["provider"]
        elif by == "model":
            item["provider"], item["model"] = row["provider"], row["model"]
        elif by == "user":
            item["user_id"], item["username"] = row["owner_id"], names.get(row["owner_id"], "")
        elif by == "operation":
            item["operation"] = row["operation"]
            item["label"] = OPERATION_LABELS.get(row["operation"], row["operation"])
        else:
            project_id = row["project_id"] or None
            item["project_id"] = project_id
            item["project"] = names.get(project_id) or (
                "No project" if project_id is None else f"Project {project_id}"
            )
        spend = _spend(row)
        item.update(
            {
                "generations": row["generations"] or 0,
                "succeeded": row["succeeded"] or 0,
                "failures": row["failed"] or 0,
                "canceled": row["canceled"] or 0,
                "images": row["images"] or 0,
                "avg_latency_ms": (
                    round(row["latency_sum_ms"] / row["latency_count"])
                    if row["latency_count"]
                    else None
                ),
                "spend_usd": spend["total_usd"],
                "spend_reported_usd": spend["reported_usd"],
                "spend_estimated_usd": spend["estimated_usd"],
                "gpu_seconds": gpu_seconds(row["gpu_ms"]),
            }
        )
        result.append(item)
    return _sorted(result, by, sort)


def _names(by: str, ids: list) -> dict:
    if by == "user":
        return dict(get_user_model().objects.filter(pk__in=ids).values_list("pk", "username"))
    if by == "project":
        return dict(Project.objects.filter(pk__in=[i for i in ids if i]).values_list("pk", "name"))
    return {}


def _sorted(rows: list[dict], by: str, sort: str) -> list[dict]:
    descending = sort.startswith("-")
    name = sort.lstrip("-")
    label = {
        "provider": ("provider",),
        "model": ("provider", "model"),
        "user": ("username",),
        "project": ("project",),
        "operation": ("label",),
    }[by]

    def label_of(row):
        return tuple(str(row[k]).lower() for k in label)

    def value_of(row):
        if name == "name":
            return label_of(row)
        value = {
            "spend": Decimal(row["spend_usd"]),
            "avg_latency": row["avg_latency_ms"],
            "failures": row["failures"],
        }.get(name, row.get(name))
        return value if value is not None else -1

    # Ties keep a stable, readable order: by label.
    rows = sorted(rows, key=label_of)
    return sorted(rows, key=value_of, reverse=descending)


def trends(scope: Scope) -> dict:
    """A zero-filled series of generations, images, failures, spend and GPU time: daily, or weekly
    (weeks start on Monday) when the range is longer than 90 days."""
    days = (scope.end - scope.start).days + 1
    weekly = days > WEEKLY_AFTER_DAYS
    sums, buckets = scope.collect(
        (),
        (
            "generations",
            "images",
            "failed",
            "spend_reported_micros",
            "spend_estimated_micros",
            "gpu_ms",
        ),
        weekly=weekly,
    )
    points = []
    for index, start in enumerate(buckets.labels):
        row = sums.get((index,), {})
        points.append(
            {
                "date": start.isoformat(),
                "generations": row.get("generations", 0),
                "images": row.get("images", 0),
                "failures": row.get("failed", 0),
                "spend_usd": _dollars(
                    row.get("spend_reported_micros", 0) + row.get("spend_estimated_micros", 0)
                ),
                "gpu_seconds": gpu_seconds(row.get("gpu_ms", 0)),
            }
        )
    return {"scope": scope.as_dict(), "interval": "week" if weekly else "day", "points": points}


def scope_for(
    requester,
    *,
    start: date,
    end: date,
    team: bool = False,
    user_id=None,
    project_id=None,
    zone: tzinfo | None = None,
) -> tuple[Scope, object]:
    """The scope a requester asked for, and the user whose budget goes with it (or None).

    Members see only their own figures: asking for the team is Forbidden, for another user
    or someone else's project NotFound. Staff may ask for anything.
    """
    User = get_user_model()
    if not requester.is_staff:
        if team:
            raise Forbidden("Team figures are for staff.")
        if user_id is not None and user_id != requester.pk:
            raise NotFound("No such user.")
        if (
            project_id is not None
            and not Project.objects.for_user(requester, "view").filter(pk=project_id).exists()
        ):
            raise NotFound("No such project.")
        scope = make_scope(
            start=start, end=end, owner_id=requester.pk, project_id=project_id, zone=zone
        )
        return scope, requester
    subject = None
    if user_id is not None:
        subject = User.objects.filter(pk=user_id).first()
        if subject is None:
            raise NotFound("No such user.")
    if project_id is not None and not Project.objects.filter(pk=project_id).exists():
        raise NotFound("No such project.")
    if subject is None and not team and project_id is None:
        subject = requester
    scope = make_scope(
        start=start,
        end=end,
        owner_id=subject.pk if subject else None,
        project_id=project_id,
        team=subject is None,
        zone=zone,
    )
    return scope, subject
