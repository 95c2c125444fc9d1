"""GPU-seconds in the usage ledger (issue #17): the rollup sums the GPU time of jobs on the
team's own GPUs in whole milliseconds, exactly and once; the stats, usage rows, trends, CSV
and page show it beside spend; and budgets count a GPU job's cost (GPU-seconds × the
backend's price, its ``cost_usd``) exactly like a cloud job's, at submission too."""

import csv
import importlib
import io
import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.apps import apps
from django.utils import timezone

from dashboard import services
from dashboard.templatetags.dashboard_figures import gpu_time
from generation.models import Generation, Status
from generation.usage import budgets, windows
from generation.usage.models import DailyUsage, TeamBudget
from generation.usage.rollup import rebuild_rollups, record_generation_finished, to_gpu_ms
from imagegen.providers.backends import Backend
from projects.models import Project
from tests.dashboard.helpers import at, finished, live
from tests.users import client_for

pytestmark = pytest.mark.django_db
RANGE = "from=2025-03-01&to=2025-03-05"
PRICE = Decimal("0.0005")  # USD per GPU-second


def gpu_job(owner, created, seconds, *, cost=None, estimate=False, provider="comfyui", **options):
    """A finished job of a self-hosted provider that took ``seconds`` of GPU time, recorded
    in the rollup as the runner leaves it (gpu_seconds and cost set before it finishes)."""
    options.setdefault("model", "sdxl-base")
    generation = finished(
        owner, created, provider=provider, cost=cost, estimate=estimate, record=False, **options
    )
    Generation.objects.filter(pk=generation.pk).update(gpu_seconds=seconds)
    assert record_generation_finished(generation)
    return generation


@pytest.fixture
def mixed(owner, member):
    """1 March: the owner's GPU jobs (an hour and 2 min at $0.0005/s, one failed after 5.5 s,
    one 0.0625 s on a free backend) beside a cloud job; the member's 30 s GPU job."""
    garden = Project.objects.create(owner=owner, name="Garden")
    gpu_job(owner, "2025-03-01 09:00", 3600.0, cost="1.800000", project=garden)
    gpu_job(owner, "2025-03-01 10:00", 120.25, cost="0.060125", images=2)
    gpu_job(
        owner,
        "2025-03-01 11:00",
        5.5,
        cost="0.010000",  # the submission's estimate: a failed job is not charged
        estimate=True,
        status=Status.FAILED,
        error="Timed out after 5 s.",
    )
    gpu_job(owner, "2025-03-01 12:00", 0.0625, cost="0", provider="a1111", model="sd15")
    finished(owner, "2025-03-01 13:00", cost="0.10", estimate=False)  # offline: a cloud job
    gpu_job(member, "2025-03-01 14:00", 30.0, cost="0.015000")
    return garden


# --- The rollup ----------------------------------------------------------------------------


def test_the_rollup_sums_whole_milliseconds_of_every_outcome(owner, mixed):
    rows = {
        (r.provider, r.failure_kind): r
        for r in DailyUsage.objects.filter(owner=owner, project_id=0)
    }
    assert rows[("comfyui", "")].gpu_ms == 120_250
    assert rows[("comfyui", "timeout")].gpu_ms == 5_500  # failed: GPU time, no spend
    assert rows[("comfyui", "timeout")].spend_estimated_micros == 0
    assert rows[("a1111", "")].gpu_ms == 63  # 62.5 ms, rounded half up
    assert rows[("offline", "")].gpu_ms == 0
    assert DailyUsage.objects.get(owner=owner, project_id=mixed.pk).gpu_ms == 3_600_000


def test_rounding_is_half_up_and_nothing_for_no_gpu_time():
    assert [to_gpu_ms(s) for s in (None, 0, -1.0, 0.0005, 0.0625, 1.2344, 3600.0)] == [
        0,
        0,
        0,
        1,
        63,
        1234,
        3_600_000,
    ]


def _snapshot():
    return sorted(
        DailyUsage.objects.values_list(
            "day",
            "owner_id",
            "project_id",
            "provider",
            "model",
            "failure_kind",
            "generations",
            "gpu_ms",
            "spend_reported_micros",
        )
    )


def test_counting_again_or_rebuilding_never_double_counts(owner, mixed):
    before = _snapshot()
    assert sum(row[7] for row in before) == 3_755_813
    for generation in Generation.objects.all():
        assert record_generation_finished(generation) is False
    assert _snapshot() == before
    rebuild_rollups(date(2025, 3, 1), date(2025, 3, 1))
    assert _snapshot() == before
    rebuild_rollups(date(2025, 2, 28), date(2025, 3, 2))
    assert _snapshot() == before


def test_the_migration_counts_gpu_time_rolled_up_before_it(owner, mixed):
    """Generations counted before the column existed get their GPU time added, once."""
    before = _snapshot()
    DailyUsage.objects.update(gpu_ms=0)
    migration = importlib.import_module("dashboard.migrations.0005_gpu_time")
    migration.count_gpu_time(apps, None)
    assert _snapshot() == before


