"""The favorites count (stats) and the favorite filter (gallery) use the (owner, favorite)
index rather than walking every image: found by bench figure 6 at 1M images."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.dashboard.helpers import finished
from tests.users import client_for

sqlite_only = pytest.mark.skipif(
    "connection.vendor != 'sqlite'", reason="SQLite's query plan; PostgreSQL matches either form"
)


def _plans(queries, *needles) -> list[str]:
    plans = []
    for query in queries:
        sql = query["sql"]
        if all(needle in sql for needle in needles):
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN QUERY PLAN " + sql)
                plans.append(" ".join(str(row[-1]) for row in cursor.fetchall()))
    return plans


def test_team_stats_count_favorites_of_every_owner(admin_user, owner, member):
    finished(owner, "2026-01-01 10:00", favorite=True)
    finished(member, "2026-01-01 11:00", favorite=True)
    finished(member, "2026-01-01 12:00", favorite=False)
    response = client_for(admin_user).get("/api/dashboard/stats?scope=team")
    assert response.status_code == 200
    assert response.json()["favorites"] == 2


@sqlite_only
def test_team_favorites_count_searches_the_owner_favorite_index(admin_user, owner):
    finished(owner, "2026-01-01 10:00", favorite=True)
    with CaptureQueriesContext(connection) as queries:
        client_for(admin_user).get("/api/dashboard/stats?scope=team")
    plans = _plans(queries.captured_queries, "gallery_image", "favorite", "COUNT")
    assert plans, "the favorites count was not found among the queries"
    assert all("image_owner_favorite (owner_id=? AND favorite=?)" in p for p in plans), plans


@sqlite_only
def test_gallery_favorite_filter_searches_the_owner_favorite_index(owner, owner_api):
    finished(owner, "2026-01-01 10:00", favorite=True)
    finished(owner, "2026-01-01 11:00", favorite=False)
    with CaptureQueriesContext(connection) as queries:
        response = owner_api.get("/api/gallery?favorite=true")
    assert [image["favorite"] for image in response.json()["results"]] == [True]
    plans = _plans(queries.captured_queries, "gallery_image", "favorite", "LIMIT")
    assert plans and all("favorite=?" in p for p in plans), plans
