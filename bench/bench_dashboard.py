"""Figure 6: the dashboard endpoints at 1,000,000 generations, against one indexed COUNT.

    .venv/bin/python bench/bench_dashboard.py [--quick] [--db URL] [--generations N]

The fixture (bench/data.py) is built with bulk inserts and the rollup with
``rebuild_rollups`` (the code the management command runs); every endpoint is then timed
through the full Django/DRF stack in this process (median of repeated calls). Target: each
≤ 50 ms. Rows marked "extra" are reported without a target.
"""

from datetime import timedelta

from common import Row, emit, fmt_ms, met, p50, ratio, samples_ms
from data import database_run, scale_note

TARGET_MS = 50


def main(argv=None) -> list[Row]:
    args, vendor, total, repeat = database_run(__doc__, argv, 7, 15)

    from data import ids
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.utils import timezone
    from rest_framework.test import APIClient

    member = get_user_model().objects.get(username="user01")  # a typical member (2%)
    boss = ids()["boss"]

    def api(user):
        client = APIClient()
        client.force_authenticate(user)
        return client

    from settings_app.models import Preferences

    # The team's zone first (a reused fixture may hold the zones set at the end of a run).
    Preferences.objects.filter(user__in=[member, boss]).update(time_zone="")
    member_api, boss_api = api(member), api(boss)
    page = Client()
    page.force_login(boss)
    year_ago = (timezone.localdate() - timedelta(days=364)).isoformat()

    def get(client, url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        return call

    def reference():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COUNT(*) FROM generation_generation WHERE owner_id = %s AND "
                "status = 'succeeded'",
                [member.pk],
            )
            cursor.fetchone()

    ref = p50(samples_ms(reference, repeat))
    figures = [
        ("stats (member, 30 days)", get(member_api, "/api/dashboard/stats")),
        ("stats (staff, team, 30 days)", get(boss_api, "/api/dashboard/stats?scope=team")),
        ("usage by model (member)", get(member_api, "/api/dashboard/usage")),
        ("usage by user (staff, team)", get(boss_api, "/api/dashboard/usage?scope=team&by=user")),
        (
            "usage CSV (staff, team, by model)",
            get(boss_api, "/api/dashboard/usage?scope=team&format=csv"),
        ),
        ("trends (member, 30 days)", get(member_api, "/api/dashboard/trends")),
        ("trends (staff, team, 30 days)", get(boss_api, "/api/dashboard/trends?scope=team")),
        ("budget (member)", get(member_api, "/api/dashboard/budget")),
        (
            "extra: stats (staff, team, 365 days)",
            get(boss_api, f"/api/dashboard/stats?scope=team&from={year_ago}"),
        ),
        (
            "extra: trends (staff, team, 365 days, weekly)",
            get(boss_api, f"/api/dashboard/trends?scope=team&from={year_ago}"),
        ),
        ("extra: dashboard page (staff, team)", get(page, "/dashboard/?scope=team")),
    ]
    rows = []
    run_figures(figures, rows, vendor, ref, repeat)

    # Viewers in a zone whose midnight is not the team's (TIME_ZONE is UTC here): their days
    # are counted from the generations, not the rollup (generation.usage.windows).
    for user in (member, boss):
        Preferences.objects.update_or_create(user=user, defaults={"time_zone": "Asia/Kolkata"})
        user.refresh_from_db()
    member_api, boss_api = api(member), api(boss)
    run_figures(
        [
            (
                "extra: stats (member, 30 days, Asia/Kolkata)",
                get(member_api, "/api/dashboard/stats"),
            ),
            (
                "extra: trends (member, 30 days, Asia/Kolkata)",
                get(member_api, "/api/dashboard/trends"),
            ),
            ("extra: budget (member, Asia/Kolkata)", get(member_api, "/api/dashboard/budget")),
            (
                "extra: stats (staff, team, 30 days, Asia/Kolkata)",
                get(boss_api, "/api/dashboard/stats?scope=team"),
            ),
            (
                "extra: trends (staff, team, 30 days, Asia/Kolkata)",
                get(boss_api, "/api/dashboard/trends?scope=team"),
            ),
            (
                "extra: trends (staff, team, 365 days, weekly, Asia/Kolkata)",
                get(boss_api, f"/api/dashboard/trends?scope=team&from={year_ago}"),
            ),
        ],
        rows,
        vendor,
        ref,
        repeat,
    )
    rows[0].note = scale_note(total)
    emit(f"Figure 6: dashboard ({vendor})", rows, args.json)
    return rows


def run_figures(figures, rows, vendor, ref, repeat) -> None:
    for name, call in figures:
        ms = p50(samples_ms(call, repeat))
        extra = name.startswith("extra")
        rows.append(
            Row(
                "6",
                f"{name} ({vendor})",
                fmt_ms(ms),
                f"indexed COUNT {fmt_ms(ref)}",
                ratio(ms, ref),
                "" if extra else f"≤ {TARGET_MS} ms",
                met(None if extra else ms <= TARGET_MS),
            )
        )


if __name__ == "__main__":
    main()