# --- The API -------------------------------------------------------------------------------


def test_stats_give_the_gpu_seconds_beside_spend(owner_api, admin_user, mixed):
    body = owner_api.get(f"/api/dashboard/stats?{RANGE}").json()
    assert body["gpu_seconds"] == 3725.813
    assert body["spend"]["range"]["total_usd"] == "1.960125"  # GPU cost and cloud cost
    team = client_for(admin_user).get(f"/api/dashboard/stats?{RANGE}&scope=team").json()
    assert team["gpu_seconds"] == 3755.813
    assert team["spend"]["range"]["total_usd"] == "1.975125"


def test_every_breakdown_has_its_gpu_seconds(owner, member, admin_user, mixed):
    api = client_for(admin_user)

    def usage(by, **query):
        params = {"from": "2025-03-01", "to": "2025-03-05", "scope": "team", "by": by, **query}
        return api.get("/api/dashboard/usage", params).json()["rows"]

    by_provider = {r["provider"]: (r["gpu_seconds"], r["spend_usd"]) for r in usage("provider")}
    assert by_provider == {
        "comfyui": (3755.75, "1.875125"),
        "a1111": (0.063, "0.000000"),
        "offline": (0.0, "0.100000"),
    }
    by_model = {r["model"]: r["gpu_seconds"] for r in usage("model")}
    assert by_model == {"sdxl-base": 3755.75, "sd15": 0.063, "offline-shapes": 0.0}
    by_user = {r["username"]: r["gpu_seconds"] for r in usage("user")}
    assert by_user == {owner.username: 3725.813, member.username: 30.0}
    by_project = {r["project"]: r["gpu_seconds"] for r in usage("project")}
    assert by_project == {"Garden": 3600.0, "No project": 155.813}
    assert [r["gpu_seconds"] for r in usage("operation")] == [3755.813]
    ranked = [r["provider"] for r in usage("provider", sort="-gpu_seconds")]
    assert ranked == ["comfyui", "a1111", "offline"]


def test_trends_give_the_gpu_seconds_of_each_day(owner_api, mixed):
    points = owner_api.get(f"/api/dashboard/trends?{RANGE}").json()["points"]
    assert [p["gpu_seconds"] for p in points] == [3725.813, 0.0, 0.0, 0.0, 0.0]


def test_the_csv_has_a_gpu_seconds_column(owner_api, mixed):
    response = owner_api.get(
        "/api/dashboard/usage",
        {"from": "2025-03-01", "to": "2025-03-05", "by": "provider", "format": "csv"},
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert list(rows[0])[-1] == "gpu_seconds"
    assert {r["provider"]: r["gpu_seconds"] for r in rows} == {
        "comfyui": "3725.75",
        "a1111": "0.063",
        "offline": "0.0",
    }


def test_figures_from_the_generations_equal_the_rollups(owner, member, monkeypatch):
    """GPU time added up from the generations (a viewer whose days are not the team's: by SQL
    for usage and trends, row by row for the stats) equals the rollup's, to the millisecond."""
    rng = random.Random(17)
    for user in (owner, member):
        for _ in range(50):
            status = rng.choice([Status.SUCCEEDED] * 3 + [Status.FAILED, Status.CANCELED])
            seconds = rng.choice([rng.uniform(0, 900), rng.randrange(0, 4000) / 16, None])
            created = at("2025-03-01 00:00") + timedelta(minutes=rng.randrange(0, 7200))
            error = "Timed out after 5 s." if status == Status.FAILED else ""
            options = {"status": status, "error": error}
            if seconds is None:
                finished(user, created, cost="0.05", estimate=False, **options)
            else:
                gpu_job(user, created, seconds, cost=f"{seconds * 0.0005:.6f}", **options)

    def figures():
        out = []
        for kwargs in ({"owner_id": owner.pk}, {"team": True}):
            scope = services.make_scope(start=date(2025, 3, 1), end=date(2025, 3, 6), **kwargs)
            stats = services.stats(scope)
            out.append(
                (
                    stats["gpu_seconds"],
                    stats["spend"]["range"],
                    [p["gpu_seconds"] for p in services.trends(scope)["points"]],
                    [services.usage(scope, by=by) for by in services.USAGE_GROUPS],
                )
            )
        return out

    from_rollup = figures()
    assert from_rollup[1][0] > 0
    monkeypatch.setattr(
        windows, "plan", lambda buckets: ({}, [(buckets.bounds[0], buckets.bounds[-1])])
    )
    assert figures() == from_rollup


# --- The page ------------------------------------------------------------------------------


def test_the_page_shows_gpu_time_in_words(client, admin_user, owner, mixed):
    client.force_login(owner)
    body = client.get(f"/dashboard/?{RANGE}").content.decode()
    assert 'id="gpu-time"' in body
    assert '<span class="value" title="3725.813 s">1 h 02 min</span>' in body
    assert '<th class="num">GPU time</th>' in body
    assert '<td class="num" title="3725.75 s">1 h 02 min</td>' in body  # comfyui / sdxl-base
    assert '<td class="num" title="0.063 s">0.1 s</td>' in body  # a1111 / sd15
    assert '<td class="num" title="0.0 s">—</td>' in body  # the cloud model
    assert "GPU time 1 h 02 min" in body  # the chart's tooltip of 1 March
    client.force_login(admin_user)
    team = client.get(f"/dashboard/?{RANGE}&scope=team").content.decode()
    assert '<td class="num" title="30.0 s">30 s</td>' in team  # the member, per user
    assert '<td class="num" title="3600.0 s">1 h 00 min</td>' in team  # Garden, per project


def test_a_page_without_gpu_jobs_has_no_gpu_column(client, owner):
    finished(owner, "2025-03-01 13:00", cost="0.10", estimate=False)
    client.force_login(owner)
    body = client.get(f"/dashboard/?{RANGE}").content.decode()
    assert "GPU time" not in body and 'id="gpu-time"' not in body


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (None, "—"),
        (0, "—"),
        (0.01, "< 0.1 s"),
        (0.4, "0.4 s"),
        (42, "42 s"),
        (42.4, "42 s"),
        (200, "3 min 20 s"),
        (3599.4, "59 min 59 s"),
        (3720, "1 h 02 min"),
        (3725.813, "1 h 02 min"),
        (90061, "25 h 01 min"),
    ],
)
def test_gpu_time_in_words(seconds, words):
    assert gpu_time(seconds) == words


