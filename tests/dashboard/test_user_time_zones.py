"""Each user's days are those of their own time zone (Preferences.time_zone): the dashboard's
ranges and series, and their daily and monthly limits. The rollup keeps the team's days
(TIME_ZONE); these tests prove a viewer in another zone gets the same figures as a count of
the generations by their own local day, including zones whose midnight is half or three
quarters of an hour off the team's, and days that daylight saving makes 23 or 25 hours long.
"""

import random
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from dashboard import services
from gallery.models import Image
from generation.models import Generation, Status
from generation.usage import budgets, windows
from generation.usage.models import UserBudget
from generation.usage.rollup import record_generation_finished
from projects.models import Project
from settings_app.models import Preferences
from tests.dashboard.helpers import at, finished
from tests.users import client_for

pytestmark = pytest.mark.django_db


def set_zone(user, zone: str) -> None:
    prefs = Preferences.for_user(user)
    prefs.time_zone = zone
    prefs.save()
    user.refresh_from_db()  # the test clients reuse this instance, with its cached preferences


def trend_days(api, start: str, end: str) -> dict[str, int]:
    body = api.get(f"/api/dashboard/trends?from={start}&to={end}").json()
    return {p["date"]: p["generations"] for p in body["points"]}


@pytest.mark.parametrize(
    ("zone", "created", "expected"),
    [
        # Tokyo (+9): 14:30 UTC is 23:30 on the 1st, 15:30 UTC is 00:30 on the 2nd.
        (
            "Asia/Tokyo",
            ["2025-03-01 14:30", "2025-03-01 15:30"],
            {"2025-03-01": 1, "2025-03-02": 1, "2025-03-03": 0},
        ),
        # Kolkata (+5:30): a minute either side of local midnight.
        (
            "Asia/Kolkata",
            ["2025-03-01 18:29", "2025-03-01 18:31"],
            {"2025-03-01": 1, "2025-03-02": 1, "2025-03-03": 0},
        ),
        # Kathmandu (+5:45).
        (
            "Asia/Kathmandu",
            ["2025-03-01 18:14", "2025-03-01 18:15", "2025-03-02 18:14"],
            {"2025-03-01": 1, "2025-03-02": 2, "2025-03-03": 0},
        ),
        # New York (-5): 04:59 UTC on the 2nd is 23:59 on the 1st there, 05:00 is midnight,
        # and 04:00 UTC on the 4th is 23:00 on the 3rd.
        (
            "America/New_York",
            ["2025-03-02 04:59", "2025-03-02 05:00", "2025-03-04 04:00"],
            {"2025-03-01": 1, "2025-03-02": 1, "2025-03-03": 1},
        ),
    ],
)
def test_trends_follow_the_viewers_own_midnight(owner, owner_api, zone, created, expected):
    for moment in created:
        finished(owner, moment)
    # Before choosing a zone: the team's days (UTC).
    assert trend_days(owner_api, "2025-03-01", "2025-03-03") == _utc_days(created)
    set_zone(owner, zone)
    body = owner_api.get("/api/dashboard/trends?from=2025-03-01&to=2025-03-03").json()
    assert body["scope"]["time_zone"] == zone
    assert {p["date"]: p["generations"] for p in body["points"]} == expected


def _utc_days(created: list[str]) -> dict[str, int]:
    days = {"2025-03-01": 0, "2025-03-02": 0, "2025-03-03": 0}
    for moment in created:
        day = moment[:10]
        if day in days:
            days[day] += 1
    return days


def test_a_daylight_saving_day_has_its_own_length(owner, owner_api):
    """New York sprang forward on 9 March 2025: that local day lasted 23 hours, from 05:00
    UTC to 04:00 UTC the next day."""
    set_zone(owner, "America/New_York")
    for moment in (
        "2025-03-09 04:59",
        "2025-03-09 05:00",
        "2025-03-10 03:59",
        "2025-03-10 04:00",
        "2025-11-02 04:00",
        "2025-11-03 04:59",
        "2025-11-03 05:00",
    ):
        finished(owner, moment)
    assert trend_days(owner_api, "2025-03-08", "2025-03-10") == {
        "2025-03-08": 1,
        "2025-03-09": 2,
        "2025-03-10": 1,
    }
    # Fell back on 2 November: that day lasted 25 hours, from 04:00 to 05:00 UTC next day.
    assert trend_days(owner_api, "2025-11-01", "2025-11-03") == {
        "2025-11-01": 0,
        "2025-11-02": 2,
        "2025-11-03": 1,
    }


