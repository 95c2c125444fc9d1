"""Hooks into django-q2 (recover stale generations when a worker process starts) and into
settings_app (a deactivated user's generations are cancelled)."""

import logging

from django.db import close_old_connections
from django.dispatch import receiver
from django_q.conf import Conf
from django_q.signals import post_spawn

from generation.models import Generation, Status
from generation.recovery import recover_stale_generations
from generation.services import GenerationConflict, cancel_generation
from imagegen.providers.catalog import sync_builtin_catalog

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_on_worker_start(sender, proc_name, **kwargs):
    # In sync mode (tests) django-q2 "spawns" a worker for every task: no real start-up.
    if Conf.SYNC:
        return

    try:
        counts = recover_stale_generations()
        if any(counts.values()):
            logger.warning("recovered generations at worker start: %s", counts)
    except Exception:
        logger.exception("recovery sweep at worker start failed")
    finally:
        close_old_connections()


def sync_catalog_after_migrate(sender, apps=None, **kwargs):
    """Load or refresh the built-in model catalog once the tables exist."""
    if apps is not None:
        try:
            apps.get_model("generation", "CatalogModel")
        except LookupError:  # migrating backwards past the catalog: no table to fill
            return
    sync_builtin_catalog()


def cancel_generations_of_deactivated_user(sender, user, **kwargs):
    """settings_app.signals.user_deactivated: cancel the user's queued generations and ask
    their running ones to stop."""
    pending = Generation.objects.filter(owner=user, status__in=(Status.QUEUED, Status.RUNNING))
    for generation in pending:
        try:
            cancel_generation(generation)
        except GenerationConflict:  # finished meanwhile
            continue