# --- Budgets -------------------------------------------------------------------------------


@pytest.fixture
def gpu_backend(db):
    """An OpenAI-compatible GPU server serving "local-sd" at $0.0005 a GPU-second; an image
    usually takes 500 s, so a one-image submission is estimated at $0.25."""
    return Backend.objects.create(
        kind="openai_compatible",
        name="gpu-1",
        base_url="http://127.0.0.1:9/v1",
        listed_models=["local-sd"],
        price_per_gpu_second=PRICE,
        typical_seconds=500.0,
    )


def submit_gpu(client, num_images=1):
    return client.post(
        "/api/generate",
        {
            "prompt": "a fox",
            "provider": "openai_compatible",
            "model": "local-sd",
            "num_images": num_images,
        },
        format="json",
    )


def test_a_gpu_jobs_cost_counts_in_the_users_budget_like_a_cloud_jobs(
    settings, owner, owner_api, gpu_backend
):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("1.00")
    now = timezone.now()
    gpu_job(owner, now, 1200.0, cost="0.600000", provider="openai_compatible", model="local-sd")
    finished(owner, now, cost="0.20", estimate=False)  # a cloud job
    gpu_job(  # failed: GPU time, but no spend (like a failed cloud job)
        owner,
        now,
        90.0,
        cost="0.250000",
        estimate=True,
        status=Status.FAILED,
        error="boom",
        provider="openai_compatible",
        model="local-sd",
    )
    status = owner_api.get("/api/dashboard/budget").json()
    assert status["monthly"]["spent_usd"] == "0.800000"
    response = submit_gpu(owner_api)
    assert response.status_code == 400
    message = response.json()["budget"][0]
    assert "monthly budget of $1.00" in message
    assert "$0.80 is spent or running" in message
    assert "estimated at $0.25" in message
    assert not Generation.objects.filter(status=Status.QUEUED).exists()


def test_a_queued_gpu_job_holds_its_estimate_as_running_spend(
    settings, owner, owner_api, gpu_backend
):
    settings.DEFAULT_MONTHLY_BUDGET_USD = Decimal("0.60")
    assert submit_gpu(owner_api, 2).status_code == 202  # $0.50, waiting or running
    assert budgets.budget_status(owner)["monthly"]["running_usd"] == "0.500000"
    response = submit_gpu(owner_api)
    assert response.status_code == 400
    assert "$0.50 is spent or running" in response.json()["budget"][0]


def test_the_team_budget_counts_gpu_and_cloud_spend_alike(
    settings, owner, member, owner_api, gpu_backend
):
    TeamBudget.objects.create(monthly_budget_usd=Decimal("1.00"))
    now = timezone.now()
    gpu_job(member, now, 1200.0, cost="0.600000", provider="openai_compatible", model="local-sd")
    finished(owner, now, cost="0.20", estimate=False)
    live(member, cost="0.05")  # a cloud job still running
    team = budgets.team_usage()
    assert (team.spent, team.running) == (Decimal("0.8"), Decimal("0.05"))
    response = submit_gpu(owner_api)
    assert response.status_code == 400
    message = response.json()["budget"][0]
    assert "the team's monthly budget of $1.00" in message
    assert "$0.85 is spent or running" in message
    TeamBudget.objects.update(monthly_budget_usd=Decimal("1.10"))
    assert submit_gpu(owner_api).status_code == 202