def test_range_totals_and_breakdowns_use_the_viewers_days(owner, owner_api):
    finished(
        owner, "2025-03-01 14:30", cost="0.10", estimate=False, images=2, model="offline-shapes"
    )
    finished(
        owner, "2025-03-01 15:30", cost="0.20", estimate=False, images=1, model="offline-noise"
    )
    finished(owner, "2025-03-02 16:00", status=Status.FAILED, error="Timed out after 9 s.")
    set_zone(owner, "Asia/Tokyo")
    stats = owner_api.get("/api/dashboard/stats?from=2025-03-02&to=2025-03-02").json()
    # Tokyo's 2 March is 15:00 UTC on the 1st to 15:00 UTC on the 2nd.
    assert (stats["generations"], stats["images"], stats["failed"]) == (1, 1, 0)
    assert stats["spend"]["range"]["total_usd"] == "0.200000"
    usage = owner_api.get("/api/dashboard/usage?from=2025-03-02&to=2025-03-03").json()
    assert [(r["model"], r["generations"], r["failures"]) for r in usage["rows"]] == [
        ("offline-noise", 1, 0),
        ("offline-shapes", 1, 1),
    ]
    csv_text = owner_api.get(
        "/api/dashboard/usage?from=2025-03-01&to=2025-03-01&format=csv"
    ).content.decode()
    assert csv_text.splitlines()[1].startswith("offline,offline-shapes,1,1,0,0,2,")


def test_the_team_view_is_in_the_staff_members_own_zone(owner, member, admin_user):
    finished(owner, "2025-03-01 14:30")
    finished(member, "2025-03-01 15:30")
    set_zone(admin_user, "Asia/Tokyo")
    staff = client_for(admin_user)
    body = staff.get("/api/dashboard/trends?scope=team&from=2025-03-01&to=2025-03-02").json()
    assert [p["generations"] for p in body["points"]] == [1, 1]
    set_zone(admin_user, "")
    body = staff.get("/api/dashboard/trends?scope=team&from=2025-03-01&to=2025-03-02").json()
    assert body["scope"]["time_zone"] == "UTC"
    assert [p["generations"] for p in body["points"]] == [2, 0]


def test_figures_keep_the_images_they_were_counted_with(owner, owner_api):
    """The rollup counts the images a generation made; deleting one from the gallery later
    changes neither the team's days nor another zone's."""
    generation = finished(owner, "2025-03-01 14:30", images=3, image_bytes=10)
    Image.objects.filter(generation=generation).first().delete()
    utc = owner_api.get("/api/dashboard/stats?from=2025-03-01&to=2025-03-01").json()
    set_zone(owner, "Asia/Tokyo")
    tokyo = owner_api.get("/api/dashboard/stats?from=2025-03-01&to=2025-03-01").json()
    assert (utc["images"], utc["storage_bytes"]) == (3, 30)
    assert (tokyo["images"], tokyo["storage_bytes"]) == (3, 30)
    points = owner_api.get("/api/dashboard/trends?from=2025-03-01&to=2025-03-01").json()
    assert points["points"][0]["images"] == 3


def test_both_paths_count_only_what_the_rollup_has_counted(owner, owner_api):
    generation = finished(owner, "2025-03-01 14:30", images=2, record=False)
    for zone in ("", "Asia/Tokyo"):
        set_zone(owner, zone)
        body = owner_api.get("/api/dashboard/stats?from=2025-03-01&to=2025-03-01").json()
        assert (body["generations"], body["images"]) == (0, 0), zone
    record_generation_finished(generation)
    for zone in ("", "Asia/Tokyo"):
        set_zone(owner, zone)
        body = owner_api.get("/api/dashboard/stats?from=2025-03-01&to=2025-03-01").json()
        assert (body["generations"], body["images"]) == (1, 2), zone


