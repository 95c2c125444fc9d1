"""OFFLINE_PROVIDER_DELAY_MS is the offline provider's whole time: it draws first and waits
out only the rest, as a remote job would (many delayed generations then do not all draw at
the same moment when their delays end: bench figure 3)."""

import time

from imagegen.providers.base import GenerationRequest, RunContext
from imagegen.providers.offline import OfflineProvider


class RecordingContext(RunContext):
    """A RunContext that records its waits instead of waiting."""

    def __init__(self):
        super().__init__(deadline=time.monotonic() + 60)
        self.waits = []

    def sleep(self, seconds):
        self.waits.append(seconds)


def _request():
    return GenerationRequest(
        prompt="a lighthouse", model="offline-shapes", width=64, height=64, num_images=2, seed=7
    )


def test_delay_waits_only_what_drawing_left_of_it(settings):
    settings.OFFLINE_PROVIDER_DELAY_MS = 60_000
    ctx = RecordingContext()
    result = OfflineProvider().generate(_request(), ctx)
    assert len(result.images) == 2
    # One wait, after both images were drawn, for the delay minus the drawing time.
    assert len(ctx.waits) == 1
    assert 0 < ctx.waits[0] < 60


def test_no_delay_means_no_wait(settings):
    settings.OFFLINE_PROVIDER_DELAY_MS = 0
    ctx = RecordingContext()
    OfflineProvider().generate(_request(), ctx)
    assert ctx.waits == []
