"""The provider registry: every provider the server offers, by name."""

from imagegen.providers.a1111 import A1111Provider
from imagegen.providers.backends import configured_kinds
from imagegen.providers.base import Provider
from imagegen.providers.comfyui import ComfyUIProvider
from imagegen.providers.fal import FalProvider
from imagegen.providers.offline import OfflineProvider
from imagegen.providers.openai import OpenAIProvider
from imagegen.providers.openai_compatible import OpenAICompatibleProvider
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
    """Every provider with something to offer here: the self-hosted ones only once an admin
    (or the environment) configured a backend they can use."""
    providers = list(_REGISTRY.values())
    if not any(p.self_hosted for p in providers):
        return providers
    configured = configured_kinds()
    return [p for p in providers if not p.self_hosted or p.name in configured]


DEFAULT_PROVIDER = "offline"

for _provider in (
    OfflineProvider(),
    OpenAIProvider(),
    OpenRouterProvider(),
    ReplicateProvider(),
    FalProvider(),
    ComfyUIProvider(),
    A1111Provider(),
    OpenAICompatibleProvider(),
):
    register(_provider)
