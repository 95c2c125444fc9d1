"""Hooks into django-q2 (recover stale generations when a worker process starts; refuse a
schedule that would run anything but our own task functions; keep the daily catalog refresh
schedule in line with its setting after every migrate) and into settings_app (a deactivated
user's generations are cancelled). The audit trail's hooks on budgets, the model catalog and
GPU backends (``track_audited_models``)."""

import logging

from django.db import close_old_connections
from django.db.models.signals import post_migrate, pre_save
from django.dispatch import receiver
from django_q.conf import Conf
from django_q.models import Schedule
from django_q.signals import post_spawn

from generation.backends import sync_environment_backends
from generation.models import Generation, Status
from generation.recovery import recover_stale_generations
from generation.services import GenerationConflict, cancel_generation
from generation.tasks import check_schedule, sync_backend_schedule, sync_refresh_schedule
from generation.usage.models import TeamBudget, UserBudget
from imagegen.core import audit
from imagegen.providers.backends import Backend
from imagegen.providers.catalog import sync_builtin_catalog
from imagegen.providers.models import CatalogModel

logger = logging.getLogger(__name__)


@receiver(post_spawn)
def recover_on_worker_start(sender, proc_name, **kwargs):
    # In sync mode (tests) django-q2 "spawns" a worker for every task: no real start-up.
    if Conf.SYNC:
        return
    audit.set_process_client("worker")  # audit entries written here name the worker

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


@receiver(pre_save, sender=Schedule, dispatch_uid="generation.refuse_unknown_schedule")
def refuse_unknown_schedule(sender, instance, raw=False, **kwargs):
    """Every way a schedule is saved (the admin, code, ``loaddata``) runs only our own task
    functions: see generation.tasks.check_schedule."""
    check_schedule(instance.func, instance.hook, instance.kwargs)


@receiver(post_migrate, dispatch_uid="generation.sync_refresh_schedule")
def sync_refresh_schedule_after_migrate(sender, app_config=None, apps=None, **kwargs):
    """After ``migrate`` (every start runs it) the daily catalog refresh schedule follows
    CATALOG_REFRESH_DAILY (generation.tasks.sync_refresh_schedule)."""
    if getattr(app_config, "label", None) != "generation":
        return
    if apps is not None:
        try:
            apps.get_model("django_q", "Schedule")
        except LookupError:  # migrating django_q backwards: no table
            return
    sync_refresh_schedule()
    sync_backend_schedule()
    try:
        apps.get_model("generation", "Backend") if apps is not None else None
    except LookupError:  # migrating backwards past the backends
        return
    sync_environment_backends()


def cancel_generations_of_deactivated_user(sender, user, **kwargs):
    """settings_app.signals.user_deactivated: cancel the user's queued generations and ask
    their running ones to stop."""
    pending = Generation.objects.filter(owner=user, status__in=(Status.QUEUED, Status.RUNNING))
    for generation in pending:
        try:
            cancel_generation(generation)
        except GenerationConflict:  # finished meanwhile
            continue


# What the audit trail records before/after of (never a secret: a backend's is not listed,
# and its base URL loses its user, password and query string).
BUDGET_FIELDS = (
    "monthly_budget_usd",
    "daily_image_limit",
    "unlimited",
    "max_running",
    "max_queued",
)
CATALOG_FIELDS = (
    "display_name",
    "enabled",
    "sort_order",
    "spec",
    "price_unit",
    "price_usd",
    "price_override_usd",
    "available",
    "deprecated",
    "shutdown_date",
)
BACKEND_FIELDS = (
    "kind",
    "name",
    "base_url",
    "auth",
    "username",
    "enabled",
    "max_concurrent",
    "price_per_gpu_second",
    "typical_seconds",
    "offered_models",
    "edits",
)


def track_audited_models() -> None:
    """Budgets (through the admin or anything else that saves them), the catalog and the
    backends: an audit entry with before/after whenever a listed field changes. Rows a
    start-up sync creates (the built-in catalog, environment backends) are not recorded; a
    person's are."""
    audit.track_model(UserBudget, BUDGET_FIELDS, "budget.changed")
    audit.track_model(TeamBudget, ("monthly_budget_usd",), "budget.changed")
    audit.track_model(CatalogModel, CATALOG_FIELDS, "catalog.changed")
    # A base URL may carry credentials (http://user:pass@host, ?api_key=…): never stored.
    audit.track_model(
        Backend, BACKEND_FIELDS, "backend.changed", cleaners={"base_url": audit.redact_url}
    )