def test_counting_from_the_generations_gives_the_rollups_figures(owner, member, monkeypatch):
    """Every figure (failure kinds, latency histogram and p95, spend, images, per model and
    project), counted from the generations alone, equals the rollup's."""
    rng = random.Random(7)
    garden = Project.objects.create(owner=owner, name="Garden")
    errors = [
        "Timed out after 5 s.",
        "Rate limited by fal",
        "The provider said no.",
        "Could not store the image: the disk is full.",
    ]
    for user in (owner, member):
        for _ in range(60):
            status = rng.choice([Status.SUCCEEDED] * 3 + [Status.FAILED, Status.CANCELED])
            finished(
                user,
                at("2025-03-01 00:00") + timedelta(minutes=rng.randrange(0, 14400)),
                status=status,
                images=rng.randint(1, 3),
                cost=f"0.{rng.randint(1, 999):03d}",
                estimate=rng.random() < 0.5,
                latency_ms=rng.randrange(-5, 400_000),
                error=rng.choice(errors) if status == Status.FAILED else "",
                model=rng.choice(["offline-shapes", "offline-noise"]),
                project=rng.choice([None, garden]) if user == owner else None,
            )
    # What was asked for and what is left in the gallery are not what was counted.
    Generation.objects.update(num_images=4)
    Image.objects.filter(index=0).delete()

    def figures():
        out = []
        for kwargs in ({"owner_id": owner.pk}, {"team": True}, {"project_id": garden.pk}):
            scope = services.make_scope(start=date(2025, 3, 1), end=date(2025, 3, 12), **kwargs)
            stats = services.stats(scope)
            stats.pop("in_progress")
            out.append(
                (
                    stats,
                    services.trends(scope),
                    [services.usage(scope, by=by) for by in services.USAGE_GROUPS],
                )
            )
        return out

    from_rollup = figures()
    real_plan = windows.plan

    def generations_only(buckets):
        whole, rest = real_plan(buckets)
        return {}, [(buckets.bounds[0], buckets.bounds[-1])]

    monkeypatch.setattr(windows, "plan", generations_only)
    assert figures() == from_rollup


ZONES = [
    "UTC",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "America/New_York",
    "Pacific/Chatham",
    "America/St_Johns",
    "Pacific/Kiritimati",
]


@pytest.mark.parametrize("team_zone", ["UTC", "Europe/Paris", "America/Los_Angeles"])
def test_every_zone_matches_a_count_by_local_day(settings, owner, team_zone):
    """Random generations around two daylight-saving changes; for every viewer zone, daily
    and weekly series, range totals and the usage table equal a direct count by the viewer's
    local day, whichever zone the team's rollup uses."""
    settings.TIME_ZONE = team_zone
    rng = random.Random(team_zone)
    first = at("2025-03-01 00:00")
    made = []
    for _ in range(120):
        created = first + timedelta(minutes=rng.randrange(0, 60 * 24 * 45))
        status = rng.choice([Status.SUCCEEDED] * 3 + [Status.FAILED, Status.CANCELED])
        images = rng.randint(1, 3)
        cost = f"0.0{rng.randint(1, 9)}"
        finished(
            owner,
            created,
            status=status,
            images=images,
            cost=cost,
            error="Timed out after 5 s." if status == Status.FAILED else "",
            model=rng.choice(["offline-shapes", "offline-noise"]),
        )
        made.append(
            (
                created,
                status,
                images if status == Status.SUCCEEDED else 0,
                Decimal(cost) if status == Status.SUCCEEDED else Decimal(0),
            )
        )
    start, end = date(2025, 3, 3), date(2025, 4, 10)
    for name in ZONES:
        zone = ZoneInfo(name)
        expected: dict[date, list] = {}
        for created, _status, images, cost in made:
            day = created.astimezone(zone).date()
            if start <= day <= end:
                entry = expected.setdefault(day, [0, 0, Decimal(0)])
                entry[0] += 1
                entry[1] += images
                entry[2] += cost
        scope = services.make_scope(start=start, end=end, owner_id=owner.pk, zone=zone)
        points = services.trends(scope)["points"]
        assert {
            p["date"]: (p["generations"], p["images"], Decimal(p["spend_usd"]))
            for p in points
            if p["generations"]
        } == {d.isoformat(): (g, i, c) for d, (g, i, c) in expected.items()}, name
        totals = services.stats(scope)
        assert totals["generations"] == sum(v[0] for v in expected.values()), name
        assert totals["images"] == sum(v[1] for v in expected.values()), name
        assert Decimal(totals["spend"]["range"]["total_usd"]) == sum(
            (v[2] for v in expected.values()), Decimal(0)
        ), name
        usage = services.usage(scope, by="model")
        assert sum(row["generations"] for row in usage) == totals["generations"], name
        weekly = services.trends(
            services.make_scope(
                start=date(2025, 1, 1), end=date(2025, 5, 31), owner_id=owner.pk, zone=zone
            )
        )
        assert weekly["interval"] == "week"
        assert sum(p["generations"] for p in weekly["points"]) == len(made), name


