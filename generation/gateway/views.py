"""The /v1 routes. Thin: reading, checking, queueing and answering are service.py's.

The two image routes are async views, served by Django's ASGI handler (imagegen/asgi.py
routes them there): a request waiting for its generation is a suspended coroutine woken by
the process's one live-update watcher (imagegen.core.live), not a thread of the web pool, so
fifty clients waiting on a slow provider leave every page answering (docs/architecture.md,
"The /v1 gateway"). The ORM work before and after the wait runs through ``sync_to_async``.

Django cancels an async view whose client disconnects (asyncio.CancelledError in the view);
the generation it was waiting for is then canceled too.
"""

import asyncio
import json
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from generation.gateway import offers, service
from generation.gateway.errors import OpenAIError
from generation.models import FINISHED_STATUSES
from imagegen.core import live
from imagegen.core.dbthreads import closing_connection

logger = logging.getLogger(__name__)

# While waiting, the generation's row is read again this often even without an event (an
# event lost with a stream's overflowing backlog costs at most this long).
RECHECK_SECONDS = 5.0
FINISHED = {str(status) for status in FINISHED_STATUSES}


def _method_not_allowed(request, allowed: str) -> JsonResponse:
    response = OpenAIError(
        f"Method {request.method} is not allowed here; use {allowed}.",
        status=405,
        code="method_not_allowed",
    ).response()
    response["Allow"] = allowed
    return response


@csrf_exempt
async def generations(request):
    """POST /v1/images/generations (JSON)."""
    return await _make(request, _read_json)


@csrf_exempt
async def edits(request):
    """POST /v1/images/edits (multipart: image or image[], optional mask)."""
    return await _make(request, _read_form)


def _read_json(request) -> service.Ask:
    try:
        body = json.loads(_body(request) or b"null")
    except (ValueError, UnicodeDecodeError):
        raise OpenAIError(
            "We could not parse the JSON body of your request. The body must be JSON, "
            "sent with Content-Type: application/json.",
            code="invalid_json",
        ) from None
    return service.read_generation(body)


def _body(request) -> bytes:
    try:
        return request.body
    except RequestDataTooBig:
        raise OpenAIError(
            "The request body is too large.", status=413, code="request_too_large"
        ) from None


def _read_form(request) -> service.Ask:
    if not request.content_type.startswith("multipart/form-data"):
        raise OpenAIError(
            "Send image edits as multipart/form-data (the image files and the fields).",
            code="invalid_content_type",
        )
    try:
        fields = {name: request.POST.getlist(name) for name in request.POST}
        files = {name: request.FILES.getlist(name) for name in request.FILES}
    except RequestDataTooBig:
        raise OpenAIError(
            "The form's text fields are too large.", status=413, code="request_too_large"
        ) from None
    except (MultiPartParserError, TooManyFieldsSent, TooManyFilesSent) as exc:
        message = f"The multipart body could not be read: {exc}"
        raise OpenAIError(message, code="invalid_body") from None
    return service.read_edit(fields, files)


def _orm(function, *, thread_sensitive: bool = True):
    """``function`` through ``sync_to_async``, its thread's database connection closed after
    it (imagegen.core.dbthreads): a request that waits minutes keeps no connection open
    meanwhile, and the next call opens a fresh, healthy one."""
    return sync_to_async(closing_connection(function), thread_sensitive=thread_sensitive)


# Cancels started from callbacks, kept until they finish (the loop holds tasks weakly).
_cancels: set = set()


def _cancel_when_queued(submitting) -> None:
    if submitting.cancelled() or submitting.exception() is not None:
        return  # nothing was queued
    generation_id, _ = submitting.result()
    logger.info("gateway: client went away; canceling generation %s", generation_id)
    task = asyncio.ensure_future(_orm(service.cancel, thread_sensitive=False)(generation_id))
    _cancels.add(task)
    task.add_done_callback(_cancels.discard)


