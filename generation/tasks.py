"""django-q2 task entry points. Tasks take ids only: never secrets, never objects."""

import logging

from django.conf import settings
from django.core.exceptions import ValidationError
from django_q.models import Schedule

from generation import backends, recovery, runner
from imagegen.core import audit
from imagegen.providers import all_providers, catalog_refresh
from settings_app.keys import site_key

logger = logging.getLogger(__name__)


def run_generation(generation_id: int) -> None:
    """Start one generation (idempotent: a duplicate delivery does nothing)."""
    runner.dispatch(generation_id)


def recover_generations() -> dict[str, int]:
    """Periodic sweep: see generation/recovery.py."""
    return recovery.recover_stale_generations()


def catalog_keys(given: dict[str, str | None] | None = None) -> dict[str, str | None]:
    """The key each provider lists its models with: the one given (the command's
    ``--<provider>-key``), else the team key an admin stored (settings_app), else the
    provider's environment variable (OPENAI_API_KEY, …). Never logged."""
    given = given or {}
    return {
        provider.name: given.get(provider.name) or site_key(provider.name)
        for provider in all_providers()
    }


def refresh_catalog(given_keys: dict[str, str | None] | None = None) -> list[str]:
    """Refresh the model catalog from the providers' listings (the command, the admin action
    and the daily schedule all run this); report lines in words, also logged."""
    lines = catalog_refresh.refresh_catalog(catalog_keys(given_keys))
    logger.info("catalog refresh finished: %s", " | ".join(lines))
    return lines


def check_backends() -> dict[str, int]:
    """Minute health check of the self-hosted GPU backends (generation/backends.py)."""
    return backends.check_backends()


BACKENDS_SCHEDULE = "check-gpu-backends"
BACKENDS_FUNC = "generation.tasks.check_backends"


def purge_audit_entries() -> int:
    """Daily: delete the audit entries older than AUDIT_RETENTION_DAYS (migration 0015
    schedules it; the purge itself is imagegen.core.audit's)."""
    return audit.purge_expired_entries()


PURGE_FUNC = "generation.tasks.purge_audit_entries"


def sync_backend_schedule() -> None:
    """The minute health check of GPU backends exists (run after every ``migrate``)."""
    Schedule.objects.update_or_create(
        name=BACKENDS_SCHEDULE,
        defaults={
            "func": BACKENDS_FUNC,
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


REFRESH_SCHEDULE = "refresh-model-catalog"
REFRESH_FUNC = "generation.tasks.refresh_catalog"


def sync_refresh_schedule() -> bool:
    """Create the daily catalog refresh schedule when CATALOG_REFRESH_DAILY is on, remove it
    when off (an admin's own schedule of it under another name is left alone). True when the
    schedule exists afterwards. Run after every ``migrate`` (generation/signals.py)."""
    if settings.CATALOG_REFRESH_DAILY:
        Schedule.objects.update_or_create(
            name=REFRESH_SCHEDULE,
            defaults={"func": REFRESH_FUNC, "schedule_type": Schedule.DAILY, "repeats": -1},
        )
        return True
    Schedule.objects.filter(name=REFRESH_SCHEDULE).delete()
    return False


# The only functions the job queue may run for this project: what services.enqueue_generation
# queues, what migration 0002 schedules, the daily catalog refresh (CATALOG_REFRESH_DAILY) and
# the minute health check of GPU backends, and the audit trail's daily retention purge
# (migration 0015).
# The schedule admin and a pre_save receiver (generation/signals.py) refuse a schedule naming
# anything else, so a staff member or a fixture cannot make the worker run arbitrary code
# (docs/security.md).
TASK_FUNCS = frozenset(
    {
        "generation.tasks.run_generation",
        "generation.tasks.recover_generations",
        REFRESH_FUNC,
        BACKENDS_FUNC,
        PURGE_FUNC,
    }
)


def check_schedule(func: str, hook: str | None = None, kwargs: str | None = None) -> None:
    """Raise ValidationError unless a schedule runs one of TASK_FUNCS and nothing else: no
    result hook, and no keyword arguments (django-q2 reads options such as ``hook`` and
    ``chain`` from them, each a way to name another function; ours take none)."""
    errors = {}
    if (func or "").strip() not in TASK_FUNCS:
        errors["func"] = f"Only these functions may be scheduled: {', '.join(sorted(TASK_FUNCS))}."
    if (hook or "").strip():
        errors["hook"] = "Schedules of this site take no hook."
    if (kwargs or "").strip():
        errors["kwargs"] = "Schedules of this site take no keyword arguments."
    if errors:
        raise ValidationError(errors)
