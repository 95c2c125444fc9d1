"""Canary: a recognisable key goes in through the API, generations succeed and fail with it,
and afterwards no table, queue row, log line or response holds its plaintext."""

import base64
import logging

import pytest
from django.db import connection

from generation.models import Generation, Status
from settings_app.models import ApiKey, TeamKey
from tests.settings_app.test_key_resolution import allow_team_keys
from tests.users import client_for

pytestmark = pytest.mark.django_db

CANARY = "sk-CANARY-0123456789abcdef"
TEAM_CANARY = "sk-TEAMCANARY-fedcba9876543210"
ENCRYPTED_COLUMNS = {(ApiKey._meta.db_table, "secret"), (TeamKey._meta.db_table, "secret")}
DJANGO_Q_TABLES = ("django_q_task", "django_q_ormq", "django_q_schedule")


def needles(secret: str) -> list[bytes]:
    """The secret as text, and as it would appear inside base64 at any alignment."""
    raw = secret.encode()
    forms = [raw]
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw)[4 if shift else 0 :]
        forms.append(encoded[4:-4])  # the middle is independent of the neighbours
    return forms


def holds(value, secret: str) -> bool:
    if value is None:
        return False
    if isinstance(value, memoryview):
        value = value.tobytes()
    data = value if isinstance(value, bytes) else str(value).encode()
    return any(n and n in data for n in needles(secret))