async def _make(request, read) -> HttpResponse:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    generation_id = None
    queueing = False  # from here on a failure may have queued a generation
    try:
        user = await _orm(service.authenticate)(request.headers.get("Authorization"))
        ask = await _orm(read)(request)
        queueing = True
        submitting = asyncio.ensure_future(
            _orm(service.submit)(
                user,
                ask,
                project_header=request.headers.get("X-Project"),
                user_agent=request.headers.get("User-Agent", ""),
            )
        )
        try:
            generation_id, timeout = await asyncio.shield(submitting)
        except asyncio.CancelledError:
            # The client left while its generation was being queued: cancel it once it is
            # (from a callback: this task may be canceled again before then).
            submitting.add_done_callback(_cancel_when_queued)
            raise
        finished = await _wait(user.pk, generation_id, timeout)
        if not finished:
            # Timed out: canceled, unless it finished in the meantime.
            error = await _orm(service.give_up)(generation_id, timeout)
            if error is not None:
                raise error
        base = request.build_absolute_uri("/").rstrip("/")
        return JsonResponse(await _orm(service.answer)(generation_id, ask, base))
    except OpenAIError as exc:
        return exc.response()
    except Exception:
        # Never Django's HTML 500, and never an invitation to retry a generation that was
        # queued (the SDKs retry a 5xx twice).
        logger.exception("gateway: request failed (generation %s)", generation_id)
        if generation_id:
            where = f" Generation {generation_id} was queued: look for it in your gallery."
        elif queueing:
            where = " A generation may have been queued: look in your gallery before retrying."
        else:
            where = ""
        return OpenAIError(
            f"The server failed to answer this request.{where}",
            status=500,
            type="server_error",
            code="internal_error",
            retry=not queueing,
        ).response()


async def _wait(user_id: int, generation_id: int, timeout: float) -> bool:
    """Wait until the generation finishes (True) or ``timeout`` passes (False). Woken by the
    process's live watcher; the row is read again every RECHECK_SECONDS as well. A client
    that disconnects cancels the generation."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    subscription = live.broadcaster.subscribe(live.LoopSubscription(user_id))
    try:
        while True:
            # Read after subscribing: a finish before the subscription is seen here.
            status = await _orm(service.status_of)(generation_id)
            if status in FINISHED:
                return True
            if status is None:
                raise OpenAIError(
                    f"Generation {generation_id} was deleted before it finished.",
                    status=404,
                    code="not_found",
                    retry=False,
                )
            if live.broadcaster.stopping:
                raise OpenAIError(
                    f"The server is restarting. Generation {generation_id} goes on: its "
                    "images will be in your gallery.",
                    status=503,
                    type="server_error",
                    code="server_restarting",
                    retry=False,
                )
            if loop.time() >= deadline:
                return False
            if subscription.ended:  # its backlog overflowed: a fresh one
                live.broadcaster.unsubscribe(subscription)
                subscription = live.broadcaster.subscribe(live.LoopSubscription(user_id))
                continue
            recheck = min(deadline, loop.time() + RECHECK_SECONDS)
            while (left := recheck - loop.time()) > 0:
                event = await subscription.get(left)
                if subscription.ended:
                    break
                payload = event[1] if event else {}
                if payload.get("id") == generation_id and payload.get("status") in FINISHED:
                    break
    except asyncio.CancelledError:
        logger.info("gateway: client went away; canceling generation %s", generation_id)
        # Shielded: this task is being canceled.
        await asyncio.shield(_orm(service.cancel, thread_sensitive=False)(generation_id))
        raise
    finally:
        live.broadcaster.unsubscribe(subscription)


@csrf_exempt
def models(request):
    """GET /v1/models: the models this user may use."""
    if request.method != "GET":
        return _method_not_allowed(request, "GET")
    try:
        user = service.authenticate(request.headers.get("Authorization"))
    except OpenAIError as exc:
        return exc.response()
    listed = [offer.listing for offer in offers.offers(user)]
    return JsonResponse({"object": "list", "data": listed})


@csrf_exempt
def model(request, model_id: str):
    """GET /v1/models/{id}."""
    if request.method != "GET":
        return _method_not_allowed(request, "GET")
    try:
        user = service.authenticate(request.headers.get("Authorization"))
        return JsonResponse(offers.find(user, model_id, explain=False).listing)
    except OpenAIError as exc:
        return exc.response()


def file(request, signed: str):
    """GET /v1/files/<signed>: a result a ``url`` answer links to, while the link is valid."""
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET")
    try:
        body, media_type = service.linked_file(signed)
    except OpenAIError as exc:
        return exc.response()
    response = HttpResponse(body, content_type=media_type)
    response["Cache-Control"] = f"private, max-age={settings.GATEWAY_LINK_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@csrf_exempt
def not_found(request, rest: str = ""):
    """Any other path under /v1."""
    return OpenAIError(
        f"Unknown request URL: {request.method} {request.path}. This server answers "
        "/v1/images/generations, /v1/images/edits and /v1/models.",
        status=404,
        code="unknown_url",
    ).response()
