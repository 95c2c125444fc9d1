"""Helpers for prompt-tools tests: a provider with prices (the ``priced`` fixture registers it)."""

from decimal import Decimal

from imagegen.providers.base import ModelSpec
from tests.generation.helpers import ScriptedProvider


class PricedProvider(ScriptedProvider):
    """A scripted provider that estimates $0.04 per image."""

    name = "priced"
    label = "Priced"

    def models(self):
        return [ModelSpec(id="priced-1", label="Priced", negative_prompt=False)]

    def estimate_cost(self, request):
        return Decimal("0.04") * request.num_images