def test_the_rollup_answers_alone_when_the_zones_agree(settings):
    """Berlin's days are Paris's: nothing is counted from the generations. Tokyo's daily
    series needs them all; its weekly series only around each week's first day."""
    settings.TIME_ZONE = "Europe/Paris"
    berlin = ZoneInfo("Europe/Berlin")
    whole, rest = windows.plan(windows.day_buckets(date(2025, 3, 1), date(2025, 4, 30), berlin))
    assert rest == [] and len(whole) == 61
    tokyo = ZoneInfo("Asia/Tokyo")
    whole, rest = windows.plan(windows.day_buckets(date(2025, 3, 1), date(2025, 3, 30), tokyo))
    assert whole == {} and len(rest) == 1
    buckets = windows.day_buckets(date(2025, 1, 6), date(2025, 6, 29), tokyo, weekly=True)
    whole, rest = windows.plan(buckets)
    assert len(whole) == 6 * len(buckets.labels)  # every week: Monday..Saturday in Paris
    assert len(rest) == len(buckets.labels) + 1
    assert all(end - begin <= timedelta(hours=24) for begin, end in rest)


def test_the_daily_image_limit_counts_the_teams_today(owner):
    """The limit's day is the team's (UTC here), whatever zone the user chose: a quota the
    user could move by changing a preference would be no quota (it used to follow the
    user's zone)."""
    UserBudget.objects.create(user=owner, daily_image_limit=10)
    zone = ZoneInfo("Pacific/Kiritimati")  # +14: its today starts when UTC's is 10 h old
    midnight = datetime.combine(timezone.localdate(timezone=zone), datetime.min.time(), tzinfo=zone)
    made = [(midnight - timedelta(microseconds=1), 3), (midnight, 2)]
    for moment, images in made:
        finished(owner, moment, images=images)
    today = timezone.localdate(timezone=ZoneInfo("UTC"))
    in_utc_today = sum(
        images for moment, images in made if moment.astimezone(ZoneInfo("UTC")).date() == today
    )
    set_zone(owner, "Pacific/Kiritimati")
    assert budgets.budget_status(owner)["daily_images"]["made"] == in_utc_today
    set_zone(owner, "")
    assert budgets.budget_status(owner)["daily_images"]["made"] == in_utc_today


def test_the_monthly_budget_counts_the_teams_month_and_stats_the_users(
    owner, owner_api, monkeypatch
):
    """The budget's month is the team's (it used to be the user's); the dashboard's
    "this month" figure stays in the user's own zone."""
    UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("1.00"))
    monkeypatch.setattr(timezone, "now", lambda: at("2025-03-10 12:00"))
    set_zone(owner, "Asia/Tokyo")  # Tokyo's March starts at 15:00 UTC on 28 February
    finished(owner, "2025-02-28 14:59", cost="0.70", estimate=False)
    finished(owner, "2025-02-28 15:00", cost="0.40", estimate=False)
    finished(owner, "2025-03-01 10:00", cost="0.20", estimate=False)
    status = owner_api.get("/api/dashboard/budget").json()
    assert status["monthly"]["spent_usd"] == "0.200000"
    assert (status["time_zone"], status["month"]) == ("UTC", "2025-03")
    stats = owner_api.get("/api/dashboard/stats").json()
    assert stats["spend"]["this_month"]["total_usd"] == "0.600000"
    assert stats["spend"]["month"] == "2025-03"


def test_the_default_range_ends_on_the_users_today(owner, owner_api):
    set_zone(owner, "Pacific/Kiritimati")
    body = owner_api.get("/api/dashboard/trends").json()
    today = timezone.localdate(timezone=ZoneInfo("Pacific/Kiritimati"))
    assert body["scope"]["to"] == today.isoformat()
    assert len(body["points"]) == 30


def test_the_time_zone_preference_is_validated(owner_api):
    answer = owner_api.patch("/api/settings", {"time_zone": "Mars/Olympus"}, format="json")
    assert answer.status_code == 400
    assert "time_zone" in answer.json()
    answer = owner_api.patch("/api/settings", {"time_zone": "Asia/Kolkata"}, format="json")
    assert answer.status_code == 200 and answer.json()["time_zone"] == "Asia/Kolkata"
    answer = owner_api.patch("/api/settings", {"time_zone": ""}, format="json")
    assert answer.status_code == 200 and answer.json()["time_zone"] == ""


