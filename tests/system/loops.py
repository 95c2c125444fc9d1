"""Running a coroutine from a test, whatever ran before it in the same process."""

import asyncio
from concurrent.futures import ThreadPoolExecutor


def run(coroutine, timeout=30):
    """``asyncio.run`` in a thread of its own: a browser test earlier in this process leaves
    Playwright's event loop running in the main thread, where ``asyncio.run`` refuses to
    start."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result(timeout=timeout)
