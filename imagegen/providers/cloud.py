"""Shared parts of the cloud providers: catalog-backed models, prices, JSON bodies."""

import json
from decimal import Decimal

from imagegen.providers import errors
from imagegen.providers.base import (
    GenerationRequest,
    ModelSpec,
    Provider,
    ProviderError,
    RunContext,
)


class CloudProvider(Provider):
    """A provider whose models and prices come from the catalog and which needs a key."""

    requires_key = True

    def models(self) -> list[ModelSpec]:
        # Deferred (import time): the catalog module defines a model class, and this
        # package is imported while Django is still loading models (by generation.models).
        from imagegen.providers.catalog import specs_for

        return specs_for(self.name)

    def spec(self, ctx: RunContext, model_id: str) -> ModelSpec:
        """The model's spec, as the pipeline resolved it for this run."""
        if ctx.spec is None or ctx.spec.id != model_id:
            raise ProviderError(f"The model {model_id!r} is no longer offered by {self.label}.")
        return ctx.spec

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        spec = self.get_model(request.model)
        return self.price(spec, request) if spec else None

    @staticmethod
    def price(spec: ModelSpec, request: GenerationRequest) -> Decimal | None:
        """The catalog estimate for a spec already in hand (no database access)."""
        from imagegen.providers.catalog import estimate_cost  # deferred: see models()

        return estimate_cost(spec, request)

    def parse_json(self, content: bytes, request_id: str = ""):
        """The body as JSON, or a failure in words."""
        try:
            return json.loads(content)
        except (ValueError, UnicodeDecodeError):
            raise errors.unexpected(self.label, request_id, "body is not JSON") from None
