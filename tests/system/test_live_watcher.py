"""The live-update watcher (imagegen.core.live): sources, audiences, the thread's start and
stop, and the hand-over to blocking and event-loop subscribers."""

import asyncio
import threading
import time

import pytest

from imagegen.core import live
from tests.system.loops import run


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


class FakeSource:
    """A source whose marker counts the events handed out; ``add`` queues the next ones."""

    def __init__(self):
        self.pending = []
        self.calls = []
        self.lock = threading.Lock()

    def add(self, audience, kind, payload):
        with self.lock:
            self.pending.append((audience, kind, payload))

    def __call__(self, marker):
        self.calls.append(marker)
        with self.lock:
            if marker is None:
                self.pending.clear()
                return [], 0
            events, self.pending = self.pending, []
        return events, marker + len(events)


@pytest.fixture
def source():
    return FakeSource()


@pytest.fixture
def broadcaster(source):
    b = live.Broadcaster(lambda: {"fake": source}, poll_seconds=0.01, linger_seconds=0.05)
    yield b
    b.stop()


def test_events_reach_only_subscribers_in_their_audience(broadcaster, source):
    mine, theirs = live.QueueSubscription(1), live.QueueSubscription(2)
    broadcaster.start_markers()
    broadcaster._subscribers.update({mine, theirs})  # no thread: polled by hand below
    source.add({1}, "generation", {"id": 7, "status": "running"})
    source.add({1, 2}, "image", {"id": 3, "project": 9})
    assert broadcaster.poll_once() == 3
    assert mine.get(0) == ("generation", {"id": 7, "status": "running"})
    assert mine.get(0) == ("image", {"id": 3, "project": 9})
    assert theirs.get(0) == ("image", {"id": 3, "project": 9})
    assert theirs.get(0) is None


def test_nothing_before_the_start_is_replayed(broadcaster, source):
    subscription = live.QueueSubscription(1)
    broadcaster._subscribers.add(subscription)
    source.add({1}, "generation", {"id": 1, "status": "queued"})
    broadcaster.start_markers()  # the source's marker of "now"
    assert source.calls == [None]
    assert broadcaster.poll_once() == 0 and subscription.get(0) is None


def test_the_thread_starts_with_the_first_subscriber_and_stops_after_the_last(broadcaster, source):
    assert not broadcaster.running
    first = broadcaster.subscribe(live.QueueSubscription(1))
    second = broadcaster.subscribe(live.QueueSubscription(1))
    assert broadcaster.running
    assert wait_for(lambda: len(source.calls) >= 2)  # started, then polling
    source.add({1}, "generation", {"id": 5, "status": "succeeded"})
    assert first.get(2) == ("generation", {"id": 5, "status": "succeeded"})
    assert second.get(2) == ("generation", {"id": 5, "status": "succeeded"})
    broadcaster.unsubscribe(first)
    time.sleep(0.2)
    assert broadcaster.running  # one subscriber left
    broadcaster.unsubscribe(second)
    assert wait_for(lambda: not broadcaster.running)
    # A new subscriber starts it again, from a fresh marker.
    calls = len(source.calls)
    broadcaster.subscribe(live.QueueSubscription(1))
    assert broadcaster.running and wait_for(lambda: None in source.calls[calls:])


def test_a_failing_source_is_retried_with_the_same_marker(broadcaster, source, monkeypatch):
    subscription = broadcaster.subscribe(live.QueueSubscription(1))
    assert wait_for(lambda: len(source.calls) >= 2)
    real_call, failures = FakeSource.__call__, []

    def flaky(self, marker):
        if not failures:
            failures.append(marker)
            raise RuntimeError("database is locked")
        return real_call(self, marker)

    monkeypatch.setattr(FakeSource, "__call__", flaky)
    source.add({1}, "generation", {"id": 8, "status": "failed"})
    assert subscription.get(3) == ("generation", {"id": 8, "status": "failed"})
    assert failures


def test_a_full_backlog_ends_the_subscription(monkeypatch):
    monkeypatch.setattr(live, "MAX_BACKLOG", 2)
    subscription = live.QueueSubscription(1)
    for n in range(3):
        subscription.deliver("image", {"id": n, "project": None})
    assert subscription.ended


def test_end_streams_wakes_every_subscriber(broadcaster):
    subscription = broadcaster.subscribe(live.QueueSubscription(1))
    broadcaster.end_streams()
    assert subscription.ended and subscription.get(1) == live.WAKE


def test_an_event_loop_subscriber_gets_events_from_the_watcher_thread(broadcaster, source):
    async def scenario():
        subscription = broadcaster.subscribe(live.LoopSubscription(1))
        await asyncio.to_thread(wait_for, lambda: len(source.calls) >= 2)
        source.add({1}, "generation", {"id": 4, "status": "canceled"})
        return await subscription.get(timeout=3)

    assert run(scenario()) == ("generation", {"id": 4, "status": "canceled"})


def test_the_apps_register_their_sources():
    assert {"generation", "image"} <= set(live.registered_sources())