def rows_holding(secret: str, skip_encrypted: bool) -> list[str]:
    """Every table.column whose raw stored value contains the secret."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            columns = [
                c.name for c in connection.introspection.get_table_description(cursor, table)
            ]
            quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if skip_encrypted and (table, column) in ENCRYPTED_COLUMNS:
                        continue
                    if holds(value, secret):
                        found.append(f"{table}.{column}")
    return found


def django_q_contents() -> list[str]:
    """The django-q rows decoded (task arguments and results are pickled, queue payloads
    signed), so a secret inside them cannot hide behind the encoding."""
    from django_q.models import OrmQ, Schedule, Task
    from django_q.signing import SignedPackage

    texts = []
    for task in Task.objects.all():
        texts.append(repr((task.name, task.func, task.args, task.kwargs, task.result)))
    for item in OrmQ.objects.all():
        texts.append(repr(SignedPackage.loads(item.payload)))
    for schedule in Schedule.objects.all():
        texts.append(repr((schedule.func, schedule.args, schedule.kwargs)))
    return texts


@pytest.fixture
def capture_everything(caplog):
    """Capture every logger at DEBUG, SQL statements with their parameters included."""
    caplog.set_level(logging.DEBUG)
    for name in (
        "imagegen",
        "generation",
        "gallery",
        "settings_app",
        "django",
        "django_q",
        "django.db.backends",
        "django.request",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    previous = connection.force_debug_cursor
    connection.force_debug_cursor = True
    yield caplog
    connection.force_debug_cursor = previous


def test_the_plaintext_key_appears_nowhere(
    owner, admin_user, keyed, run_jobs, capture_everything, client, no_env_keys
):
    keyed.accepted = {CANARY, TEAM_CANARY}
    api = client_for(owner)
    responses = []

    def keep(response):
        responses.append(response)
        return response

    # The key goes in through the API and comes back masked.
    keep(
        api.post("/api/settings/api-keys", {"provider": "keyed", "api_key": CANARY}, format="json")
    )
    keep(
        api.post(
            "/api/settings/api-keys", {"provider": "keyed", "api_key": f" {CANARY} "}, format="json"
        )
    )
    keep(
        api.post("/api/settings/api-keys", {"provider": "fal", "api_key": CANARY}, format="json")
    )  # rejected: not id:secret
    keep(api.get("/api/settings/api-keys"))
    keep(api.get("/api/settings/test-connection", {"provider": "keyed"}))

    # Generations that succeed and fail with it.
    keep(run_jobs(api, {"prompt": "a lighthouse", "provider": "keyed"}))
    keep(run_jobs(api, {"prompt": "fail: a storm", "provider": "keyed"}))
    keyed.accepted = set()  # the provider now refuses the key
    keep(run_jobs(api, {"prompt": "a harbour", "provider": "keyed"}))

    # The team key is used by a permitted member with no key of their own.
    from settings_app import services

    services.save_team_key("keyed", TEAM_CANARY, by=admin_user)
    keyed.accepted = {TEAM_CANARY}
    teammate = client_for(allow_team_keys(admin_user.__class__.objects.create_user("mate")))
    keep(run_jobs(teammate, {"prompt": "a team picture", "provider": "keyed"}))
    keep(teammate.get("/api/settings/test-connection", {"provider": "keyed"}))

    statuses = sorted(Generation.objects.values_list("status", "key_source"))
    assert statuses == sorted(
        [
            (Status.SUCCEEDED, "user"),
            (Status.FAILED, "user"),
            (Status.FAILED, "user"),
            (Status.SUCCEEDED, "team"),
        ]
    )
    for generation in Generation.objects.all():
        keep(api.get(f"/api/generation/{generation.pk}"))
    keep(api.get("/api/generations"))
    keep(api.get("/api/settings"))
    keep(api.delete("/api/settings/api-keys/fal"))

    # The pages: the user's settings, the browsable API, and the admin's lists and forms.
    client.force_login(owner)
    for value in (CANARY, f"{CANARY} x"):  # accepted, then refused: neither is echoed
        keep(
            client.post(
                "/api/settings/api-keys",
                {"provider": "keyed", "api_key": value},
                HTTP_ACCEPT="text/html",
            )
        )
    keep(client.post("/settings/keys/keyed/", {"keyed-api_key": CANARY}))
    keep(
        client.post(
            "/settings/keys/keyed/", {"keyed-api_key": f"{CANARY}\n!"}, HTTP_HX_REQUEST="true"
        )
    )
    keep(client.post("/settings/keys/keyed/test/", HTTP_HX_REQUEST="true"))
    keep(client.get("/settings/"))
    keep(client.get("/generate/"))
    client.force_login(admin_user)
    for url in (
        "/admin/auth/user/",
        f"/admin/auth/user/{owner.pk}/change/",
        "/admin/settings_app/apikey/",
        "/admin/settings_app/teamkey/",
        f"/admin/settings_app/teamkey/{TeamKey.objects.get().pk}/change/",
        f"/admin/settings_app/apikey/{ApiKey.objects.get().pk}/change/",
    ):
        assert keep(client.get(url)).status_code == 200, url

    assert all(r.status_code < 500 for r in responses)
    assert Generation.objects.filter(error__contains="refused").exists()  # it did fail
    for secret in (CANARY, TEAM_CANARY):
        # Every column of every table (the encrypted ones aside), django-q's included.
        tables = connection.introspection.table_names()
        assert all(name in tables for name in DJANGO_Q_TABLES)
        assert rows_holding(secret, skip_encrypted=True) == []
        assert not any(holds(text, secret) for text in django_q_contents())
        # The encrypted columns hold ciphertext, not the plaintext.
        assert rows_holding(secret, skip_encrypted=False) == []
        # Logs, SQL statements included.
        assert capture_everything.records, "nothing was logged: the capture is broken"
        assert not holds(capture_everything.text, secret)
        for record in capture_everything.records:
            assert not holds(record.getMessage(), secret)
        # Every answer.
        for response in responses:
            assert not holds(response.content, secret), response.request
    # The capture is live: the SQL log shows queries with their parameters.
    assert "INSERT INTO" in capture_everything.text
    from django_q.models import Task

    assert Task.objects.exists()  # the queue recorded the jobs it ran
    # And the keys still work: nothing was lost on the way.
    assert ApiKey.objects.get(provider="keyed").secret == CANARY
    assert TeamKey.objects.get().secret == TEAM_CANARY
