"""Fixtures of the dashboard tests: a provider that prices its images before they run."""

from decimal import Decimal

import pytest

from imagegen import providers
from tests.generation.helpers import ScriptedProvider


class PricedProvider(ScriptedProvider):
    """Estimates $0.40 an image before it runs."""

    name = "priced"
    label = "Priced"

    def estimate_cost(self, request):
        return Decimal("0.40") * request.num_images


@pytest.fixture
def priced():
    """PricedProvider, registered for this test only (test_budgets and test_pages use it on
    every test)."""
    provider = PricedProvider()
    providers.register(provider)
    yield provider
    providers._REGISTRY.pop(PricedProvider.name, None)
