"""Fixtures of the generation tests: a priced provider. (A teammate's project is the root
conftest's ``shared_project``, on which ``member`` is an editor.)"""

import pytest

from imagegen import providers
from tests.generation.prompt_helpers import PricedProvider


@pytest.fixture
def priced():
    """PricedProvider ($0.04 an image), registered for this test only."""
    provider = providers.register(PricedProvider())
    yield provider
    providers._REGISTRY.pop(PricedProvider.name, None)
