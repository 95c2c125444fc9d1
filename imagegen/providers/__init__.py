"""The provider registry: every provider the server offers, by name."""

from imagegen.providers.base import Provider
from imagegen.providers.fal import FalProvider
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.openai import OpenAIProvider
from imagegen.providers.openrouter import OpenRouterProvider
from imagegen.providers.replicate import ReplicateProvider

_REGISTRY: dict[str, Provider] = {}


def register(provider: Provider) -> Provider:
    """Add a provider instance under its name (later ones replace earlier ones)."""
    _REGISTRY[provider.name] = provider
    return provider


def get_provider(name: str) -> Provider | None:
    return _REGISTRY.get(name)


def all_providers() -> list[Provider]:
    return list(_REGISTRY.values())


DEFAULT_PROVIDER = "offline"

for _provider in (
    OfflineProvider(),
    OpenAIProvider(),
    OpenRouterProvider(),
    ReplicateProvider(),
    FalProvider(),
):
    register(_provider)
