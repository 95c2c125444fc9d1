"""Benchmark: the dashboard endpoints at 1,000,000 generations, on a throwaway SQLite file.

    .venv/bin/python bench/bench_dashboard.py [--generations 1000000] [--db /tmp/bench.db]

Inserts the generations (and an image per success) with one INSERT … SELECT from a
recursive CTE each, builds the rollup with ``rebuild_rollups`` (the code the management
command runs), then times every endpoint through the full Django/DRF stack (median of
repeated calls) against a single indexed COUNT, and prints a table. Timings belong here,
never in tests.

The data: 50 members over the last 365 days; each member works with 2 of 12 models (4
providers) and 2 projects or none; 94% succeed, 3% fail (three reasons), 2% are canceled,
the newest 100 are still queued.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

USERS = 50


def setup_django(db_path: str) -> None:
    os.environ["ENV_FILE"] = os.devnull
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("SECRET_KEY", "bench-secret-key-0123456789-0123456789-0123")
    os.environ.setdefault("ENCRYPTION_KEY", "bench-encryption-key-0123456789-0123456789")
    os.environ["ALLOWED_HOSTS"] = "testserver"
    os.environ["STORAGE_DIR"] = tempfile.mkdtemp(prefix="bench-storage-")
    # The test settings: plain static files (no collectstatic), fast hashing; same database code.
    os.environ["DJANGO_SETTINGS_MODULE"] = "imagegen.settings_test"
    import django

    django.setup()


def populate(total: int) -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection, transaction
    from django.utils import timezone

    from projects.models import Project

    call_command("migrate", verbosity=0)
    User = get_user_model()
    users = [User(username=f"user{n:02d}", password="!") for n in range(USERS)]
    User.objects.bulk_create(users)
    User.objects.create(username="boss", password="!", is_staff=True, is_superuser=True)
    ids = list(User.objects.filter(is_staff=False).order_by("id").values_list("id", flat=True))
    Project.objects.bulk_create([
        Project(owner_id=uid, name=f"project {k}") for uid in ids for k in range(2)
    ])
    first_user, first_project = ids[0], Project.objects.order_by("id").first().pk
    now = timezone.now().timestamp()
    span = 365 * 86400
    step = span / total
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO generation_generation (
                owner_id, project_id, provider, model, prompt, negative_prompt, width, height,
                num_images, params, status, cancel_requested, error, attempts,
                provider_request_id, provider_metadata, cost_usd, cost_is_estimate, key_source,
                created_at, started_at, finished_at)
            WITH RECURSIVE seq(i) AS (
                SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {total - 1}),
            g AS (
                SELECT i, i % {USERS} AS u, (i * 2654435761) % 1000 AS h,
                       {now - span} + i * {step} AS t FROM seq),
            m AS (
                SELECT *, CASE WHEN (i / {USERS}) % 3 = 0 THEN (u * 5 + 3) % 12 ELSE u % 12 END
                       AS mi FROM g)
            SELECT {first_user} + u,
                   CASE (i / 7) % 3 WHEN 2 THEN NULL ELSE {first_project} + u * 2 + (i / 7) % 3 END,
                   'p' || (mi / 3), 'p' || (mi / 3) || '-model-' || (mi % 3),
                   'a benchmark prompt', '', 1024, 1024, 1, '{{}}',
                   CASE WHEN i >= {total - 100} THEN 'queued'
                        WHEN h < 940 THEN 'succeeded' WHEN h < 970 THEN 'failed'
                        ELSE 'canceled' END,
                   0,
                   CASE WHEN i >= {total - 100} OR h < 940 OR h >= 970 THEN ''
                        WHEN h < 950 THEN 'Timed out after 120 s.'
                        WHEN h < 960 THEN 'Rate limited by p1; try again in 5 s.'
                        ELSE 'p2 is unavailable right now (HTTP 503)' END,
                   1, '', '{{}}',
                   CASE WHEN mi % 3 = 0 THEN '0.04' WHEN mi % 3 = 1 THEN '0.003' ELSE '0.12' END,
                   CASE WHEN mi % 4 = 0 THEN 1 ELSE 0 END, 'team',
                   strftime('%Y-%m-%d %H:%M:%f', t, 'unixepoch'),
                   CASE WHEN i >= {total - 100} THEN NULL
                        ELSE strftime('%Y-%m-%d %H:%M:%f', t + 0.2, 'unixepoch') END,
                   CASE WHEN i >= {total - 100} THEN NULL
                        ELSE strftime('%Y-%m-%d %H:%M:%f', t + 0.2 + 1 + (h * 37) % 20000 / 1000.0,
                                      'unixepoch') END
            FROM m
        """)
        cursor.execute("""
            INSERT INTO gallery_image (generation_id, owner_id, project_id, "index", file,
                thumbnail, width, height, format, bytes, sha256, seed, favorite, title, notes,
                created_at)
            SELECT id, owner_id, project_id, 0, 'images/x.png', 'thumbnails/x.webp', 1024, 1024,
                   'PNG', 900000 + id % 50000, printf('%064d', id), NULL, id % 20 = 0, '', '',
                   finished_at
            FROM generation_generation WHERE status = 'succeeded'
        """)
    print(f"inserted {total:,} generations and their images in "
          f"{time.perf_counter() - started:.1f} s")


