"""django-q2 task entry points. Tasks take ids only: never secrets, never objects."""

import logging

from generation import recovery, runner

logger = logging.getLogger(__name__)


def run_generation(generation_id: int) -> None:
    """Start one generation (idempotent: a duplicate delivery does nothing)."""
    runner.dispatch(generation_id)


def recover_generations() -> dict[str, int]:
    """Periodic sweep: see generation/recovery.py."""
    return recovery.recover_stale_generations()
