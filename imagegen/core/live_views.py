"""``GET /live/events``: the signed-in user's live updates as Server-Sent Events.

One view, two flavours of body. Under ASGI (``serve``: gunicorn's asgi worker, routed here by
imagegen/asgi.py) the body is an async generator: an idle stream is a suspended coroutine on
the worker's event loop. Under WSGI (``runserver``, the browser tests' live server) it is a
blocking generator that holds its thread, which is fine there. Both read the same
subscription of the process's watcher (imagegen.core.live) and write the same frames:

    retry: 2000                       once, first: how long the browser waits to reconnect
    event: generation / event: image  with ``data: {json}``, for this user's audience only
    : keep-alive                      every KEEPALIVE_SECONDS, so proxies keep the line open

A stream ends by itself after MAX_STREAM_SECONDS (the browser reconnects and the page
re-fetches its state) and at the first keep-alive after the user's session is gone.
"""

import asyncio
import json
import time
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse
from django.views.decorators.http import require_GET

from imagegen.core import live
from imagegen.core.dbthreads import close_connection, closing_connection

RETRY_MS = 2000
KEEPALIVE_SECONDS = 20.0
MAX_STREAM_SECONDS = 300.0

PREAMBLE = f"retry: {RETRY_MS}\n\n".encode()
KEEPALIVE = b": keep-alive\n\n"


def frame(kind: str, payload: dict) -> bytes:
    """One event as the wire carries it."""
    data = json.dumps(payload, separators=(",", ":"))
    return f"event: {kind}\ndata: {data}\n\n".encode()


def still_signed_in(session_key: str | None, user_id: int) -> bool:
    """Whether the session the stream was opened with still signs in the same, active user
    (not logged out, expired, or invalidated by a password change)."""
    if not session_key:
        return False
    probe = HttpRequest()
    probe.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    user = auth.get_user(probe)
    return user.is_authenticated and user.pk == user_id


@require_GET
def live_events(request):
    """The event stream of the signed-in user; 403 for anyone else (no stream)."""
    if not request.user.is_authenticated:
        raise PermissionDenied("Sign in to receive live updates.")
    user_id, session_key = request.user.pk, request.session.session_key
    if isinstance(request, ASGIRequest):
        body = _async_stream(user_id, session_key)
    else:
        body = _blocking_stream(user_id, session_key)
    response = StreamingHttpResponse(body, content_type="text/event-stream")
    response["Cache-Control"] = "no-store"
    response["X-Accel-Buffering"] = "no"  # nginx: pass each event on at once
    return response


def _blocking_stream(user_id, session_key, broadcaster=None):
    broadcaster = broadcaster or live.broadcaster
    subscription = broadcaster.subscribe(live.QueueSubscription(user_id))
    try:
        yield PREAMBLE
        deadline = time.monotonic() + MAX_STREAM_SECONDS
        next_ping = time.monotonic() + KEEPALIVE_SECONDS
        while not subscription.ended:
            now = time.monotonic()
            if now >= deadline:
                return
            item = subscription.get(timeout=max(0.0, min(next_ping, deadline) - now))
            if subscription.ended:
                return
            if item is not None:
                yield frame(*item)
            elif time.monotonic() >= next_ping:
                if not still_signed_in(session_key, user_id):
                    return
                yield KEEPALIVE
                next_ping = time.monotonic() + KEEPALIVE_SECONDS
    finally:
        broadcaster.unsubscribe(subscription)


async def _async_stream(user_id, session_key, broadcaster=None):
    # The stream outlives the request thread's database work by minutes: its connection is
    # closed now, on that thread, after the response middleware (a session save) has run
    # (imagegen.core.dbthreads).
    await sync_to_async(close_connection)()
    broadcaster = broadcaster or live.broadcaster
    subscription = broadcaster.subscribe(live.LoopSubscription(user_id))
    loop = asyncio.get_running_loop()
    try:
        yield PREAMBLE
        deadline = loop.time() + MAX_STREAM_SECONDS
        next_ping = loop.time() + KEEPALIVE_SECONDS
        while not subscription.ended:
            now = loop.time()
            if now >= deadline:
                return
            item = await subscription.get(timeout=max(0.0, min(next_ping, deadline) - now))
            if subscription.ended:
                return
            if item is not None:
                yield frame(*item)
            elif loop.time() >= next_ping:
                signed_in = sync_to_async(closing_connection(still_signed_in))
                if not await signed_in(session_key, user_id):
                    return
                yield KEEPALIVE
                next_ping = loop.time() + KEEPALIVE_SECONDS
    finally:
        broadcaster.unsubscribe(subscription)
