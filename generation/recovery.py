"""Recovery of generations whose worker died: none may stay ``running`` forever.

Runs at worker start (django-q2's post_spawn signal), every minute (a django-q2 schedule), and
from ``manage.py recover_generations``.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from generation.finish_hooks import generation_finished
from generation.models import Generation, Status
from generation.runner import dispatch_next_for_user

logger = logging.getLogger(__name__)


def stale_before(now=None):
    """Heartbeats older than this belong to a dead worker."""
    now = now or timezone.now()
    return now - timedelta(seconds=settings.GENERATION_TIMEOUT + settings.GENERATION_STALE_GRACE)


def recover_stale_generations(now=None) -> dict[str, int]:
    """Re-queue (once) or fail stale running generations, then start waiting ones that fit.

    Returns counts: requeued, failed, canceled.
    """
    threshold = stale_before(now)
    stale = Generation.objects.filter(status=Status.RUNNING).filter(
        Q(heartbeat_at__lt=threshold) | Q(heartbeat_at__isnull=True, started_at__lt=threshold)
    )
    return _recover(stale)


def recover_after_shutdown() -> dict[str, int]:
    """Recover every running generation at once, heartbeat or not: for a caller that knows
    no worker is left (desktop.py, once the only worker of its data folder has exited), so a
    generation in flight when the window closed is queued again rather than left running.
    The re-queued ones start with the next worker."""
    return _recover(Generation.objects.filter(status=Status.RUNNING))


def _recover(stale) -> dict[str, int]:
    counts = {"requeued": 0, "failed": 0, "canceled": 0}
    for generation in stale.iterator():
        if generation.cancel_requested:
            if generation.mark_canceled():
                counts["canceled"] += 1
                generation_finished(generation.pk)
        elif generation.attempts < settings.GENERATION_MAX_ATTEMPTS:
            requeued = generation.requeue()
            if requeued:
                counts["requeued"] += 1
                logger.warning("generation %s: worker stopped; re-queued", generation.pk)
        elif generation.mark_failed(
            "The worker running this generation stopped, and it had already been retried. "
            "Please try again."
        ):
            counts["failed"] += 1
            generation_finished(generation.pk)
            logger.warning("generation %s: worker stopped; failed", generation.pk)

    owners = (
        Generation.objects.filter(status=Status.QUEUED)
        .values_list("owner_id", flat=True)
        .distinct()
    )
    for owner_id in list(owners):
        dispatch_next_for_user(owner_id)
    return counts
