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
from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from generation.gateway import offers, service
from generation.gateway.errors import OpenAIError
from generation.models import FINISHED_STATUSES
from imagegen.core import live

logger = logging.getLogger(__name__)

# While waiting, the generation's row is read again this often even without an event (an
# event lost with a stream's overflowing backlog costs at most this long).
RECHECK_SECONDS = 2.0
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
        body = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise OpenAIError(
            "We could not parse the JSON body of your request. The body must be JSON, "
            "sent with Content-Type: application/json.",
            code="invalid_json",
        ) from None
    return service.read_generation(body)


def _read_form(request) -> service.Ask:
    if not request.content_type.startswith("multipart/form-data"):
        raise OpenAIError(
            "Send image edits as multipart/form-data (the image files and the fields).",
            code="invalid_content_type",
        )
    fields = {name: request.POST.getlist(name) for name in request.POST}
    files = {name: request.FILES.getlist(name) for name in request.FILES}
    return service.read_edit(fields, files)


async def _make(request, read) -> HttpResponse:
    if request.method != "POST":
        return _method_not_allowed(request, "POST")
    try:
        user = await sync_to_async(service.authenticate)(request.headers.get("Authorization"))
        ask = await sync_to_async(read)(request)
        # Subscribed before the generation exists: its finish cannot slip between the two.
        subscription = live.broadcaster.subscribe(live.LoopSubscription(user.pk))
        try:
            generation_id, timeout = await sync_to_async(service.submit)(
                user,
                ask,
                project_header=request.headers.get("X-Project"),
                user_agent=request.headers.get("User-Agent", ""),
            )
            await _wait(subscription, generation_id, timeout)
        finally:
            live.broadcaster.unsubscribe(subscription)
        base = request.build_absolute_uri("/").rstrip("/")
        return JsonResponse(await sync_to_async(service.answer)(generation_id, ask, base))
    except OpenAIError as exc:
        return exc.response()


async def _wait(subscription, generation_id: int, timeout: float) -> None:
    """Until the generation finishes; past ``timeout`` it is canceled (504). A client that
    disconnects cancels it too."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while await sync_to_async(service.status_of)(generation_id) not in FINISHED:
            if loop.time() >= deadline:
                raise await sync_to_async(service.timed_out)(generation_id, timeout)
            recheck = min(deadline, loop.time() + RECHECK_SECONDS)
            while (left := recheck - loop.time()) > 0:
                event = await subscription.get(left)
                if subscription.ended:  # the backlog overflowed: read the row instead
                    await asyncio.sleep(max(0.0, min(left, 0.5)))
                    break
                payload = event[1] if event else {}
                if payload.get("id") == generation_id and payload.get("status") in FINISHED:
                    break
    except asyncio.CancelledError:
        logger.info("gateway: client went away; canceling generation %s", generation_id)
        # Shielded, on a thread of its own: this task is being canceled.
        await asyncio.shield(sync_to_async(service.cancel, thread_sensitive=False)(generation_id))
        raise


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
        return JsonResponse(offers.find(user, model_id).listing)
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
