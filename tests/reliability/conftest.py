"""Fixtures of the reliability tests: a Replicate fake with extra hostile routes."""

import pytest

from tests.providers.helpers import KEYS
from tests.reliability.hostile_fake import HostileReplicate


@pytest.fixture
def hostile(settings, monkeypatch):
    """A running HostileReplicate that the replicate provider talks to, with a good key."""
    with HostileReplicate() as fake:
        settings.REPLICATE_BASE_URL = fake.base_url
        variable, value = KEYS["replicate"]
        monkeypatch.setenv(variable, value)
        yield fake
