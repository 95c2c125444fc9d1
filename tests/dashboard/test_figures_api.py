"""Stats, usage and trends match hand-computed fixtures, per scope, zero-filled, by local day."""

import csv
import io

import pytest

from generation.models import Status
from projects.models import Project
from tests.dashboard.helpers import finished, live
from tests.users import client_for

pytestmark = pytest.mark.django_db
RANGE = "from=2025-03-01&to=2025-03-05"


@pytest.fixture
def history(owner, member):
    """Owner: two successes on 1 March, three failures on 3 March, one cancel on 4 March.
    Member: one success on 2 March (never part of the owner's figures)."""
    garden = Project.objects.create(owner=owner, name="Garden")
    finished(
        owner,
        "2025-03-01 10:00",
        cost="0.10",
        estimate=False,
        images=2,
        latency_ms=1000,
        project=garden,
        favorite=True,
    )
    finished(
        owner,
        "2025-03-01 12:00",
        cost="0.05",
        images=1,
        latency_ms=3000,
        provider="scripted",
        model="scripted-1",
    )
    finished(owner, "2025-03-03 09:00", status=Status.FAILED, error="Timed out after 120 s.")
    finished(owner, "2025-03-03 09:30", status=Status.FAILED, error="Rate limited by fal")
    finished(
        owner,
        "2025-03-03 10:00",
        status=Status.FAILED,
        error="Timed out after 120 s.",
        project=garden,
    )
    finished(owner, "2025-03-04 08:00", status=Status.CANCELED)
    finished(member, "2025-03-02 10:00", cost="1.00", estimate=False, images=4, image_bytes=1000)
    live(owner, cost="0.30")
    return garden


def test_stats_match_the_hand_computed_figures(owner_api, history):
    body = owner_api.get(f"/api/dashboard/stats?{RANGE}").json()
    assert body["scope"] == {
        "kind": "user",
        "user": body["scope"]["user"],
        "project": None,
        "from": "2025-03-01",
        "to": "2025-03-05",
        "time_zone": "UTC",
    }
    assert (body["generations"], body["succeeded"], body["failed"], body["canceled"]) == (
        6,
        2,
        3,
        1,
    )
    assert body["in_progress"] == 1
    assert body["images"] == 3
    assert body["success_rate"] == 0.4  # 2 of the 5 that succeeded or failed
    assert body["failures_by_reason"] == [
        {"kind": "timeout", "label": "Timed out", "count": 2},
        {"kind": "rate_limited", "label": "Rate limited", "count": 1},
    ]
    assert body["latency_ms"] == {"count": 2, "average": 2000, "p95": 3000}
    assert body["spend"]["range"] == {
        "total_usd": "0.150000",
        "reported_usd": "0.100000",
        "estimated_usd": "0.050000",
    }
    assert body["favorites"] == 2  # both images of the favourite generation
    assert body["storage_bytes"] == 300
    assert body["budget"]["monthly"]["limit_usd"] is None


def test_p95_is_the_bucket_bound_of_the_95th_percentile(owner, owner_api):
    for _ in range(19):
        finished(owner, "2025-03-01 10:00", latency_ms=800)
    finished(owner, "2025-03-01 10:00", latency_ms=50_000)
    body = owner_api.get(f"/api/dashboard/stats?{RANGE}").json()
    assert body["latency_ms"]["p95"] == 1000  # the 19th of 20 is in the <=1000 ms bucket
    assert body["latency_ms"]["average"] == (19 * 800 + 50_000) // 20


def test_this_months_spend_counts_only_this_month(owner, owner_api):
    from django.utils import timezone

    finished(owner, timezone.now(), cost="0.25", estimate=False)
    finished(owner, "2020-01-15 10:00", cost="9.00", estimate=False)
    body = owner_api.get("/api/dashboard/stats").json()
    assert body["spend"]["this_month"]["total_usd"] == "0.250000"
    assert body["spend"]["range"]["total_usd"] == "0.250000"  # default: the last 30 days


