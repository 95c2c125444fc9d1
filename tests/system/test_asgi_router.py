"""imagegen/asgi.py, what `serve` runs: /live/events goes to Django's ASGI handler and streams
(an async body), every other path to the WSGI app through a2wsgi; lifespan and SIGTERM."""

import asyncio
import os
import signal
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from asgiref.testing import ApplicationCommunicator
from django.test import Client

from imagegen import asgi
from imagegen.core import live
from tests.generation.helpers import make_generation
from tests.system.loops import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_watcher_left():
    yield
    live.broadcaster.stop()


def http_scope(path, cookie=None):
    headers = [(b"host", b"testserver")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def closing_connection(function):
    """``function`` for a thread of its own: its database connection is closed after it (a
    connection left open keeps PostgreSQL from dropping the test database)."""

    def call(*args):
        from django.db import connection

        try:
            return function(*args)
        finally:
            connection.close()

    return call


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return f"sessionid={client.cookies['sessionid'].value}"


async def response_start(communicator):
    await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    return start["status"], {name.lower(): value for name, value in start["headers"]}


async def body_until(communicator, needle: bytes, timeout=10.0):
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while needle not in seen:
        message = await communicator.receive_output(timeout=max(0.1, deadline - loop.time()))
        assert message["type"] == "http.response.body", message
        seen += message.get("body", b"")
    return seen


def test_an_ordinary_page_is_served_by_the_wsgi_app():
    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, http_scope("/login/"))
        status, _ = await response_start(communicator)
        body = await body_until(communicator, b"</html>")
        await communicator.wait(timeout=5)
        return status, body

    status, body = run(scenario())
    assert status == 200 and b'name="username"' in body
    assert asgi.django_wsgi.executor._thread_name_prefix == "WSGI"  # a2wsgi's pool


def test_the_live_path_streams_through_django_asgi(owner, monkeypatch):
    served = []
    real = asgi.django_asgi
    monkeypatch.setattr(
        asgi, "django_asgi", lambda scope, r, s: served.append(scope["path"]) or real(scope, r, s)
    )
    cookie = session_cookie(owner)

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, http_scope("/live/events", cookie))
        status, headers = await response_start(communicator)
        first = await body_until(communicator, b"retry: 2000\n\n")
        # The subscription was made before the first frame; give the watcher time to take
        # its start markers (a few ms), then change the database.
        await asyncio.sleep(0.5)
        generation = await asyncio.to_thread(closing_connection(make_generation), owner)
        event = await body_until(communicator, b"event: generation")
        await communicator.send_input({"type": "http.disconnect"})
        await communicator.wait(timeout=5)
        return status, headers, first, event, generation.pk

    status, headers, first, event, pk = run(scenario())
    assert served == ["/live/events"]
    assert status == 200 and headers[b"content-type"] == b"text/event-stream"
    assert first == b"retry: 2000\n\n"
    assert f'{{"id":{pk},"status":"queued"}}'.encode() in event
    assert live.broadcaster.subscriber_count() == 0  # the disconnect ended the subscription


def test_the_live_path_refuses_anonymous():
    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, http_scope("/live/events"))
        status, _ = await response_start(communicator)
        await body_until(communicator, b"</html>")
        return status

    assert run(scenario()) == 403
    assert live.broadcaster.subscriber_count() == 0


def test_lifespan_starts_and_stops(monkeypatch):
    installed = []
    monkeypatch.setattr(asgi, "_end_streams_on_sigterm", installed.append)

    async def scenario():
        communicator = ApplicationCommunicator(asgi.application, {"type": "lifespan"})
        await communicator.send_input({"type": "lifespan.startup"})
        started = await communicator.receive_output(timeout=5)
        await communicator.send_input({"type": "lifespan.shutdown"})
        stopped = await communicator.receive_output(timeout=5)
        return started["type"], stopped["type"]

    assert run(scenario()) == ("lifespan.startup.complete", "lifespan.shutdown.complete")
    assert len(installed) == 1


def test_sigterm_ends_open_streams_and_still_reaches_the_previous_handler():
    previous_calls = []
    original = signal.signal(signal.SIGTERM, lambda *a: previous_calls.append(a[0]))
    loop_ready = threading.Event()
    running = {}
    broadcaster = live.Broadcaster(lambda: {}, poll_seconds=0.05, linger_seconds=0.1)
    monkeypatched = live.broadcaster
    live.broadcaster = broadcaster
    try:

        async def scenario():
            subscription = broadcaster.subscribe(live.LoopSubscription(1))
            running["loop"] = asyncio.get_running_loop()
            loop_ready.set()
            item = await subscription.get(timeout=5)
            broadcaster.stop()
            return item, subscription.ended

        # The loop runs in a thread (tests/system/loops.py says why); signal handlers belong
        # to the main thread, where the worker installs them and the signal is handled.
        with ThreadPoolExecutor(1) as pool:
            outcome = pool.submit(asyncio.run, scenario())
            assert loop_ready.wait(5)
            asgi._end_streams_on_sigterm(running["loop"])
            os.kill(os.getpid(), signal.SIGTERM)
            assert outcome.result(timeout=10) == (live.WAKE, True)
        assert previous_calls == [signal.SIGTERM]
    finally:
        live.broadcaster = monkeypatched
        signal.signal(signal.SIGTERM, original)


def test_open_live_streams_hold_no_database_connection(owner):
    """PostgreSQL (CONN_MAX_AGE 60): three open pages' streams hold no connection each (their
    request threads close theirs); only the live watcher has one."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("counts PostgreSQL's sessions")
    cookie = session_cookie(owner)

    def count():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return cursor.fetchone()[0]

    async def scenario():
        before = await asyncio.to_thread(closing_connection(count))
        streams = []
        for _ in range(3):
            communicator = ApplicationCommunicator(
                asgi.application, http_scope("/live/events", cookie)
            )
            await response_start(communicator)
            await body_until(communicator, b"retry: 2000\n\n")
            streams.append(communicator)
        await asyncio.sleep(0.5)
        during = await asyncio.to_thread(closing_connection(count))
        for communicator in streams:
            await communicator.send_input({"type": "http.disconnect"})
            await communicator.wait(timeout=5)
        return before, during

    before, during = run(scenario())
    assert during <= before + 1, (before, during)  # + the live watcher's
