"""Helpers for generation tests: a queued generation, and providers that misbehave."""

import time
from decimal import Decimal

from generation.models import Generation
from imagegen import providers
from imagegen.providers.base import (
    GeneratedImage,
    ModelSpec,
    Provider,
    ProviderError,
    ProviderResult,
)


def make_generation(owner, **fields) -> Generation:
    """A queued generation row, created without enqueueing it."""
    values = {
        "provider": "offline",
        "model": "offline-shapes",
        "prompt": "a test",
        "width": 64,
        "height": 64,
        "num_images": 1,
        "seed": 1,
        "steps": 20,
        "cfg_scale": 7.5,
    }
    values.update(fields)
    return Generation.objects.create(owner=owner, **values)


class ScriptedProvider(Provider):
    """A provider whose behaviour a test chooses: return these bytes, raise, or hang."""

    name = "scripted"
    label = "Scripted"
    requires_key = False

    def __init__(self):
        self.payloads: list[bytes] = []
        self.error: Exception | None = None
        self.hang_seconds = 0.0
        self.canceled = False

    def models(self):
        return [ModelSpec(id="scripted-1", label="Scripted")]

    def generate(self, request, ctx):
        if self.hang_seconds:
            time.sleep(self.hang_seconds)  # ignores ctx on purpose: an uncooperative provider
        if self.error:
            raise self.error
        return ProviderResult(
            images=[GeneratedImage(data=p, seed=request.seed) for p in self.payloads],
            request_id="scripted-req",
            cost_usd=Decimal("0.01"),
            cost_is_estimate=False,
        )

    def cancel(self, ctx):
        self.canceled = True


def install_scripted() -> ScriptedProvider:
    provider = ScriptedProvider()
    providers.register(provider)
    return provider


def uninstall_scripted() -> None:
    providers._REGISTRY.pop(ScriptedProvider.name, None)


__all__ = ["ProviderError", "make_generation", "install_scripted", "uninstall_scripted"]
