"""A keyed provider registered by tests: it checks the key it is given, like a cloud one."""

from imagegen import providers
from imagegen.providers.base import (
    GeneratedImage,
    KeyCheck,
    KeyRestricted,
    KeyStatus,
    ModelSpec,
    Provider,
    ProviderError,
    ProviderResult,
)
from imagegen.providers.offline import render

GOOD_KEY = "sk-good-0123456789abcdef"


class KeyedProvider(Provider):
    """Accepts only ``accepted`` keys; on a wrong key it fails in words (never echoing it)."""

    name = "keyed"
    label = "Keyed Test Cloud"
    requires_key = True

    def __init__(self):
        self.accepted = {GOOD_KEY}
        self.seen_keys: list[str | None] = []
        self.check_error: Exception | None = None
        self.echo_key_in_check = False
        self.check_answer: KeyCheck | None = None  # what check_key says instead, when set

    def models(self):
        return [ModelSpec(id="keyed-1", label="Keyed model")]

    def generate(self, request, ctx):
        self.seen_keys.append(ctx.api_key)
        if ctx.api_key not in self.accepted:
            raise ProviderError("Keyed Test Cloud refused the API key (401 Unauthorized).")
        if request.prompt.startswith("verify"):
            raise KeyRestricted(
                "Keyed Test Cloud accepted the key but will not let it use keyed-1: "
                "the organisation must be verified.",
                model=request.model,
            )
        if request.prompt.startswith("fail"):
            raise ProviderError("Keyed Test Cloud could not draw that prompt.")
        return ProviderResult(images=[GeneratedImage(data=render(request.prompt, 1, 64, 64))])

    def check_key(self, api_key):
        if self.check_error is not None:
            raise self.check_error
        if self.check_answer is not None:
            return self.check_answer
        if api_key in self.accepted:
            return KeyCheck(KeyStatus.VALID, "The key works: Keyed Test Cloud answered.")
        if self.echo_key_in_check:  # a careless provider message that repeats the key
            return KeyCheck(KeyStatus.INVALID, f"Key {api_key} was refused.")
        return KeyCheck(KeyStatus.INVALID, "Keyed Test Cloud refused the key (401 Unauthorized).")


def install_keyed() -> KeyedProvider:
    provider = KeyedProvider()
    providers.register(provider)
    return provider


def uninstall_keyed() -> None:
    providers._REGISTRY.pop(KeyedProvider.name, None)