def test_trends_are_daily_and_zero_filled(owner_api, history):
    body = owner_api.get(f"/api/dashboard/trends?{RANGE}").json()
    assert body["interval"] == "day"
    assert body["points"] == [
        {
            "date": "2025-03-01",
            "generations": 2,
            "images": 3,
            "failures": 0,
            "spend_usd": "0.150000",
            "gpu_seconds": 0.0,
        },
        {
            "date": "2025-03-02",
            "generations": 0,
            "images": 0,
            "failures": 0,
            "spend_usd": "0.000000",
            "gpu_seconds": 0.0,
        },
        {
            "date": "2025-03-03",
            "generations": 3,
            "images": 0,
            "failures": 3,
            "spend_usd": "0.000000",
            "gpu_seconds": 0.0,
        },
        {
            "date": "2025-03-04",
            "generations": 1,
            "images": 0,
            "failures": 0,
            "spend_usd": "0.000000",
            "gpu_seconds": 0.0,
        },
        {
            "date": "2025-03-05",
            "generations": 0,
            "images": 0,
            "failures": 0,
            "spend_usd": "0.000000",
            "gpu_seconds": 0.0,
        },
    ]


def test_trends_are_weekly_beyond_90_days(owner_api, history):
    body = owner_api.get("/api/dashboard/trends?from=2025-01-01&to=2025-04-30").json()
    assert body["interval"] == "week"
    dates = [p["date"] for p in body["points"]]
    assert dates[0] == "2024-12-30" and dates[-1] == "2025-04-28"  # Mondays
    assert len(dates) == 18
    week = {p["date"]: p for p in body["points"]}
    assert week["2025-02-24"]["generations"] == 2  # Saturday 1 March
    assert week["2025-03-03"]["generations"] == 4
    assert sum(p["generations"] for p in body["points"]) == 6


@pytest.mark.parametrize(
    ("zone", "utc_time", "local_day"),
    [
        ("America/New_York", "2025-03-02 03:30", "2025-03-01"),  # 22:30 the evening before
        ("America/New_York", "2025-03-02 05:30", "2025-03-02"),  # 00:30 local
        ("Pacific/Auckland", "2025-03-01 11:30", "2025-03-02"),  # 00:30 the next morning (NZDT)
        ("Pacific/Auckland", "2025-03-01 10:30", "2025-03-01"),  # 23:30 local
    ],
)
def test_days_are_local_days_of_the_time_zone(
    settings, owner, owner_api, zone, utc_time, local_day
):
    settings.TIME_ZONE = zone
    finished(owner, utc_time)
    body = owner_api.get("/api/dashboard/trends?from=2025-02-28&to=2025-03-03").json()
    assert body["scope"]["time_zone"] == zone
    assert [p["date"] for p in body["points"] if p["generations"]] == [local_day]


def test_member_sees_only_their_own_figures(member, history):
    body = client_for(member).get(f"/api/dashboard/stats?{RANGE}").json()
    assert (body["generations"], body["images"]) == (1, 4)
    assert body["spend"]["range"]["total_usd"] == "1.000000"
    assert body["in_progress"] == 0


def test_outsider_sees_zeros(outsider_api, history):
    body = outsider_api.get(f"/api/dashboard/stats?{RANGE}").json()
    assert (body["generations"], body["images"], body["storage_bytes"]) == (0, 0, 0)
    assert body["success_rate"] is None and body["latency_ms"]["p95"] is None
    usage = outsider_api.get(f"/api/dashboard/usage?{RANGE}").json()
    assert usage["rows"] == []


def test_member_asking_for_the_team_is_refused(outsider_api, history):
    response = outsider_api.get(f"/api/dashboard/stats?{RANGE}&scope=team")
    assert response.status_code == 403


def test_outsider_gets_404_for_another_users_or_projects_figures(outsider_api, owner, history):
    for url in (
        f"/api/dashboard/stats?{RANGE}&user={owner.pk}",
        f"/api/dashboard/usage?{RANGE}&project={history.pk}",
        f"/api/dashboard/trends?{RANGE}&user={owner.pk}",
    ):
        assert outsider_api.get(url).status_code == 404, url


def test_staff_see_the_team_a_user_and_a_project(admin_user, member, history):
    staff = client_for(admin_user)
    team = staff.get(f"/api/dashboard/stats?{RANGE}&scope=team").json()
    assert (team["scope"]["kind"], team["generations"], team["images"]) == ("team", 7, 7)
    assert team["spend"]["range"]["total_usd"] == "1.150000"
    assert team["in_progress"] == 1
    one = staff.get(f"/api/dashboard/stats?{RANGE}&user={member.pk}").json()
    assert (one["scope"]["user"], one["generations"]) == (member.pk, 1)
    project = staff.get(f"/api/dashboard/stats?{RANGE}&project={history.pk}").json()
    assert (project["scope"]["kind"], project["generations"], project["failed"]) == (
        "project",
        2,
        1,
    )
    assert staff.get(f"/api/dashboard/stats?{RANGE}&user=999999").status_code == 404