def test_pages_render_in_the_users_zone_and_the_api_does_not(owner, owner_client):
    set_zone(owner, "Asia/Kolkata")
    page = owner_client.get("/dashboard/")
    assert page.status_code == 200
    assert "days in Asia/Kolkata" in page.content.decode()
    settings_page = owner_client.get("/settings/").content.decode()
    assert '<option value="Asia/Kolkata" selected>' in settings_page
    # The API's times are in one zone for every client, session or token.
    Generation.objects.create(
        owner=owner,
        provider="offline",
        model="offline-shapes",
        prompt="p",
        width=64,
        height=64,
        created_at=at("2025-03-01 12:00"),
    )
    listed = owner_client.get("/api/generations").json()
    created = listed["results"][0]["created_at"] if "results" in listed else listed[0]["created_at"]
    assert created.startswith("2025-03-01T12:00")


def test_the_rollup_keeps_the_teams_days_whatever_zone_is_active(owner):
    """A cancel from a page runs with its user's zone active; the rollup still counts the
    generation on the team's day."""
    from generation.usage.models import DailyUsage

    with timezone.override(ZoneInfo("Asia/Tokyo")):
        finished(owner, "2025-03-01 20:00")  # 2 March in Tokyo
    assert list(DailyUsage.objects.values_list("day", flat=True)) == [date(2025, 3, 1)]


def test_range_sums_are_aggregated_by_the_database(owner, owner_api):
    """A sum over the rollup without grouping is one aggregate row, never the rollup rows
    themselves (values() without fields groups by every column: 50 ms at 1M)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for day in range(1, 20):
        finished(owner, f"2025-03-{day:02d} 10:00", cost="0.01")
    with CaptureQueriesContext(connection) as queries:
        budgets.budget_status(owner)
        owner_api.get("/api/dashboard/stats")
    rollup_reads = [
        query["sql"] for query in queries.captured_queries if "dashboard_dailyusage" in query["sql"]
    ]
    assert rollup_reads
    assert not any('"dashboard_dailyusage"."id"' in sql for sql in rollup_reads)


# --- Quotas are counted in the team's days, whatever zone the user chooses -------------------


def freeze(monkeypatch, moment: str) -> None:
    frozen = at(moment)
    monkeypatch.setattr(timezone, "now", lambda: frozen)


def signed_in(user):
    """An API client with a session: every request loads the user (and their preferences)
    afresh, as a browser's requests do."""
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_login(user)
    return client


def submit_priced(api, num_images=1):
    return api.post(
        "/api/generate",
        {"prompt": "a fox", "provider": "priced", "num_images": num_images},
        format="json",
    )


@pytest.mark.usefixtures("priced")
def test_changing_ones_zone_does_not_reset_the_daily_image_limit(owner, monkeypatch):
    """At 12:00 UTC it is already tomorrow in Kiritimati (+14): a user at their limit who
    moves there is still at it, because the limit counts the team's day."""
    owner_api = signed_in(owner)
    UserBudget.objects.create(user=owner, daily_image_limit=3)
    freeze(monkeypatch, "2025-03-10 12:00")
    finished(owner, "2025-03-10 09:00", images=3)
    assert submit_priced(owner_api).status_code == 429
    answer = owner_api.patch("/api/settings", {"time_zone": "Pacific/Kiritimati"}, format="json")
    assert answer.status_code == 200
    response = submit_priced(owner_api)
    assert response.status_code == 429
    assert "3 are made or running today" in response.json()["num_images"][0]
    assert owner_api.get("/api/dashboard/budget").json()["daily_images"]["used"] == 3


@pytest.mark.usefixtures("priced")
def test_changing_ones_zone_does_not_reset_the_monthly_budget(owner, monkeypatch):
    """At 20:00 UTC on 31 March it is already April in Tokyo: the budget still counts the
    team's March."""
    owner_api = signed_in(owner)
    UserBudget.objects.create(user=owner, monthly_budget_usd=Decimal("1.00"))
    freeze(monkeypatch, "2025-03-31 20:00")
    finished(owner, "2025-03-15 10:00", cost="0.90", estimate=False)
    assert submit_priced(owner_api).status_code == 400
    answer = owner_api.patch("/api/settings", {"time_zone": "Asia/Tokyo"}, format="json")
    assert answer.status_code == 200
    response = submit_priced(owner_api)
    assert response.status_code == 400
    assert "$0.90 is spent or running" in response.json()["budget"][0]
    status = owner_api.get("/api/dashboard/budget").json()
    assert status["monthly"]["spent_usd"] == "0.900000"
    assert status["time_zone"] == "UTC"
