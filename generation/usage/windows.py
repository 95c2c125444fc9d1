"""Figures over a viewer's own days: from the rollup where its days line up with the team's,
from the generations themselves where they do not.

The rollup (DailyUsage) counts each finished generation on its creation day in the team's
time zone (TIME_ZONE). A member may work in another zone, where a day starts at another
instant. ``collect`` adds up any series of the viewer's periods (buckets, each from one local
midnight to a later one): every team day that lies wholly inside one bucket comes from the
rollup, and the rest of the time (none at all when the zones agree; the whole range when a
daily series is asked in a zone whose midnight is not the team's) from the finished
Generation rows that the rollup has counted (those with a RolledUpGeneration marker, which
keeps the images each was counted with), added up as ``rollup.contribution`` adds them. Both
paths therefore give the same figures: GPU time too, rounded to whole milliseconds per
generation by SQL with the same double arithmetic as ``rollup.to_gpu_ms``.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from django.db.models import Case, Count, F, IntegerField, Max, Q, Sum, Value, When
from django.db.models.functions import Floor

from generation.models import FINISHED_STATUSES, UPLOAD, Generation, Status
from generation.usage.models import DailyUsage
from generation.usage.rollup import (
    COUNTERS,
    ROW_FIELDS,
    contribution,
    day_start,
    dimensions,
    team_zone,
    to_micros,
)

CHUNK = 5000


@dataclass(frozen=True)
class Buckets:
    """Consecutive periods of local days in a zone: ``labels[i]`` names the period from
    ``bounds[i]`` (inclusive) to ``bounds[i + 1]`` (exclusive), both aware instants."""

    labels: tuple[date, ...]
    bounds: tuple[datetime, ...]

    def index(self, moment: datetime) -> int:
        """The bucket a moment inside the range falls into."""
        return bisect_right(self.bounds, moment) - 1


def day_buckets(start: date, end: date, zone: tzinfo, *, weekly: bool = False) -> Buckets:
    """One bucket per local day of start..end, or per week (Monday first; the first and last
    weeks are cut to the range and labelled with their Monday)."""
    labels, bounds = [], []
    day = start
    while day <= end:
        if not weekly or day == start or day.weekday() == 0:
            labels.append(day - timedelta(days=day.weekday()) if weekly else day)
            bounds.append(day_start(day, zone))
        day += timedelta(days=1)
    bounds.append(day_start(end + timedelta(days=1), zone))
    return Buckets(tuple(labels), tuple(bounds))


def period_bucket(start: date, end: date, zone: tzinfo) -> Buckets:
    """The whole of start..end as one bucket."""
    return Buckets((start,), (day_start(start, zone), day_start(end + timedelta(days=1), zone)))


def plan(buckets: Buckets) -> tuple[dict[date, int], list[tuple[datetime, datetime]]]:
    """The team days that lie wholly inside one bucket (→ that bucket's index), and the
    intervals of the range left over, merged, in order."""
    team = team_zone()
    first, stop = buckets.bounds[0], buckets.bounds[-1]
    whole: dict[date, int] = {}
    rest: list[tuple[datetime, datetime]] = []
    cursor = first
    day = first.astimezone(team).date()
    while True:
        begins, ends = day_start(day, team), day_start(day + timedelta(days=1), team)
        if begins >= stop:
            break
        if begins >= first and ends <= stop:
            index = buckets.index(begins)
            if ends <= buckets.bounds[index + 1]:
                whole[day] = index
                if cursor < begins:
                    rest.append((cursor, begins))
                cursor = ends
        day += timedelta(days=1)
    if cursor < stop:
        rest.append((cursor, stop))
    return whole, rest


def collect(
    filters: dict, buckets: Buckets, keys: tuple[str, ...] = (), fields: tuple[str, ...] = COUNTERS
) -> dict[tuple, dict[str, int]]:
    """Sums of ``fields`` (DailyUsage counters; "latency_max_ms" is a maximum) of the finished
    generations matching ``filters`` (owner_id, project_id), per (bucket index, *keys)."""
    whole, rest = plan(buckets)
    totals: dict[tuple, dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    if whole:
        _from_rollup(totals, filters, buckets, whole, keys, fields)
    if rest:
        _from_generations(totals, filters, buckets, rest, keys, fields)
    return dict(totals)


def _from_rollup(totals, filters, buckets, whole, keys, fields) -> None:
    days = sorted(whole)
    rows = DailyUsage.objects.filter(**filters)
    if (days[-1] - days[0]).days + 1 == len(days):
        rows = rows.filter(day__gte=days[0], day__lte=days[-1])
    else:
        rows = rows.filter(day__in=days)
    # One bucket (a range's totals): no need to keep the days apart.
    group = keys if len(buckets.labels) == 1 else ("day", *keys)
    sums = {name: Max(name) if name == "latency_max_ms" else Sum(name) for name in fields}
    if not group:  # one row of sums (values() without fields would group by every column)
        _merge(totals[(0,)], rows.aggregate(**sums), fields)
        return
    for row in rows.values(*group).annotate(**sums).order_by():
        index = 0 if len(buckets.labels) == 1 else whole[row["day"]]
        _merge(totals[(index, *(row[key] for key in keys))], row, fields)


def _from_generations(totals, filters, buckets, rest, keys, fields) -> None:
    span = Q()
    for begins, ends in rest:
        span |= Q(created_at__gte=begins, created_at__lt=ends)
    # Exactly the generations the rollup has counted: those with a marker.
    counted = Generation.objects.filter(
        span, status__in=FINISHED_STATUSES, rollup_marker__isnull=False, **filters
    )
    if set(fields) <= SQL_FIELDS and "failure_kind" not in keys:
        _summed_by_sql(totals, counted, buckets, keys, fields)
    else:
        _summed_row_by_row(totals, counted, buckets, keys, fields)


# The counters SQL can add up exactly as rollup.contribution does (latency, whose
# milliseconds contribution truncates per generation, and failure kinds, read from the error
# text, are counted row by row: stats and usage need them only for the partial days at the
# ends of their range).
# Uploads count only as uploads and storage (rollup.contribution).
SUCCEEDED = Q(status=Status.SUCCEEDED)
UPLOADED = Q(operation=UPLOAD)
RAN = ~UPLOADED
SQL_AGGREGATES = {
    "generations": Count("id", filter=RAN),
    "succeeded": Count("id", filter=SUCCEEDED & RAN),
    "failed": Count("id", filter=Q(status=Status.FAILED) & RAN),
    "canceled": Count("id", filter=Q(status=Status.CANCELED) & RAN),
    "images": Sum("rollup_marker__images", filter=SUCCEEDED & RAN),
    "uploads": Sum("rollup_marker__images", filter=SUCCEEDED & UPLOADED),
    "image_bytes": Sum("rollup_marker__image_bytes", filter=SUCCEEDED),
    "spend_reported_micros": Sum("cost_usd", filter=SUCCEEDED & RAN & Q(cost_is_estimate=False)),
    "spend_estimated_micros": Sum("cost_usd", filter=SUCCEEDED & RAN & Q(cost_is_estimate=True)),
    # rollup.to_gpu_ms per generation (floor(s × 1000 + 0.5)), then the sum: every outcome.
    "gpu_ms": Sum(Floor(F("gpu_seconds") * 1000 + Value(0.5)), filter=RAN & Q(gpu_seconds__gt=0)),
}
SQL_FIELDS = frozenset(SQL_AGGREGATES)
DOLLAR_FIELDS = ("spend_reported_micros", "spend_estimated_micros")


def _summed_by_sql(totals, counted, buckets, keys, fields) -> None:
    if len(buckets.labels) == 1:
        bucket = Value(0)
    else:  # the first bound the creation time is below, as a bucket index
        bucket = Case(
            *(
                When(created_at__lt=bound, then=Value(index))
                for index, bound in enumerate(buckets.bounds[1:])
            ),
            output_field=IntegerField(),
        )
    rows = (
        counted.annotate(bucket=bucket)
        .values("bucket", *keys)
        .annotate(**{name: SQL_AGGREGATES[name] for name in fields})
        .order_by()
    )
    for row in rows:
        for name in DOLLAR_FIELDS:
            if name in row:
                row[name] = to_micros(row[name])
        if "gpu_ms" in row:  # a float sum of whole numbers on PostgreSQL
            row["gpu_ms"] = int(row["gpu_ms"] or 0)
        if "project_id" in row:  # the rollup's "no project" is 0
            row["project_id"] = row["project_id"] or 0
        _merge(totals[(row["bucket"], *(row[key] for key in keys))], row, fields)


def _summed_row_by_row(totals, counted, buckets, keys, fields) -> None:
    last_id = 0
    columns = (*ROW_FIELDS, "rollup_marker__images", "rollup_marker__image_bytes")
    while True:
        rows = list(counted.filter(id__gt=last_id).order_by("id").values(*columns)[:CHUNK])
        if not rows:
            return
        last_id = rows[-1]["id"]
        for row in rows:
            add = contribution(row, row["rollup_marker__images"], row["rollup_marker__image_bytes"])
            values = dimensions(row)
            _merge(
                totals[(buckets.index(row["created_at"]), *(values[k] for k in keys))], add, fields
            )


def _merge(total: dict[str, int], row: dict, fields: tuple[str, ...]) -> None:
    for name in fields:
        value = row.get(name) or 0
        if name == "latency_max_ms":
            total[name] = max(total[name], value)
        else:
            total[name] += value
