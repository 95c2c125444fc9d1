"""What happens once a generation reaches a final state, wherever that happened (the runner,
a cancel, the recovery sweep): today, adding it to the usage ledger's daily rollup."""

import logging

from generation.usage.rollup import record_generation_finished

logger = logging.getLogger(__name__)


def generation_finished(generation_id: int) -> None:
    """Record a finished generation in the rollup (idempotent; never raises)."""
    try:
        record_generation_finished(generation_id)
    except Exception:
        logger.exception("generation %s: could not add it to the dashboard rollup", generation_id)
