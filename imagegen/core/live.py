"""Live updates: one change watcher per web process, fanning database changes out to the open
event streams of that process (docs/architecture.md, "Live updates").

The watcher knows no app. Apps register *sources* from their ``AppConfig.ready``::

    live.register_source("generation", generation_changes)

A source is a callable ``(marker) -> (events, new_marker)``. Called with ``None`` it returns no
events and the marker of "now"; afterwards it returns what changed since ``marker``. An event
is ``(audience_user_ids, kind, payload)``: only subscribers whose user is in the audience get
it, as ``(kind, payload)``.

The watcher is a daemon thread, started by the first subscriber and stopped once none remain
(after a short linger, so that a page reload does not restart it). It polls every source every
``POLL_SECONDS`` with one query each, whatever the number of open pages; subscribers on an
event loop (the ASGI stream) are handed events with ``loop.call_soon_threadsafe``, blocking
ones (the WSGI stream) through a thread-safe queue.
"""

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from django.db import close_old_connections, connection

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.2
LINGER_SECONDS = 5.0
# Events a subscriber may have waiting before it is dropped (its stream then closes and the
# browser reconnects and re-fetches: nothing is lost but the backlog).
MAX_BACKLOG = 500

Event = tuple[Iterable[int], str, dict]
# What ``get`` returns to a stream woken up to end (``Subscription.end``).
WAKE = ("", {})
Source = Callable[[Any], tuple[list[Event], Any]]

_sources: dict[str, Source] = {}


def register_source(name: str, source: Source) -> None:
    """Add (or replace) a source of events under ``name``; called from AppConfig.ready."""
    _sources[name] = source


def registered_sources() -> dict[str, Source]:
    return dict(_sources)


class Subscription:
    """One open stream: the user it belongs to and how events reach it."""

    def __init__(self, user_id: int):
        self.user_id = user_id
        # Set when the stream must end: its backlog overflowed, or the server is stopping.
        self.ended = False

    def deliver(self, kind: str, payload: dict) -> None:
        raise NotImplementedError

    def end(self) -> None:
        """Make the stream finish now (its ``get`` wakes up with WAKE)."""
        self.ended = True
        self.deliver(*WAKE)


class QueueSubscription(Subscription):
    """For a blocking (WSGI) stream: ``get`` waits on a thread-safe queue."""

    def __init__(self, user_id: int):
        super().__init__(user_id)
        self.queue: queue.Queue = queue.Queue(MAX_BACKLOG)

    def deliver(self, kind, payload):
        try:
            self.queue.put_nowait((kind, payload))
        except queue.Full:
            self.ended = True

    def get(self, timeout: float):
        """The next (kind, payload), or None after ``timeout`` seconds."""
        try:
            return self.queue.get(timeout=timeout)
        except queue.Empty:
            return None


class LoopSubscription(Subscription):
    """For a stream on an event loop (ASGI): events cross into the loop thread-safely."""

    def __init__(self, user_id: int, loop: asyncio.AbstractEventLoop | None = None):
        super().__init__(user_id)
        self.loop = loop or asyncio.get_running_loop()
        self.queue: asyncio.Queue = asyncio.Queue(MAX_BACKLOG)

    def deliver(self, kind, payload):
        try:
            self.loop.call_soon_threadsafe(self._put, (kind, payload))
        except RuntimeError:  # the loop is closed: the worker is gone
            self.ended = True

    def _put(self, item):
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.ended = True

    async def get(self, timeout: float):
        """The next (kind, payload), or None after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.queue.get(), timeout)
        except TimeoutError:
            return None


class Broadcaster:
    """The watcher of one process: polls the sources while anyone is subscribed."""

    def __init__(
        self,
        sources: Callable[[], dict[str, Source]] = registered_sources,
        poll_seconds: float = POLL_SECONDS,
        linger_seconds: float = LINGER_SECONDS,
    ):
        self._sources = sources
        self.poll_seconds = poll_seconds
        self.linger_seconds = linger_seconds
        self._lock = threading.Lock()
        self._subscribers: set[Subscription] = set()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._markers: dict[str, Any] = {}
        # Set by end_streams: the server is stopping (a waiting /v1 request answers now).
        self.stopping = False

    # --- Subscribers ----------------------------------------------------------------------

    def subscribe(self, subscription: Subscription) -> Subscription:
        with self._lock:
            self._subscribers.add(subscription)
            if self._thread is None or not self._thread.is_alive():
                self._stop = threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._stop,), name="live-watcher", daemon=True
                )
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def running(self) -> bool:
        thread = self._thread
        return thread is not None and thread.is_alive()

    def subscriber_count(self) -> int:
        with self._lock:
            return len(self._subscribers)

    def end_streams(self) -> None:
        """Ask every open stream to finish (the server is stopping: browsers reconnect to the
        next one)."""
        self.stopping = True
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            subscription.end()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the watcher now (tests, process exit); subscribers stay registered."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    # --- The watcher ----------------------------------------------------------------------

    def start_markers(self) -> None:
        """Each source's marker of "now": what changes before this is not replayed."""
        self._markers = {}
        for name, source in self._sources().items():
            self._markers[name] = source(None)[1]

    def poll_once(self) -> int:
        """Read every source once and deliver its events; the number delivered."""
        delivered = 0
        for name, source in self._sources().items():
            if name not in self._markers:  # registered after the watcher started
                self._markers[name] = source(None)[1]
                continue
            events, self._markers[name] = source(self._markers[name])
            if events:
                delivered += self.publish(events)
        return delivered

    def publish(self, events: Iterable[Event]) -> int:
        """Hand each event to the subscribers in its audience."""
        with self._lock:
            subscribers = list(self._subscribers)
        delivered = 0
        for audience, kind, payload in events:
            audience = set(audience)
            for subscription in subscribers:
                if subscription.user_id in audience:
                    subscription.deliver(kind, payload)
                    delivered += 1
        return delivered

    def _run(self, stop: threading.Event) -> None:
        idle_since = None
        started = False
        try:
            while not stop.is_set():
                try:
                    if not started:
                        self.start_markers()
                        started = True
                    else:
                        self.poll_once()
                except Exception:
                    # A locked or restarted database: log, drop the connection, try again
                    # with the same markers (nothing is skipped).
                    logger.exception("live updates: a source failed; retrying")
                    connection.close()
                    stop.wait(1.0)
                with self._lock:
                    if self._subscribers:
                        idle_since = None
                    else:
                        idle_since = idle_since or time.monotonic()
                        if time.monotonic() - idle_since >= self.linger_seconds:
                            # Under the lock: a subscribe now sees a dead thread and starts one.
                            self._thread = None
                            return
                stop.wait(self.poll_seconds)
        finally:
            close_old_connections()
            connection.close()


broadcaster = Broadcaster()
