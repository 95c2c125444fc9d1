"""OpenAI images (gpt-image-1, gpt-image-1-mini, dall-e-3, dall-e-2) through the openai SDK.

A timed call to ``POST /images/generations``; results arrive as base64 (requested for
DALL·E too, so nothing has to be fetched) or, from a gateway that insists, as URLs. Cost comes
from the ``usage`` tokens of GPT image models, and from the catalog's size/quality table for
DALL·E. No remote cancel exists: a canceled call is abandoned and its result discarded.
"""

import time
from decimal import Decimal

from django.conf import settings

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    GenerationTimedOut,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.fetch import decode_base64

# Imported on first use: see imagegen/core/lazy_import.py.
openai_sdk = lazy_module("openai")

CONTENT_POLICY_CODES = {"content_policy_violation", "moderation_blocked"}


def make_client(api_key: str, base_url: str, ctx: RunContext | None, default_timeout=30.0):
    timeout = min(max(ctx.remaining(), 1.0), 600.0) if ctx else default_timeout
    return openai_sdk.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)


def raise_openai_error(exc: Exception, label: str, ctx: RunContext) -> None:
    """Turn an openai SDK exception into a ProviderError in words, or Retryable."""
    if isinstance(exc, openai_sdk.APITimeoutError):
        if ctx.remaining() <= 1:
            raise GenerationTimedOut() from None
        raise errors.Retryable("timeout") from None
    if isinstance(exc, openai_sdk.APIConnectionError):
        raise errors.Retryable("connection", final=errors.no_connection(label)) from None
    if not isinstance(exc, openai_sdk.APIStatusError):
        raise exc
    status = exc.status_code
    body = exc.body if isinstance(exc.body, dict) else {}
    message = errors.clean(body.get("message") or "", ctx)
    code = str(body.get("code") or body.get("type") or "")
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if status in (401, 403) and not (status == 403 and metadata.get("reasons")):
        raise errors.rejected_key(label) from None
    if status == 402 or code == "insufficient_quota":
        raise errors.no_credit(label, message) from None
    if status == 429:
        raise errors.Retryable(429, errors.retry_after_seconds(exc.response.headers)) from None
    if (
        code in CONTENT_POLICY_CODES
        or metadata.get("reasons")
        or metadata.get("error_type") == "content_policy_violation"
    ):
        reasons = ", ".join(map(str, metadata.get("reasons") or []))
        raise errors.content_policy(label, errors.clean(reasons or message, ctx)) from None
    if status in (400, 404, 409, 422):
        param = body.get("param")
        detail = f"{param}: {message}" if param and param not in message else message
        raise errors.invalid_parameters(label, errors.clean(detail, ctx)) from None
    if status in (408,) or status >= 500:
        raise errors.Retryable(status, errors.retry_after_seconds(exc.response.headers)) from None
    raise errors.unexpected(label, exc.request_id or "", f"HTTP {status}") from None


class OpenAIProvider(CloudProvider):
    name = "openai"
    label = "OpenAI"

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "n": request.num_images,
            "size": f"{request.width}x{request.height}",
            **request.params,
        }
        if request.model.startswith("dall-e"):
            body["response_format"] = "b64_json"
        client = make_client(ctx.api_key, settings.OPENAI_BASE_URL, ctx)
        started = time.monotonic()

        def call():
            try:
                return client.images.with_raw_response.generate(**body)
            except openai_sdk.OpenAIError as exc:
                raise_openai_error(exc, self.label, ctx)

        raw = errors.with_retries(ctx, self.label, call)
        request_id = raw.headers.get("x-request-id", "")
        data = self.parse_json(raw.http_response.content, request_id)
        items = data.get("data") if isinstance(data, dict) else None
        if not isinstance(items, list) or not items:
            raise errors.unexpected(self.label, request_id, "no data[]")
        images = []
        for item in items:
            if not isinstance(item, dict):
                raise errors.unexpected(self.label, request_id, "data[] item")
            if item.get("b64_json"):
                images.append(GeneratedImage(data=decode_base64(item["b64_json"])))
            elif item.get("url"):
                images.append(GeneratedImage(url=item["url"]))
            else:
                raise errors.unexpected(self.label, request_id, "item without image")
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else None
        cost, estimated = self._cost(spec, request, usage)
        metadata = {
            "request_id": request_id,
            "revised_prompts": [i.get("revised_prompt") for i in items if i.get("revised_prompt")],
            "usage": usage,
            "quality": data.get("quality"),
            "timings": {"provider_seconds": round(time.monotonic() - started, 3)},
        }
        return ProviderResult(
            images=images,
            request_id=request_id,
            cost_usd=cost,
            cost_is_estimate=estimated,
            metadata={k: v for k, v in metadata.items() if v},
        )

    def _cost(self, spec, request, usage) -> tuple[Decimal | None, bool]:
        prices = spec.price_table.get("tokens_per_million")
        if usage and prices:
            details = usage.get("input_tokens_details") or {}
            text_in = details.get("text_tokens", usage.get("input_tokens", 0)) or 0
            image_in = details.get("image_tokens", 0) or 0
            output = usage.get("output_tokens", 0) or 0
            total = (
                Decimal(text_in) * Decimal(str(prices.get("input_text", 0)))
                + Decimal(image_in) * Decimal(str(prices.get("input_image", 0)))
                + Decimal(output) * Decimal(str(prices.get("output", 0)))
            ) / 1_000_000
            return total.quantize(Decimal("0.000001")), False
        return self.price(spec, request), True

    def check_key(self, api_key):
        client = make_client(api_key, settings.OPENAI_BASE_URL, None, default_timeout=15)
        try:
            client.models.list()
        except openai_sdk.AuthenticationError:
            return False, "OpenAI rejected the API key."
        except openai_sdk.APIConnectionError:
            return False, "Could not reach OpenAI; check the server's network or the base URL."
        except openai_sdk.APIStatusError as exc:
            return False, f"OpenAI answered HTTP {exc.status_code}."
        return True, "OpenAI accepted the key."
