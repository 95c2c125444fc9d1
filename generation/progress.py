"""Where a generation stands: its place in the owner's queue, why it waits, how long it has
taken and an estimate of how long it will still take.

Read by the Generate page's feed cards and by the API (``queue_position``, ``waiting_reason``,
``elapsed_ms``, ``eta_ms``). Computed for a batch of generations with a fixed number of
queries (running counts and queued ids per owner, recent durations per model), never one per
generation.

The estimate is the median of the model's recent successful run times (at least
``MIN_SAMPLES`` of the last ``SAMPLES`` within ``WINDOW``): a running generation has that
median minus what it has already run; a queued one waits for as many rounds of the owner's
running slots (``max_running``: their own, their groups' or GENERATION_MAX_CONCURRENT) as
there are generations ahead of it, then runs.
Unknown (``None``) without enough history, and for finished generations.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from statistics import median

from django.utils import timezone

from generation.models import Generation, Status
from generation.usage.policy import max_running_by_owner
from imagegen.providers import get_provider

SAMPLES = 20
MIN_SAMPLES = 3
# A reported progress below this says too little of the pace for an estimate.
MIN_PROGRESS = 0.05
WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class Progress:
    queue_position: int | None  # 1 = next of the owner's queued generations to start
    waiting_reason: str | None  # why a queued generation has not started; None otherwise
    elapsed_ms: int | None  # since it was submitted (until it finished, once finished)
    eta_ms: int | None  # estimated time until it finishes; None when unknown or finished


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _self_hosted(name: str) -> bool:
    """Jobs of the team's own GPUs wait for a free backend slot (generation/backends.py)."""
    provider = get_provider(name)
    return bool(provider and provider.self_hosted)


def _millis(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds() * 1000))


def _typical_run_ms(pairs) -> dict[tuple[str, str], int]:
    """The median successful run time of each (provider, model), where there is enough history."""
    since = timezone.now() - WINDOW
    typical = {}
    for provider, model in pairs:
        rows = (
            Generation.objects.filter(
                provider=provider,
                model=model,
                status=Status.SUCCEEDED,
                created_at__gte=since,
                started_at__isnull=False,
                finished_at__isnull=False,
            )
            .order_by("-id")
            .values_list("started_at", "finished_at")[:SAMPLES]
        )
        runs = [_millis(finished - started) for started, finished in rows]
        if len(runs) >= MIN_SAMPLES:
            typical[(provider, model)] = int(median(runs))
    return typical


def progress_for(generations) -> dict[int, Progress]:
    """Progress of each generation, by id."""
    generations = list(generations)
    now = timezone.now()
    pending = [g for g in generations if not g.is_finished]
    owners = {g.owner_id for g in pending}
    # Each owner's own cap (their groups may allow more or fewer than the setting).
    caps = max_running_by_owner(owners) if owners else {}
    running = defaultdict(int)
    queued_ids = defaultdict(list)
    if owners:
        rows = (
            Generation.objects.filter(
                owner_id__in=owners, status__in=(Status.QUEUED, Status.RUNNING)
            )
            .order_by("id")
            .values_list("id", "owner_id", "status")
        )
        for pk, owner_id, status in rows:
            if status == Status.RUNNING:
                running[owner_id] += 1
            else:
                queued_ids[owner_id].append(pk)
    typical = _typical_run_ms({(g.provider, g.model) for g in pending})

    result = {}
    for g in generations:
        if g.is_finished:
            elapsed = _millis(g.finished_at - g.created_at) if g.finished_at else None
            result[g.pk] = Progress(None, None, elapsed, None)
            continue
        elapsed = _millis(now - g.created_at)
        run_ms = typical.get((g.provider, g.model))
        if g.status == Status.RUNNING:
            eta = None
            ran = _millis(now - g.started_at) if g.started_at else None
            if g.progress is not None and g.progress >= MIN_PROGRESS and ran is not None:
                # The backend reports steps: what is left at the pace so far.
                eta = int(ran * (1 - g.progress) / g.progress)
            elif run_ms is not None and ran is not None:
                eta = max(0, run_ms - ran)
            result[g.pk] = Progress(None, None, elapsed, eta)
            continue
        queue = queued_ids[g.owner_id]
        position = queue.index(g.pk) + 1 if g.pk in queue else None
        busy = running[g.owner_id]
        slots = caps[g.owner_id]
        if g.cancel_requested:
            reason = "cancelling"
        elif busy >= slots:
            reason = f"waiting: {busy} of {slots} of your generations running"
            if position and position > 1:
                reason += f"; {ordinal(position)} in your queue"
        elif position and position > slots - busy:
            reason = f"queued: {ordinal(position)} in your queue"
        elif _self_hosted(g.provider):
            reason = "queued: waiting for a free GPU"
        else:
            reason = "queued: waiting for a free worker"
        eta = None
        if run_ms is not None and position is not None:
            # Rounds of the owner's free slots before this one starts, then its own run.
            free_now = max(0, slots - busy)
            rounds = 0 if position <= free_now else 1 + (position - free_now - 1) // slots
            eta = run_ms * (rounds + 1)
        result[g.pk] = Progress(position, reason, elapsed, eta)
    return result
