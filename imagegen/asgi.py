"""ASGI entry point: what ``manage.py serve`` runs (gunicorn's ``asgi`` worker).

A small router. The live-update stream (``LIVE_PATHS``) and the /v1 gateway's image routes
(``GATEWAY_PATHS``) go to Django's ASGI handler, so an open page or a client waiting for its
images costs a suspended coroutine, not a thread. Everything else goes to the same
Django app as WSGI, run by a2wsgi in a pool of ``WEB_THREADS`` threads, which passes a
streamed body on chunk by chunk. Not Django's ASGI handler for everything: it serves a
synchronous iterator (FileResponse, the ZIP download) by reading it whole into memory first
(``StreamingHttpResponse.__aiter__`` in django/http/response.py:
``for part in await sync_to_async(list)(self.streaming_content)``).
"""

import asyncio
import os
import signal
import tempfile

import django
from a2wsgi import WSGIMiddleware
from django.conf import settings
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.exception import convert_exception_to_response
from django.core.wsgi import get_wsgi_application
from django.http import JsonResponse
from django.middleware.common import CommonMiddleware
from django.middleware.security import SecurityMiddleware

from imagegen.core import live
from imagegen.core.umask import set_private_umask

set_private_umask()  # files this server creates (database, WAL, stored images) are 0600
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imagegen.settings")

# Keep in step with the live-events route in imagegen/urls.py and the gateway's image routes
# (generation/gateway/urls.py): a request there waits for its generation as a coroutine.
LIVE_PATHS = frozenset({"/live/events"})
GATEWAY_PATHS = frozenset({"/v1/images/generations", "/v1/images/edits"})


# Input images an edit may send (generation/gateway/service.py, MAX_INPUTS, checked there).
GATEWAY_MAX_FILES = 16


class BodyTooLarge(Exception):
    def __init__(self, limit: int):
        super().__init__(limit)
        self.limit = limit


class GatewayHandler(ASGIHandler):
    """Django's ASGI handler with an all-async middleware chain, for the /v1 image routes.

    Behind the project's MIDDLEWARE a waiting request would still park an OS thread: a
    synchronous middleware (WhiteNoise, the time-zone and error middlewares) runs in a
    thread of its own and blocks there while the async view below it waits. The gateway
    needs none of them (no session, cookie, CSRF, page or static file: a Bearer token, JSON
    errors of its own), so its chain is SecurityMiddleware and CommonMiddleware, which run
    on the event loop. The view's ORM work runs in a thread only while it works."""

    def load_middleware(self, is_async=False):
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async)
        for middleware in (CommonMiddleware, SecurityMiddleware):  # innermost first
            handler = convert_exception_to_response(middleware(handler))
        self._middleware_chain = handler

    async def handle(self, scope, receive, send):
        try:
            await super().handle(scope, receive, send)
        except BodyTooLarge as exc:
            body = {
                "error": {
                    "message": f"The request body is over {exc.limit:,} bytes.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "request_too_large",
                }
            }
            response = JsonResponse(body, status=413)
            response["x-should-retry"] = "false"
            await self.send_response(response, send)

    async def read_body(self, receive):
        """Django's, with a limit: an edit's sixteen inputs and a mask of MAX_IMAGE_SIZE and
        its fields. Without one a client could have any amount written to a temporary file
        before a check (gunicorn sets none; nginx in front does, docs/deploy.md)."""
        limit = (GATEWAY_MAX_FILES + 1) * settings.MAX_IMAGE_SIZE + 2**20
        body_file = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - the request closes it
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, mode="w+b"
        )
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                body_file.close()
                raise RequestAborted()
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                body_file.close()
                raise BodyTooLarge(limit)
            body_file.write(chunk)
            if not message.get("more_body", False):
                break
        body_file.seek(0)
        return body_file

    def create_request(self, scope, body_file):
        """A body sent chunked (no Content-Length: the JavaScript SDK sends a file stream so)
        has been read whole into ``body_file`` by now; Django's form parser reads only as
        many bytes as Content-Length says, so it is given the size read."""
        request, error = super().create_request(scope, body_file)
        if request is not None and not request.META.get("CONTENT_LENGTH"):
            size = body_file.seek(0, os.SEEK_END)
            body_file.seek(0)
            if size:
                request.META["CONTENT_LENGTH"] = str(size)
        return request, error


django.setup(set_prefix=False)
django_asgi = ASGIHandler()
gateway_asgi = GatewayHandler()
django_wsgi = WSGIMiddleware(
    get_wsgi_application(), workers=int(os.environ.get("WEB_THREADS", "8"))
)


async def application(scope, receive, send):
    """Route one ASGI connection: the live stream to ASGI Django, the rest to WSGI Django."""
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and _path(scope) in GATEWAY_PATHS:
        await gateway_asgi(scope, receive, send)
    elif scope["type"] == "http" and _path(scope) in LIVE_PATHS:
        await django_asgi(scope, receive, send)
    else:
        await django_wsgi(scope, receive, send)


def _path(scope) -> str:
    path, root = scope["path"], scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


async def _lifespan(receive, send):
    """At start-up, make SIGTERM end the open streams (the live watcher itself starts with its
    first subscriber)."""
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            _end_streams_on_sigterm(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def _end_streams_on_sigterm(loop) -> None:
    """On SIGTERM gunicorn's worker stops accepting and waits up to --graceful-timeout for
    open connections: a live stream would hold the stop for all of it. This ends the streams
    at once (their pages reconnect to the next server); ordinary requests still finish.

    The worker handles SIGTERM through ``loop.add_signal_handler``, which leaves its own
    no-op handler at the Python level and is woken through the signal wake-up fd, so a
    handler installed here runs as well; it calls the one it replaces."""
    previous = signal.getsignal(signal.SIGTERM)

    def on_sigterm(signum, frame):
        loop.call_soon_threadsafe(live.broadcaster.end_streams)
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, on_sigterm)
