"""Replicate predictions through the replicate SDK: create, poll, fetch outputs, cancel.

Official models (``owner/name``) use ``POST /v1/models/{owner}/{name}/predictions``;
versioned community models (``stability-ai/sdxl`` with a version id) ``POST /v1/predictions``.
The prediction is polled every PROVIDER_POLL_INTERVAL (growing to 4×) until it ends; cancel
calls ``POST /v1/predictions/{id}/cancel``. Cost: per output image for official models, or
``metrics.predict_time`` × the per-second hardware rate.
"""

import time
from decimal import Decimal
from functools import partial

import httpx
from django.conf import settings

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationCanceled,
    GenerationRequest,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.mapping import native_inputs

# Imported on first use: see imagegen/core/lazy_import.py.
replicate_sdk = lazy_module("replicate")
_sdk_errors = lazy_module("replicate.exceptions")

TERMINAL = {"succeeded", "failed", "canceled", "aborted"}
CONTENT_POLICY_WORDS = ("nsfw", "safety", "content policy", "flagged")


class ReplicateProvider(CloudProvider):
    name = "replicate"
    label = "Replicate"

    def _client(self, api_key: str, seconds: float = 30.0):
        timeout = httpx.Timeout(min(max(seconds, 1.0), 60.0), connect=10.0)
        return replicate_sdk.Client(
            api_token=api_key, base_url=settings.REPLICATE_BASE_URL, timeout=timeout
        )

    def _call(self, ctx: RunContext, fn):
        """One SDK call with errors in words; 429/5xx/connection problems are retried."""

        def attempt():
            try:
                with errors.transport_errors(ctx, self.label):
                    return fn()
            except _sdk_errors.ReplicateError as exc:
                self._raise(exc, ctx)
            except (ValueError, TypeError, KeyError) as exc:  # malformed JSON or shape
                raise errors.unexpected(
                    self.label, "", errors.clean(repr(exc), ctx)[:200]
                ) from None

        return errors.with_retries(ctx, self.label, attempt)

    def _raise(self, exc: "_sdk_errors.ReplicateError", ctx: RunContext):
        status = exc.status or 0
        detail = errors.clean(exc.detail or exc.title or "", ctx)
        if status in (401, 403):
            raise errors.rejected_key(self.label) from None
        if status == 402 or "spend limit" in detail.lower() or "credit" in detail.lower():
            raise errors.no_credit(self.label, detail) from None
        if status == 429 or status >= 500:
            raise errors.Retryable(status or "error") from None
        if status in (400, 404, 409, 422):
            raise errors.invalid_parameters(self.label, detail) from None
        raise errors.unexpected(self.label, "", f"HTTP {status}: {detail}") from None

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        client = self._client(ctx.api_key, ctx.remaining())
        payload = native_inputs(spec, request)
        model, _, version = request.model.partition(":")
        version = version or spec.version
        started = time.monotonic()
        if version:
            prediction = self._call(
                ctx, lambda: client.predictions.create(version=version, input=payload)
            )
        else:
            prediction = self._call(
                ctx, lambda: client.predictions.create(model=model, input=payload)
            )
        ctx.remote_handle = (client, prediction.id)

        interval = settings.PROVIDER_POLL_INTERVAL
        polls = 0
        while prediction.status not in TERMINAL:
            ctx.sleep(interval)
            interval = min(interval * 1.5, settings.PROVIDER_POLL_INTERVAL * 4)
            prediction = self._call(ctx, partial(client.predictions.get, prediction.id))
            polls += 1

        metrics = prediction.metrics or {}
        metadata = {
            "request_id": prediction.id,
            "status": prediction.status,
            "polls": polls,
            "logs": errors.clean((prediction.logs or "")[-2000:], ctx),
            "metrics": metrics,
            "timings": {"provider_seconds": round(time.monotonic() - started, 3)},
        }
        if prediction.status == "canceled":
            raise GenerationCanceled()
        if prediction.status != "succeeded":
            reason = errors.clean(prediction.error or "", ctx)
            if any(word in reason.lower() for word in CONTENT_POLICY_WORDS):
                raise errors.content_policy(self.label, reason)
            raise errors.model_failed(self.label, reason)

        output = prediction.output
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise errors.unexpected(self.label, prediction.id, "output is not image links")
        seed = request.seed if spec.seed else None
        images = [
            GeneratedImage(url=url, seed=(seed + i if seed is not None else None))
            for i, url in enumerate(urls)
        ]
        cost, estimated = self._cost(spec, request, len(images), metrics)
        return ProviderResult(
            images=images,
            request_id=prediction.id,
            cost_usd=cost,
            cost_is_estimate=estimated,
            seed=seed,
            metadata={k: v for k, v in metadata.items() if v},
        )

    def _cost(self, spec, request, count: int, metrics: dict):
        price = spec.price_usd
        if price is not None and spec.price_unit == "second" and metrics.get("predict_time"):
            seconds = Decimal(str(metrics["predict_time"]))
            return (price * seconds).quantize(Decimal("0.000001")), False
        if price is not None and spec.price_unit == "image":
            return (price * count).quantize(Decimal("0.000001")), False
        return self.price(spec, request), True

    def cancel(self, ctx: RunContext) -> None:
        if ctx.remote_handle:
            client, prediction_id = ctx.remote_handle
            client.predictions.cancel(prediction_id)

    def check_key(self, api_key):
        try:
            account = self._client(api_key, 15).accounts.current()
        except _sdk_errors.ReplicateError as exc:
            if exc.status in (401, 403):
                return False, "Replicate rejected the API key."
            return False, f"Replicate answered HTTP {exc.status}."
        except httpx.HTTPError:
            return False, "Could not reach Replicate; check the server's network or the base URL."
        name = errors.clean(account.username, api_key=api_key)
        return True, f"Replicate accepted the key (account {name})."


__all__ = ["ReplicateProvider"]


def __getattr__(name: str):
    # ``from imagegen.providers.replicate import ModelError`` still works, lazily.
    if name in ("ModelError", "ReplicateError"):
        return getattr(_sdk_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
