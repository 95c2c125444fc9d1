"""The provider registry: every provider the server offers, by name."""

from generation.providers.base import Provider
from generation.providers.offline import OfflineProvider

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

register(OfflineProvider())


def _register_cloud():
    from generation.providers.fal import FalProvider
    from generation.providers.openai import OpenAIProvider
    from generation.providers.openrouter import OpenRouterProvider
    from generation.providers.replicate import ReplicateProvider

    for provider in (OpenAIProvider(), OpenRouterProvider(), ReplicateProvider(), FalProvider()):
        register(provider)


_register_cloud()
