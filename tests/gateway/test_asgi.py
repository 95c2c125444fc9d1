"""The /v1 image routes as `serve` runs them: imagegen/asgi.py hands them to the gateway's
own Django ASGI handler (an all-async middleware chain). A client that leaves while its
generation is being queued still cancels it; a stopping server answers waiting clients
at once; an unexpected failure is OpenAI's 500 with no invitation to retry."""

import asyncio
import contextlib
import json
import time

import pytest
from asgiref.testing import ApplicationCommunicator

from gallery.models import Image
from generation.gateway import service
from generation.models import Generation, Status
from imagegen import asgi
from imagegen.core import live
from settings_app.services import create_named_token
from tests.gateway.helpers import png
from tests.system.loops import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def token(owner, no_watcher_left, background_jobs):
    yield create_named_token(owner, "asgi")[1]
    live.broadcaster.stopping = False


def scope(token, path="/v1/images/generations"):
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"application/json"),
            (b"user-agent", b"asgi-test/1"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def slow_submit(monkeypatch, seconds: float) -> None:
    """Queueing takes ``seconds`` (a client may leave meanwhile)."""
    real = service.submit

    def slow(*args, **kwargs):
        time.sleep(seconds)
        return real(*args, **kwargs)

    monkeypatch.setattr(service, "submit", slow)


def wait_until_canceled(generation, seconds: float = 10) -> None:
    deadline = time.monotonic() + seconds
    while generation.status != Status.CANCELED:
        assert time.monotonic() < deadline, generation.status
        time.sleep(0.1)
        generation.refresh_from_db()


BODY = json.dumps({"model": "scripted-1", "prompt": "x", "size": "64x64"}).encode()


async def answer(communicator, timeout=20):
    start = await communicator.receive_output(timeout=timeout)
    body = b""
    while True:
        message = await communicator.receive_output(timeout=timeout)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, json.loads(body)


def test_the_image_routes_run_on_the_gateways_handler(token, scripted, monkeypatch):
    scripted.payloads = [png(64, 64)]
    served = []
    real = asgi.gateway_asgi
    monkeypatch.setattr(
        asgi, "gateway_asgi", lambda s, r, w: served.append(s["path"]) or real(s, r, w)
    )

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        await communicator.send_input({"type": "http.request", "body": BODY})
        return await answer(communicator)

    status, headers, body = run(scenario())
    assert served == ["/v1/images/generations"]
    assert status == 200 and len(body["data"]) == 1
    # No session, no cookie, no CSRF on this chain; SecurityMiddleware's headers are there.
    assert "set-cookie" not in headers and "vary" not in headers
    assert headers["x-content-type-options"] == "nosniff"
    assert Generation.objects.get().user_agent == "asgi-test/1"


def test_a_client_leaving_while_its_generation_is_queued_cancels_it(token, scripted, monkeypatch):
    scripted.payloads = [png(64, 64)]
    scripted.hang_seconds = 2
    slow_submit(monkeypatch, 0.8)  # the client leaves meanwhile

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        await communicator.send_input({"type": "http.request", "body": BODY})
        await asyncio.sleep(0.2)
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=10)

    run(scenario())
    wait_until_canceled(Generation.objects.get())


def test_a_stopping_server_answers_waiting_clients_at_once(token, scripted):
    scripted.payloads = [png(64, 64)]
    scripted.hang_seconds = 3

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        await communicator.send_input({"type": "http.request", "body": BODY})
        await asyncio.sleep(0.8)
        started = time.monotonic()
        live.broadcaster.end_streams()  # what SIGTERM does (imagegen/asgi.py)
        result = await answer(communicator)
        return result, time.monotonic() - started

    (status, headers, body), took = run(scenario())
    assert status == 503 and body["error"]["code"] == "server_restarting"
    assert headers["x-should-retry"] == "false" and took < 2.5
    assert "goes on" in body["error"]["message"]
    assert Generation.objects.get().status in (Status.RUNNING, Status.SUCCEEDED)


