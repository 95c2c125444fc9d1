"""GET /live/events through Django's test client (the WSGI flavour, a blocking generator):
headers, the first frames, a state change made while the stream is open, isolation between
users, and the ways a stream ends."""

import json
import time

import pytest
from django.test import Client

from generation.models import Generation, Status
from imagegen.core import live, live_views

pytestmark = pytest.mark.django_db(transaction=True)  # the watcher reads on its own connection


@pytest.fixture(autouse=True)
def quick_streams(monkeypatch):
    """Keep-alives every 0.2 s, so a read never blocks long; no watcher left running."""
    monkeypatch.setattr(live_views, "KEEPALIVE_SECONDS", 0.2)
    yield
    live.broadcaster.stop()


@pytest.fixture
def open_stream():
    """Open a stream with a client; every stream is closed at the end, failed test or not."""
    opened = []

    def open_(client):
        response = client.get("/live/events")
        assert response.status_code == 200
        opened.append(response)
        return response, iter(response.streaming_content)

    yield open_
    for response in opened:
        response.close()


def frames_until(chunks, predicate, timeout=10.0):
    """Frames read until one matches (returned last) or the timeout."""
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = next(chunks).decode()
        seen.append(frame)
        if predicate(frame):
            return seen
    raise AssertionError(f"no matching frame in {seen}")


def parse(frame):
    lines = dict(line.split(": ", 1) for line in frame.strip().splitlines())
    return lines["event"], json.loads(lines["data"])


def watching(chunks):
    """Wait until the watcher has taken its start markers (nothing before is replayed)."""
    frames_until(chunks, lambda f: f.startswith(": keep-alive"))


def new_generation(user):
    return Generation.objects.create(
        owner=user, provider="offline", model="offline-shapes", prompt="p", width=64, height=64
    )


def client_for_page(user):
    client = Client()
    client.force_login(user)
    return client


def test_the_stream_is_an_uncached_event_stream_starting_with_retry(open_stream, owner):
    response, chunks = open_stream(client_for_page(owner))
    assert response["Content-Type"] == "text/event-stream"
    assert response["Cache-Control"] == "no-store"
    assert response["X-Accel-Buffering"] == "no"
    assert next(chunks) == b"retry: 2000\n\n"
    assert next(chunks) == b": keep-alive\n\n"
    response.close()


def test_a_state_change_made_while_open_arrives_as_an_event(open_stream, owner):
    response, chunks = open_stream(client_for_page(owner))
    watching(chunks)
    generation = new_generation(owner)
    frames = frames_until(chunks, lambda f: f.startswith("event:"))
    assert parse(frames[-1]) == ("generation", {"id": generation.pk, "status": "queued"})
    Generation.objects.filter(pk=generation.pk).update(status=Status.RUNNING)
    assert Generation.objects.get(pk=generation.pk).mark_failed("broken")
    frames = frames_until(chunks, lambda f: "failed" in f)
    assert parse(frames[-1]) == ("generation", {"id": generation.pk, "status": "failed"})
    response.close()


def test_another_users_change_never_reaches_my_stream(open_stream, owner, outsider):
    mine, my_chunks = open_stream(client_for_page(outsider))
    theirs, their_chunks = open_stream(client_for_page(owner))
    watching(my_chunks)
    watching(their_chunks)
    generation = new_generation(owner)
    frames_until(their_chunks, lambda f: f.startswith("event:"))  # delivered by now
    # Everything my stream got up to two keep-alives after that: no event.
    frames = frames_until(my_chunks, lambda f: f.startswith(": keep-alive"))
    frames += frames_until(my_chunks, lambda f: f.startswith(": keep-alive"))
    assert not [f for f in frames if f.startswith("event:")], (generation.pk, frames)
    mine.close()
    theirs.close()


def test_an_anonymous_request_gets_403_and_no_stream(client):
    response = client.get("/live/events")
    assert response.status_code == 403
    assert not response.streaming
    assert live.broadcaster.subscriber_count() == 0


def test_the_stream_ends_when_the_session_is_gone(open_stream, owner):
    client = client_for_page(owner)
    response, chunks = open_stream(client)
    watching(chunks)
    client.logout()
    with pytest.raises(StopIteration):
        frames_until(chunks, lambda f: False)
    assert live.broadcaster.subscriber_count() == 0
    response.close()


def test_the_stream_ends_after_its_lifetime(open_stream, owner, monkeypatch):
    monkeypatch.setattr(live_views, "MAX_STREAM_SECONDS", 0.5)
    response, chunks = open_stream(client_for_page(owner))
    with pytest.raises(StopIteration):
        frames_until(chunks, lambda f: False)
    response.close()


def test_closing_the_response_unsubscribes(open_stream, owner):
    response, chunks = open_stream(client_for_page(owner))
    next(chunks)
    assert live.broadcaster.subscriber_count() == 1
    response.close()
    assert live.broadcaster.subscriber_count() == 0


def test_the_page_csp_lets_the_stream_connect(open_stream, owner):
    response = client_for_page(owner).get("/generate/")
    policy = response["Content-Security-Policy"]
    connect = [d for d in policy.split(";") if d.strip().startswith("connect-src")]
    default = [d for d in policy.split(";") if d.strip().startswith("default-src")]
    # No connect-src: default-src 'self' governs EventSource, and the stream is same-origin.
    assert (connect or default)[0].split()[1:] == ["'self'"]
    assert 'src="/static/js/live.js" data-url="/live/events"' in response.content.decode()
