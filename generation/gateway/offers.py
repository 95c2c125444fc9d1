"""Which models a user may name in a /v1 request, and what a name stands for.

A model is offered to a user when its provider is one they can run (it needs no key, or they
have one to use: their own or, with the permission, the team's) and the provider offers it to
them (a team GPU may serve some groups only) and their groups' policies allow it
(``generation.usage.policy``: a model they refuse is never listed, and naming it is a 400
that says why). The names: the admin's aliases first (an alias
wins over a catalog model of the same name, so ``gpt-image-1`` can stand for anything), then
the catalog ids, and ``provider:model`` where two providers offer the same id.
"""

from dataclasses import dataclass

from django.core.exceptions import ValidationError

from generation.gateway.errors import invalid, model_not_found
from generation.models import DEFAULT_ALIAS, ModelAlias
from generation.usage.policy import Limits, effective_limits, offered_models, refusal
from generation.validation import resolve_model
from imagegen.providers import all_providers
from imagegen.providers.base import ModelSpec, Provider
from settings_app.keys import has_usable_key

# Unix time of the listing's ``created`` for models the catalog has no date for.
EPOCH = 0


@dataclass(frozen=True)
class Offer:
    """One name a client may send, and the provider model it stands for."""

    name: str
    provider: Provider
    spec: ModelSpec

    @property
    def listing(self) -> dict:
        return {
            "id": self.name,
            "object": "model",
            "created": EPOCH,
            "owned_by": self.provider.name,
        }


# What the gateway serves: a model that does neither (an upscaler, a background remover)
# is not offered.
GATEWAY_OPERATIONS = ("generate", "edit", "inpaint")


def _catalog(user) -> list[tuple[Provider, ModelSpec]]:
    limits = effective_limits(user)
    return [
        (provider, spec)
        for provider in all_providers()
        if has_usable_key(user, provider)
        for spec in offered_models(user, provider, limits)
        if any(spec.does(operation) for operation in GATEWAY_OPERATIONS)
    ]


def offers(user) -> list[Offer]:
    """Every name the user may send as ``model``: usable aliases, then catalog ids (the first
    provider's where several offer one id, and ``provider:id`` for each of them)."""
    catalog = _catalog(user)
    by_key = {(provider.name, spec.id): (provider, spec) for provider, spec in catalog}
    listed: dict[str, Offer] = {}
    aliases = list(ModelAlias.objects.all())
    taken = {alias.name for alias in aliases}  # an alias owns its name, usable or not
    for alias in aliases:
        target = by_key.get((alias.provider, alias.model))
        if target is not None:
            listed[alias.name] = Offer(alias.name, *target)
    counts: dict[str, int] = {}
    for _provider, spec in catalog:
        counts[spec.id] = counts.get(spec.id, 0) + 1
    for provider, spec in catalog:
        if spec.id not in taken:
            listed.setdefault(spec.id, Offer(spec.id, provider, spec))
        name = f"{provider.name}:{spec.id}"
        if counts[spec.id] > 1 and name not in taken:
            listed.setdefault(name, Offer(name, provider, spec))
    return list(listed.values())


def find(user, name: str, *, explain: bool = True) -> Offer:
    """The model ``name`` stands for, for this user; the 404 model_not_found otherwise, or
    (``explain``: a request that would use it) a 400 saying why when their groups do not
    allow it. What ``offers(user)`` lists under
    ``name``, asking only the providers that could have it (a request names one model:
    listing them all would cost a key lookup per provider on every request);
    ``provider:id`` is also taken for an id only one provider offers."""
    providers = {provider.name: provider for provider in all_providers()}
    limits = effective_limits(user)
    refused: list[str] = []
    alias = ModelAlias.objects.filter(name=name).first()
    if alias is not None:
        offer = _offered(user, providers.get(alias.provider), alias.model, name, limits, refused)
    else:
        provider_name, _, model_id = name.partition(":")
        offer = None
        if model_id:  # "provider:model", for an id several providers offer
            offer = _offered(user, providers.get(provider_name), model_id, name, limits, refused)
        for provider in providers.values() if offer is None else ():
            offer = _offered(user, provider, name, name, limits, refused)
            if offer is not None:
                break
    if offer is None:
        if refused and explain:
            raise invalid(refused[0], param="model", code="model_not_allowed")
        raise model_not_found(name)
    return offer


def _offered(
    user, provider: Provider | None, model_id: str, name: str, limits: Limits, refused: list
) -> Offer | None:
    """The offer of the provider's model under ``name``, or None; a model the user's
    groups refuse adds the reason to ``refused``."""
    if provider is None:
        return None
    spec = next((m for m in provider.models_for(user) if m.id == model_id), None)
    if spec is None or not any(spec.does(op) for op in GATEWAY_OPERATIONS):
        return None
    reason = refusal(user, provider, model_id, limits)
    if reason:
        refused.append(reason)
        return None
    if not has_usable_key(user, provider):
        return None
    return Offer(name, provider, spec)


def resolve(user, name: str | None, operation: str) -> Offer:
    """The model a request names (or, unnamed: the ``team-default`` alias, else the user's
    own default), checked to do ``operation``."""
    if name:
        offer = find(user, name)
    elif ModelAlias.objects.filter(name=DEFAULT_ALIAS).exists():
        offer = find(user, DEFAULT_ALIAS)
    else:
        offer = _user_default(user, operation)
    if not offer.spec.does(operation):
        able = [o.name for o in offers(user) if o.spec.does(operation)]
        raise invalid(
            f"The model '{offer.name}' does not do {_WORDS.get(operation, operation)}; "
            f"models that do: {', '.join(able) or 'none'}.",
            "model",
        )
    return offer


_WORDS = {"generate": "image generation", "edit": "image edits", "inpaint": "masked edits"}


def _user_default(user, operation: str) -> Offer:
    """The user's preferred provider and model (their Generate page default) when they may
    use it, else the first offer that does the operation."""
    try:
        provider, spec = resolve_model(user, {"operation": operation})
    except ValidationError:
        provider = None
    if provider is not None and has_usable_key(user, provider):
        return Offer(spec.id, provider, spec)
    able = [o for o in offers(user) if o.spec.does(operation)]
    if not able:
        raise model_not_found("(default)")
    return able[0]