def test_an_unexpected_failure_is_openais_500_and_says_do_not_retry(token, scripted, monkeypatch):
    scripted.payloads = [png(64, 64)]

    def broken(*args, **kwargs):
        raise RuntimeError("storage went away")

    monkeypatch.setattr(service, "answer", broken)

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        await communicator.send_input({"type": "http.request", "body": BODY})
        return await answer(communicator)

    status, headers, body = run(scenario())
    generation = Generation.objects.get()
    assert status == 500 and headers["x-should-retry"] == "false"
    assert body["error"]["code"] == "internal_error"
    assert f"Generation {generation.pk} was queued" in body["error"]["message"]
    assert "storage went away" not in body["error"]["message"]


def other_connections() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_waiting_clients_hold_no_database_connection(token, settings, monkeypatch):
    """PostgreSQL (CONN_MAX_AGE 60): five clients waiting hold no connection each; only the
    process's live watcher has one."""
    from django.db import connection

    from generation import services

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's sessions")
    settings.GENERATION_TIMEOUT = 3
    monkeypatch.setattr(services, "enqueue_generation", lambda pk: None)  # they stay queued
    body = json.dumps({"model": "offline-shapes", "prompt": "x", "size": "64x64"}).encode()

    async def scenario():
        before = await asyncio.to_thread(closing(other_connections))  # the test's own
        communicators = []
        for _ in range(5):
            communicator = ApplicationCommunicator(asgi.application, scope(token))
            await communicator.send_input({"type": "http.request", "body": body})
            communicators.append(communicator)
        await asyncio.sleep(1.5)  # all five queued and waiting
        during = await asyncio.to_thread(closing(other_connections))
        answers = [await answer(c) for c in communicators]
        return before, during, answers

    before, during, answers = run(scenario())
    assert [status for status, _, _ in answers] == [504] * 5
    assert Generation.objects.filter(status=Status.QUEUED).count() == 0  # canceled
    assert during <= before + 1, (before, during)  # + the live watcher's


def closing(function):
    from imagegen.core.dbthreads import closing_connection

    return closing_connection(function)


def test_a_client_canceled_twice_while_queueing_still_cancels(token, scripted, monkeypatch):
    """gunicorn cancels the app a second time when it has not ended 3 s after a disconnect:
    the generation queued meanwhile is canceled all the same."""
    scripted.payloads = [png(64, 64)]
    scripted.hang_seconds = 3
    slow_submit(monkeypatch, 1.2)

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        await communicator.send_input({"type": "http.request", "body": BODY})
        await asyncio.sleep(0.2)
        await communicator.send_input({"type": "http.disconnect"})
        await asyncio.sleep(0.3)
        communicator.future.cancel()  # the second cancel, while the submit still runs
        with contextlib.suppress(asyncio.CancelledError):
            await communicator.future
        await asyncio.sleep(2.0)  # the submit ends; its callback cancels the generation

    run(scenario())
    wait_until_canceled(Generation.objects.get())


def test_a_body_over_the_limit_is_a_413_before_it_is_stored(token, settings):
    settings.MAX_IMAGE_SIZE = 1024  # the limit: 17 × 1 KiB + 1 MiB
    chunk = b"x" * 65536

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, scope(token))
        for _ in range(20):
            await communicator.send_input(
                {"type": "http.request", "body": chunk, "more_body": True}
            )
        return await answer(communicator)

    status, headers, body = run(scenario())
    assert status == 413 and body["error"]["code"] == "request_too_large"
    assert headers["x-should-retry"] == "false"
    assert not Generation.objects.exists()


def test_a_broker_that_fails_after_the_commit_loses_nothing(owner, monkeypatch):
    """The enqueue runs after the commit: if the broker fails there, the generation and its
    inputs stay (the recovery sweep enqueues what stays queued) and no error escapes."""
    from generation import services as generation_services
    from generation.gateway.service import read_edit, submit

    class Upload:
        def __init__(self, data):
            self.name, self.size, self._data = "a.png", len(data), data

        def read(self):
            return self._data

    def broken(pk):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(generation_services, "enqueue_generation", broken)
    ask = read_edit(
        {"prompt": ["x"], "model": ["offline-shapes"]}, {"image": [Upload(png(32, 32))]}
    )
    generation_id, _ = submit(owner, ask, project_header=None, user_agent="t")
    generation = Generation.objects.get(pk=generation_id)
    assert generation.status == Status.QUEUED
    assert generation.inputs.count() == 1 and Image.objects.filter(origin="upload").count() == 1