def build_rollups() -> None:
    from django.db.models import Max, Min

    from dashboard.models import DailyUsage
    from dashboard.rollup import local_day, rebuild_rollups
    from generation.models import Generation

    bounds = Generation.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    started = time.perf_counter()
    result = rebuild_rollups(local_day(bounds["first"]), local_day(bounds["last"]))
    print(f"rebuild_rollups: {result['generations']:,} generations -> {result['rows']:,} rows "
          f"in {time.perf_counter() - started:.1f} s ({DailyUsage.objects.count():,} rows)")


def timed(call, repeat: int) -> float:
    call()  # warm caches and the connection
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def run(repeat: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from rest_framework.test import APIClient

    User = get_user_model()
    member = User.objects.filter(is_staff=False).order_by("id").first()
    boss = User.objects.get(username="boss")

    def api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    member_api, boss_api = api(member), api(boss)
    page = Client()
    page.force_login(boss)

    def get(client, url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
        return call

    def reference():
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM generation_generation WHERE owner_id = %s AND "
                           "status = 'succeeded'", [member.pk])
            cursor.fetchone()

    ref = timed(reference, repeat)
    figures = [
        ("stats (member, 30 days)", get(member_api, "/api/dashboard/stats")),
        ("stats (staff, team, 30 days)", get(boss_api, "/api/dashboard/stats?scope=team")),
        ("usage by model (member)", get(member_api, "/api/dashboard/usage")),
        ("usage by user (staff, team)",
         get(boss_api, "/api/dashboard/usage?scope=team&by=user")),
        ("usage CSV (staff, team, by model)",
         get(boss_api, "/api/dashboard/usage?scope=team&format=csv")),
        ("trends (member, 30 days)", get(member_api, "/api/dashboard/trends")),
        ("trends (staff, team, 30 days)", get(boss_api, "/api/dashboard/trends?scope=team")),
        ("budget (member)", get(member_api, "/api/dashboard/budget")),
        ("extra: stats (staff, team, 365 days)", get(
            boss_api, f"/api/dashboard/stats?scope=team&from={_days_ago(364)}")),
        ("extra: trends (staff, team, 365 days, weekly)", get(
            boss_api, f"/api/dashboard/trends?scope=team&from={_days_ago(364)}")),
        ("extra: dashboard page (staff, team)", get(page, "/dashboard/?scope=team")),
    ]
    print()
    print(f"{'figure':48} {'ms':>8} {'reference ms':>13} {'ratio':>7} {'target ms':>10}")
    print("-" * 90)
    print(f"{'reference: indexed COUNT of one member':48} {ref:8.2f} {ref:13.2f} {1:7.1f} "
          f"{'':>10}")
    for name, call in figures:
        ms = timed(call, repeat)
        target = "" if name.startswith("extra") else "50"
        flag = "" if not target or ms <= 50 else "  OVER"
        print(f"{name:48} {ms:8.2f} {ref:13.2f} {ms / ref:7.1f} {target:>10}{flag}")


def _days_ago(days: int) -> str:
    from datetime import timedelta

    from django.utils import timezone

    return (timezone.localdate() - timedelta(days=days)).isoformat()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1_000_000)
    parser.add_argument("--db", default=None, help="SQLite file (default: a temporary one)")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--reuse", action="store_true", help="time an already filled --db")
    args = parser.parse_args()
    db_path = args.db or os.path.join(tempfile.mkdtemp(prefix="bench-dashboard-"), "bench.db")
    if not args.reuse and os.path.exists(db_path):
        os.remove(db_path)
    setup_django(db_path)
    if not args.reuse:
        populate(args.generations)
        build_rollups()
    run(args.repeat)
    if not args.db:
        print(f"\n(database left at {db_path}; delete it when done)")


if __name__ == "__main__":
    main()
