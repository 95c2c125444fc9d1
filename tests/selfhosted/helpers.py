"""Helpers of the self-hosted backend tests: backend rows pointed at a fake, running a
generation inline or on a thread, waiting for a condition."""

import threading
import time
from decimal import Decimal

from generation import backends, runner
from generation.models import Generation
from imagegen.providers.backends import Backend


def add_backend(kind, fake, name=None, check=True, **fields) -> Backend:
    """A backend row for the fake (checked at once, as the admin's save does)."""
    backend = Backend.objects.create(
        kind=kind,
        name=name or f"{kind}-{Backend.objects.count() + 1}",
        base_url=fake.base_url,
        **fields,
    )
    if check:
        assert backends.check_backend(backend), backend.last_error
    return backend


def priced(price="0.001"):
    return {"price_per_gpu_second": Decimal(price)}


def wait_for(predicate, timeout=15.0, step=0.02):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(step)
    return False


def run_in_thread(generation_id) -> threading.Thread:
    thread = threading.Thread(target=runner.execute, args=(generation_id,), daemon=True)
    thread.start()
    return thread


def status_of(generation_id) -> str:
    return Generation.objects.values_list("status", flat=True).get(pk=generation_id)


def queued_job(owner, provider="comfyui", model="sdxl-base", **fields) -> Generation:
    """A queued generation row for a self-hosted model, not enqueued."""
    values = {"prompt": "x", "width": 512, "height": 512, **fields}
    return Generation.objects.create(owner=owner, provider=provider, model=model, **values)
