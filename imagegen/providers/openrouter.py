"""OpenRouter image models (e.g. google/gemini-2.5-flash-image) through chat completions.

Uses the openai SDK pointed at OpenRouter's base URL. Images come back as data URLs in
``choices[0].message.images``; the charge is ``usage.cost``. Errors can arrive inside a 200
(``{"error": …}`` or ``finish_reason: "error"``), and are reported like any other.
"""

import contextlib
import time
from decimal import Decimal, InvalidOperation

from django.conf import settings

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.mapping import native_size
from imagegen.providers.openai import make_client, raise_openai_error

# Imported on first use: see imagegen/core/lazy_import.py.
openai_sdk = lazy_module("openai")


class OpenRouterProvider(CloudProvider):
    name = "openrouter"
    label = "OpenRouter"

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        extra = {"modalities": spec.fixed_inputs.get("modalities", ["image", "text"])}
        if "size" in spec.inputs:
            extra["image_config"] = {spec.inputs["size"]: native_size(spec, request)}
        extra.update(request.params)
        client = make_client(ctx.api_key, settings.OPENROUTER_BASE_URL, ctx)
        started = time.monotonic()

        def call():
            try:
                return client.chat.completions.with_raw_response.create(
                    model=request.model,
                    messages=[{"role": "user", "content": request.prompt}],
                    extra_body=extra,
                )
            except openai_sdk.OpenAIError as exc:
                raise_openai_error(exc, self.label, ctx)

        raw = errors.with_retries(ctx, self.label, call)
        data = self.parse_json(raw.http_response.content)
        if not isinstance(data, dict):
            raise errors.unexpected(self.label, "", "body is not an object")
        request_id = str(data.get("id") or "")
        self._raise_embedded_error(data, ctx)
        choices = data.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise errors.unexpected(self.label, request_id, "no choices")
        message = choices[0].get("message") or {}
        images = []
        for item in message.get("images") or []:
            url = (item.get("image_url") or {}).get("url") if isinstance(item, dict) else None
            if not url:
                raise errors.unexpected(self.label, request_id, "image without url")
            images.append(GeneratedImage(url=url))
        if not images:
            said = errors.clean(message.get("content") or "", ctx)[:200]
            raise ProviderError(
                f"{self.label} returned no image" + (f"; the model said: {said}" if said else ".")
            )
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        cost, estimated = self.price(spec, request), True
        if usage.get("cost") is not None:
            with contextlib.suppress(InvalidOperation):
                cost, estimated = Decimal(str(usage["cost"])).quantize(Decimal("0.000001")), False
        metadata = {
            "request_id": request_id,
            "provider": data.get("provider"),
            "usage": usage,
            "text": errors.clean(message.get("content") or "", ctx),
            "timings": {"provider_seconds": round(time.monotonic() - started, 3)},
        }
        return ProviderResult(
            images=images,
            request_id=request_id,
            cost_usd=cost,
            cost_is_estimate=estimated,
            metadata={k: v for k, v in metadata.items() if v},
        )

    def _raise_embedded_error(self, data: dict, ctx: RunContext) -> None:
        error = data.get("error")
        choice = (data.get("choices") or [{}])[0] if isinstance(data.get("choices"), list) else {}
        if not error and isinstance(choice, dict) and choice.get("finish_reason") == "error":
            error = choice.get("error") or {"message": "the model stopped with an error"}
        if not error:
            return
        error = error if isinstance(error, dict) else {"message": str(error)}
        code = error.get("code")
        message = errors.clean(error.get("message") or "", ctx)
        metadata = error.get("metadata") if isinstance(error.get("metadata"), dict) else {}
        if code in (401, 403) and not metadata.get("reasons"):
            raise errors.rejected_key(self.label)
        if code == 402:
            raise errors.no_credit(self.label, message)
        if metadata.get("reasons") or metadata.get("error_type") == "content_policy_violation":
            raise errors.content_policy(self.label, message)
        if isinstance(code, int) and code >= 500:
            raise errors.outage(self.label, code)
        raise errors.model_failed(self.label, message)

    def check_key(self, api_key):
        url = settings.OPENROUTER_BASE_URL.rstrip("/") + "/key"
        response, failure = self.probe_key(url, headers={"Authorization": f"Bearer {api_key}"})
        if failure:
            return failure
        info = (response.json() or {}).get("data") or {}
        left = info.get("limit_remaining")
        return True, "OpenRouter accepted the key" + (
            f" ({left} USD of its limit left)." if left is not None else "."
        )
