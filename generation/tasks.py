"""django-q2 task entry points. Tasks take ids only: never secrets, never objects."""

import logging

from django.core.exceptions import ValidationError

from generation import recovery, runner

logger = logging.getLogger(__name__)


def run_generation(generation_id: int) -> None:
    """Start one generation (idempotent: a duplicate delivery does nothing)."""
    runner.dispatch(generation_id)


def recover_generations() -> dict[str, int]:
    """Periodic sweep: see generation/recovery.py."""
    return recovery.recover_stale_generations()


# The only functions the job queue may run for this project: what services.enqueue_generation
# queues and what migration 0002 schedules. The schedule admin and a pre_save receiver
# (generation/signals.py) refuse a schedule naming anything else, so a staff member or a
# fixture cannot make the worker run arbitrary code (docs/security.md).
TASK_FUNCS = frozenset(
    {
        "generation.tasks.run_generation",
        "generation.tasks.recover_generations",
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
