"""Running one generation: claim it, call its provider under a deadline, store the results.

The django-q2 task (``generation.tasks.run_generation``) hands a generation id to
``dispatch``. With ``GENERATION_THREADS`` > 0 the worker process runs it on one of its threads
and the task returns at once, so a slow provider does not pin a worker process for its whole
wait; with 0 it runs inline. Either way all state lives in the Generation row: see
docs/architecture.md.
"""

import errno
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection, connections, transaction
from django.db.models import F
from django.utils import timezone

from gallery.models import Image
from gallery.services import (
    StoredFiles,
    discard_unreferenced,
    store_image_files,
    stored_image,
)
from generation import backends, inputs
from generation.finish_hooks import generation_finished
from generation.models import Generation, Status
from generation.services import enqueue_generation
from generation.usage.policy import effective_limits_by_owner, refusal
from imagegen.core.imaging import InvalidImage, ValidatedImage, validate_image
from imagegen.providers import get_provider
from imagegen.providers.backends import Backend
from imagegen.providers.base import (
    BackendUnreachable,
    GenerationCanceled,
    GenerationRequest,
    GenerationTimedOut,
    KeyRestricted,
    Margins,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.fetch import fetch_image
from imagegen.providers.selfhosted import gpu_cost
from settings_app.keys import (
    clear_key_restriction,
    missing_key_message,
    record_key_restricted,
    record_key_use,
    resolve_api_key,
)

logger = logging.getLogger(__name__)

CANCEL_CHECK_SECONDS = 1.0
HEARTBEAT_SECONDS = 5.0
TICK_SECONDS = 0.1
# How often a provider's progress report is written to the generation (at most).
PROGRESS_SECONDS = 0.5
PROGRESS_STEP = 0.01  # and only when it moved by a percent
# Time a provider gets past the deadline to raise its own timeout before it is abandoned.
DEADLINE_GRACE_SECONDS = 1.0


class LostOwnership(Exception):
    """Another actor (cancel, the recovery sweep) changed the generation under us."""


# --- Dispatch -------------------------------------------------------------------------------

# How long a process whose threads are all busy waits for one before re-queueing the job.
SLOT_WAIT_SECONDS = 0.25


class _ThreadPool:
    """Runs generations on threads of this worker process, at most ``size`` at once."""

    def __init__(self, size: int):
        self.size = size
        self.slots = threading.BoundedSemaphore(size)
        self.executor = ThreadPoolExecutor(size, thread_name_prefix="generation")

    def submit(self, generation_id: int) -> bool:
        # Wait briefly for a free thread; a full process leaves the job to other workers.
        # Briefly: django-q hands tasks to whichever process asks first, so one process can
        # get more than its share of a burst while another has free threads; a long wait here
        # held those jobs back for the whole wait (bench figure 3: 5 s of a 5 s run).
        if not self.slots.acquire(timeout=SLOT_WAIT_SECONDS):
            return False
        self.executor.submit(self._run, generation_id)
        return True

    def _run(self, generation_id: int) -> None:
        try:
            execute(generation_id)
        except Exception:
            logger.exception("generation %s: runner crashed", generation_id)
        finally:
            self.slots.release()
            connection.close()


_pool: _ThreadPool | None = None
_pool_lock = threading.Lock()


def _get_pool() -> _ThreadPool:
    global _pool
    with _pool_lock:
        if _pool is None or _pool.size != settings.GENERATION_THREADS:
            _pool = _ThreadPool(settings.GENERATION_THREADS)
        return _pool


def dispatch(generation_id: int) -> None:
    """Start the generation now: on a worker thread, or inline when threads are off."""
    if settings.GENERATION_THREADS <= 0:
        execute(generation_id)
        return
    if not _get_pool().submit(generation_id):
        # This process is full: put the job back for any worker with room.

        enqueue_generation(generation_id)


def dispatch_next_for_user(owner_id: int) -> None:
    """Enqueue the user's oldest queued generations that fit under their concurrency cap."""
    running = Generation.objects.filter(owner_id=owner_id, status=Status.RUNNING).count()
    room = effective_limits_by_owner(owner_id).max_running - running
    if room <= 0:
        return
    waiting = Generation.objects.filter(owner_id=owner_id, status=Status.QUEUED).order_by("id")
    for generation_id in waiting.values_list("id", flat=True)[:room]:
        enqueue_generation(generation_id)


# --- Claim ----------------------------------------------------------------------------------


def claim(generation_id: int) -> Generation | None:
    """queued → running, atomically and only under the owner's concurrency cap.

    Returns the generation when this caller owns the run; None when it is gone, not queued
    (a duplicate delivery), or the owner already runs as many as they may (their
    ``max_running``: per user, their groups, else GENERATION_MAX_CONCURRENT).
    """
    owner_id = (
        Generation.objects.filter(pk=generation_id).values_list("owner_id", flat=True).first()
    )
    if owner_id is None:
        logger.warning("generation %s: no such generation, job ignored", generation_id)
        return None
    with transaction.atomic():
        # Serialises claims of one user on PostgreSQL; SQLite's IMMEDIATE transaction already
        # serialises all writers.
        list(get_user_model().objects.select_for_update().filter(pk=owner_id).values("pk"))
        running = Generation.objects.filter(owner_id=owner_id, status=Status.RUNNING).count()
        limits = effective_limits_by_owner(owner_id)
        if running >= limits.max_running:
            return None
        assign = {}
        pending = Generation.objects.filter(pk=generation_id, status=Status.QUEUED).first()
        if pending is not None and not limits.allows(pending.provider, pending.model):
            # Queued before an administrator took the model from the owner's groups.
            provider = get_provider(pending.provider)
            pending.mark_failed(
                refusal(limits.user, provider, pending.model, limits)
                if provider is not None
                else f"Your groups ({', '.join(limits.group_names)}) don't allow it."
            )
            transaction.on_commit(lambda: _failed_at_claim(generation_id, owner_id))
            return None
        if pending is not None and backends.self_hosted(pending.provider) is not None:
            # One claim at a time picks from a pool, so two never take its last slot.
            list(Backend.objects.select_for_update().filter(kind=pending.provider).values("pk"))
            choice = backends.choose(pending)
            if choice.waiting:
                return None  # every capable backend is busy: dispatched again when one frees
            if choice.backend is None:
                pending.mark_failed(choice.reason)
                transaction.on_commit(lambda: _failed_at_claim(generation_id, owner_id))
                return None
            assign = {"backend_id": choice.backend.pk, "progress": None}
        now = timezone.now()
        claimed = Generation.objects.filter(
            pk=generation_id, status=Status.QUEUED, cancel_requested=False
        ).update(
            status=Status.RUNNING,
            started_at=now,
            heartbeat_at=now,
            attempts=F("attempts") + 1,
            updated_at=now,
            **assign,
        )
    if not claimed:
        return None
    return Generation.objects.get(pk=generation_id)


def _failed_at_claim(generation_id: int, owner_id: int) -> None:
    """After a claim failed a generation: its finish, and the owner's next queued ones, which
    waited behind it for a slot it never took (no run ends to dispatch them)."""
    generation_finished(generation_id)
    dispatch_next_for_user(owner_id)


# --- Execute --------------------------------------------------------------------------------


def execute(generation_id: int) -> None:
    """Claim and run one generation to a final state; never raises for a provider problem."""
    generation = claim(generation_id)
    if generation is None:
        return
    started = time.monotonic()
    try:
        _run(generation)
    except LostOwnership:
        logger.info("generation %s: finished elsewhere, result discarded", generation.pk)
    except Exception:
        logger.exception("generation %s: unexpected error", generation.pk)
        generation.mark_failed(
            f"Internal error while generating; the server log has the details "
            f"(generation {generation.pk})."
        )
    finally:
        logger.info(
            "generation %s: %s in %.2f s",
            generation.pk,
            generation.status,
            time.monotonic() - started,
        )
        generation_finished(generation.pk)
        dispatch_next_for_user(generation.owner_id)
        if generation.backend_id is not None:
            backends.dispatch_waiting(generation.provider)  # its backend slot is free again


def _run(generation: Generation) -> None:
    provider = get_provider(generation.provider)
    if provider is None:
        generation.mark_failed(f"The provider {generation.provider!r} is not available.")
        return
    request = GenerationRequest(
        prompt=generation.prompt,
        model=generation.model,
        width=generation.width,
        height=generation.height,
        num_images=generation.num_images,
        negative_prompt=generation.negative_prompt,
        steps=generation.steps,
        cfg_scale=generation.cfg_scale,
        seed=generation.seed,
        params=generation.params,
        operation=generation.operation,
        strength=generation.strength,
        scale=generation.operation_params.get("scale"),
        margins=Margins(**generation.operation_params["margins"])
        if "margins" in generation.operation_params
        else None,
    )
    try:
        request.input_images, request.mask = inputs.load(generation)
    except inputs.InputMissing as exc:
        generation.mark_failed(str(exc))
        return
    timeout = settings.BACKEND_TIMEOUT if provider.self_hosted else settings.GENERATION_TIMEOUT
    ctx = RunContext(deadline=time.monotonic() + timeout)
    ctx.spec = provider.get_model(generation.model)
    if provider.self_hosted:
        backend = Backend.objects.filter(pk=generation.backend_id).first()
        if backend is None:
            generation.mark_failed(f"The {provider.label} backend of this job was removed.")
            return
        ctx.backend = backend.target()
        try:
            provider.prepare(ctx, request)
        except ProviderError as exc:
            generation.mark_failed(str(exc))
            return
    if provider.requires_key:
        key = resolve_api_key(generation.owner, provider.name)
        if key is None:
            generation.mark_failed(missing_key_message(provider.label))
            return
        ctx.api_key = key.value
        Generation.objects.filter(pk=generation.pk).update(key_source=key.source)
        generation.key_source = key.source
        record_key_use(generation.owner, provider.name, key.source)
    started = time.monotonic()
    try:
        result, datas = _call_provider(generation, provider, request, ctx)
        images = [validate_image(data) for data in datas]
        if not images:
            raise ProviderError(f"{provider.label} returned no images.")
        if provider.self_hosted:
            _count_gpu_time(generation, provider, result, ctx, time.monotonic() - started)
        # No second cancel/ownership read here: _call_provider checked both once the
        # provider returned, and _finish's success update is conditional on them (a cancel
        # that lands during validation or storage is handled there, files removed).
        _finish(generation, result, images)
        if provider.requires_key:  # the provider let this key use the model after all
            clear_key_restriction(
                generation.owner, provider.name, generation.key_source, generation.model
            )
    except GenerationCanceled:
        _cancel_remote(provider, ctx)
        generation.mark_canceled()
    except GenerationTimedOut:
        _cancel_remote(provider, ctx)
        _count_busy_time(generation, provider, started)
        generation.mark_failed(f"Timed out after {timeout} s.")
    except BackendUnreachable as exc:
        _cancel_remote(provider, ctx)  # best effort: it may still run there if it only hung
        _backend_lost(generation, exc)
    except KeyRestricted as exc:
        generation.mark_failed(str(exc))
        record_key_restricted(
            generation.owner, provider.name, generation.key_source, str(exc), exc.model
        )
    except ProviderError as exc:
        _count_busy_time(generation, provider, started)
        generation.mark_failed(str(exc))
    except InvalidImage as exc:
        generation.mark_failed(f"{provider.label} returned an unusable image: {exc}.")


def _call_provider(generation, provider, request, ctx: RunContext):
    """Run provider.generate and the downloads of its results on their own thread, and watch
    it: cancel, heartbeat, deadline. Returns the result and the bytes of every image."""
    box: dict = {}

    def call():
        try:
            result = provider.generate(request, ctx)
            datas = []
            for item in result.images:
                ctx.check()
                if item.data is not None:
                    datas.append(item.data)
                elif item.url:
                    datas.append(fetch_image(item.url, ctx))
                else:
                    raise ProviderError(f"{provider.label} returned an empty image.")
            box["result"] = (result, datas)
        except BaseException as exc:  # handed to the watching thread
            box["error"] = exc
        finally:
            connections.close_all()  # in case provider code opened one on this thread

    worker = threading.Thread(target=call, name=f"provider-{generation.pk}", daemon=True)
    worker.start()
    last_cancel_check = last_beat = last_progress = time.monotonic()
    stored_progress = None
    while True:
        worker.join(TICK_SECONDS)
        if not worker.is_alive():
            break
        now = time.monotonic()
        if moved(stored_progress, ctx.progress) and now - last_progress >= PROGRESS_SECONDS:
            last_progress, stored_progress = now, ctx.progress
            _store_progress(generation, stored_progress)
        if now - last_cancel_check >= CANCEL_CHECK_SECONDS:
            last_cancel_check = now
            if _cancel_requested(generation):
                ctx.cancel_event.set()
                raise GenerationCanceled()
        if now - last_beat >= HEARTBEAT_SECONDS:
            last_beat = now
            _heartbeat(generation)
        if now > ctx.deadline + DEADLINE_GRACE_SECONDS:
            ctx.cancel_event.set()  # tells a cooperative provider to stop
            raise GenerationTimedOut()
    if "error" in box:
        raise box["error"]
    if _cancel_requested(generation):
        raise GenerationCanceled()
    return box["result"]


def moved(stored: float | None, now: float | None) -> bool:
    """Whether the progress moved enough to write (a percent: each write takes the database's
    write lock on SQLite, and a bar does not show less)."""
    if now is None or stored is None:
        return now != stored
    return abs(now - stored) >= PROGRESS_STEP


def _store_progress(generation: Generation, progress: float | None) -> None:
    """How far the provider says it is; moves ``updated_at`` so the live feed shows it."""
    Generation.objects.filter(
        pk=generation.pk, status=Status.RUNNING, attempts=generation.attempts
    ).update(progress=progress, updated_at=timezone.now())


def _count_gpu_time(generation, provider, result: ProviderResult, ctx, elapsed: float):
    """GPU-seconds (the backend's own timing where reported, else the run time) and their
    cost at the backend's price: the same spend and budgets as a cloud provider's."""
    seconds = result.gpu_seconds if result.gpu_seconds is not None else round(elapsed, 3)
    generation.gpu_seconds = seconds
    if provider.reports_progress:
        generation.progress = 1.0
    price = ctx.backend.price_per_gpu_second
    result.cost_usd = gpu_cost(price, seconds) if price is not None else Decimal(0)
    result.cost_is_estimate = False


def _count_busy_time(generation: Generation, provider, started: float) -> None:
    """A failed job on the team's GPU kept it busy too: its run time is GPU time (the
    dashboard counts it; only a succeeded job's cost is spend)."""
    if provider.self_hosted:
        generation.gpu_seconds = round(time.monotonic() - started, 3)


def _backend_lost(generation: Generation, exc: BackendUnreachable) -> None:
    """The backend stopped answering: mark it, and run the job once more on another backend
    of the pool when attempts are left (it produced no image), else fail it in words."""
    if exc.backend_id is not None:
        backends.mark_unhealthy(exc.backend_id, str(exc))
    if generation.attempts < settings.GENERATION_MAX_ATTEMPTS:
        requeued = generation.requeue()
        if requeued:
            logger.warning(
                "generation %s: %s; queued again for another backend", generation.pk, exc
            )
            transaction.on_commit(lambda: enqueue_generation(generation.pk))
            return
    generation.mark_failed(f"{exc} It was not run again: it had already been retried.")


def _cancel_requested(generation: Generation) -> bool:
    row = (
        Generation.objects.filter(pk=generation.pk)
        .values("cancel_requested", "status", "attempts")
        .first()
    )
    if row is None or row["status"] != Status.RUNNING or row["attempts"] != generation.attempts:
        if row is not None and row["status"] == Status.CANCELED:
            return True
        raise LostOwnership()
    return row["cancel_requested"]


def _heartbeat(generation: Generation) -> None:
    alive = Generation.objects.filter(
        pk=generation.pk, status=Status.RUNNING, attempts=generation.attempts
    ).update(heartbeat_at=timezone.now())
    if not alive:
        raise LostOwnership()


def _cancel_remote(provider, ctx: RunContext) -> None:
    try:
        provider.cancel(ctx)
    except Exception:
        logger.warning("provider %s: cancel call failed", provider.name, exc_info=True)


def _finish(generation: Generation, result: ProviderResult, images: list[ValidatedImage]):
    """Store every file, then create the rows and mark success in one transaction; on any
    failure or a cancel that lands meanwhile, remove the files this run created."""
    stored: list[StoredFiles] = []
    try:
        for image in images:
            stored.append(store_image_files(image))
            image.decoded = None  # the thumbnail is made: let the pixels go (bench figure 3)
    except OSError as exc:
        discard_unreferenced([name for s in stored for name in s.created])
        reason = "the disk is full" if exc.errno == errno.ENOSPC else "a storage error"
        generation.mark_failed(f"Could not store the image: {reason}.")
        logger.error("generation %s: storing failed: %s", generation.pk, exc)
        return

    generation.provider_request_id = result.request_id[:200]
    generation.provider_metadata = result.metadata
    if result.seed is not None:
        generation.seed = result.seed
    try:
        with transaction.atomic():
            if not generation.mark_succeeded(
                cost_usd=result.cost_usd, cost_is_estimate=result.cost_is_estimate
            ):
                raise LostOwnership()
            Image.objects.bulk_create(
                [
                    stored_image(
                        image,
                        files,
                        generation=generation,
                        owner_id=generation.owner_id,
                        project_id=generation.project_id,
                        index=index,
                        origin=generation.origin,
                        seed=result.images[index].seed,
                        search_prompt=generation.prompt,
                    )
                    for index, (image, files) in enumerate(zip(images, stored, strict=True))
                ]
            )
    except BaseException:
        discard_unreferenced([name for s in stored for name in s.created])
        generation.refresh_from_db(fields=["status", "cancel_requested"])
        if generation.status == Status.RUNNING and generation.cancel_requested:
            generation.mark_canceled()
            return
        raise