def test_usage_by_model_sorted_by_spend(owner_api, history):
    body = owner_api.get(f"/api/dashboard/usage?{RANGE}").json()
    assert [(r["provider"], r["model"]) for r in body["rows"]] == [
        ("offline", "offline-shapes"),
        ("scripted", "scripted-1"),
    ]
    first = body["rows"][0]
    assert (first["generations"], first["failures"], first["canceled"], first["images"]) == (
        5,
        3,
        1,
        2,
    )
    assert (first["avg_latency_ms"], first["spend_usd"], first["spend_reported_usd"]) == (
        1000,
        "0.100000",
        "0.100000",
    )
    ascending = owner_api.get(f"/api/dashboard/usage?{RANGE}&sort=generations").json()
    assert [r["model"] for r in ascending["rows"]] == ["scripted-1", "offline-shapes"]


def test_usage_per_user_and_project_for_staff(admin_user, owner, member, history):
    staff = client_for(admin_user)
    users = staff.get(f"/api/dashboard/usage?{RANGE}&scope=team&by=user&sort=name").json()
    assert [(r["username"], r["generations"], r["spend_usd"]) for r in users["rows"]] == [
        ("member", 1, "1.000000"),
        ("owner", 6, "0.150000"),
    ]
    projects = staff.get(
        f"/api/dashboard/usage?{RANGE}&scope=team&by=project&sort=-generations"
    ).json()
    assert [(r["project"], r["generations"]) for r in projects["rows"]] == [
        ("No project", 5),
        ("Garden", 2),
    ]


def test_usage_csv_download(owner_api, history):
    response = owner_api.get(f"/api/dashboard/usage?{RANGE}&by=provider&format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="usage-provider-2025-03-01-2025-03-05.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [(r["provider"], r["generations"], r["failures"], r["spend_usd"]) for r in rows] == [
        ("offline", "5", "3", "0.100000"),
        ("scripted", "1", "0", "0.050000"),
    ]
    assert list(rows[0]) == [
        "provider",
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
    ]


def test_csv_neutralises_formulas_in_names(admin_user, owner):
    Project.objects.create(owner=owner, name="=HYPERLINK(1)")
    finished(owner, "2025-03-01 10:00", project=Project.objects.get(name="=HYPERLINK(1)"))
    response = client_for(admin_user).get(
        f"/api/dashboard/usage?{RANGE}&scope=team&by=project&format=csv"
    )
    assert "'=HYPERLINK(1)" in response.content.decode()


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2025-03-05&to=2025-03-01", "from"),
        ("from=2020-01-01&to=2025-01-01", "from"),
        ("scope=everyone", "scope"),
        ("user=abc", "user"),
    ],
)
def test_bad_query_is_a_400_with_field_errors(owner_api, query, field):
    response = owner_api.get(f"/api/dashboard/stats?{query}")
    assert response.status_code == 400
    assert field in response.json()


@pytest.mark.parametrize("query", ["by=day", "sort=price"])
def test_bad_usage_query_is_a_400(owner_api, query):
    response = owner_api.get(f"/api/dashboard/usage?{query}")
    assert response.status_code == 400
    assert query.split("=")[0] in response.json()


@pytest.mark.parametrize(
    "url",
    [
        "/api/dashboard/stats",
        "/api/dashboard/usage",
        "/api/dashboard/trends",
        "/api/dashboard/budget",
    ],
)
def test_anonymous_is_refused(api, url):
    assert api.get(url).status_code in (401, 403)


def test_endpoints_use_a_fixed_number_of_queries(
    admin_user, owner, member, django_assert_max_num_queries
):
    for day in range(1, 29):
        for user in (owner, member):
            finished(user, f"2025-02-{day:02d} 10:00", cost="0.01")
            finished(
                user,
                f"2025-02-{day:02d} 11:00",
                status=Status.FAILED,
                error="Rate limited",
                provider="scripted",
                model="scripted-1",
            )
    staff = client_for(admin_user)
    query = "from=2025-02-01&to=2025-02-28&scope=team"
    with django_assert_max_num_queries(12):
        assert staff.get(f"/api/dashboard/stats?{query}").status_code == 200
    with django_assert_max_num_queries(4):
        assert staff.get(f"/api/dashboard/usage?{query}&by=user").status_code == 200
    with django_assert_max_num_queries(3):
        assert staff.get(f"/api/dashboard/trends?{query}").status_code == 200
