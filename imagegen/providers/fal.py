"""fal.ai through its queue REST API with httpx (fal-client hard-codes https hosts).

Submit ``POST {FAL_QUEUE_BASE_URL}/{endpoint}``, poll the returned ``status_url`` until
COMPLETED, fetch ``response_url``, download ``images[].url``; cancel with ``PUT cancel_url``.
The returned URLs must point back at the configured queue host. Cost: the catalog's price per
image or per megapixel (rounded up), times the images returned.
"""

import math
import time
from decimal import Decimal
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.mapping import native_inputs

NO_CREDIT_WORDS = ("exhausted balance", "locked", "insufficient", "billing")


def _detail_text(detail) -> tuple[str, str]:
    """fal's ``detail`` (a string or a list of {loc, msg, type}) as text, and its first type."""
    if isinstance(detail, list):
        parts, kind = [], ""
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p != "body")
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
                kind = kind or str(item.get("type", ""))
            else:
                parts.append(str(item))
        return "; ".join(parts), kind
    return str(detail or ""), ""


class FalProvider(CloudProvider):
    name = "fal"
    label = "fal.ai"

    def _headers(self, api_key: str) -> dict:
        return {"Authorization": f"Key {api_key}", "Accept": "application/json"}

    def _request(self, ctx: RunContext, client: httpx.Client, method: str, url: str, **kwargs):
        def attempt():
            timeout = min(max(ctx.remaining(), 1.0), 30.0)
            with errors.transport_errors(ctx, self.label):
                response = client.request(method, url, timeout=timeout, **kwargs)
            if response.status_code >= 400:
                self._raise(response, ctx)
            return response

        return errors.with_retries(ctx, self.label, attempt)

    def _raise(self, response: httpx.Response, ctx: RunContext):
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        detail, kind = _detail_text(body.get("detail") if isinstance(body, dict) else "")
        detail = errors.clean(detail, ctx)
        error_type = (
            (body.get("error_type") if isinstance(body, dict) else None)
            or response.headers.get("x-fal-error-type")
            or kind
        )
        if status == 401:
            raise errors.rejected_key(self.label)
        if status in (402, 403) and any(w in detail.lower() for w in NO_CREDIT_WORDS):
            raise errors.no_credit(self.label, detail)
        if status == 403:
            raise errors.rejected_key(self.label)
        if error_type == "content_policy_violation":
            raise errors.content_policy(self.label, detail)
        if status in (408, 409, 429) or status >= 500:
            raise errors.Retryable(status, errors.retry_after_seconds(response.headers))
        if status in (400, 404, 422):
            raise errors.invalid_parameters(self.label, detail)
        raise errors.unexpected(
            self.label, response.headers.get("x-fal-request-id", ""), f"HTTP {status}"
        )

    def _own_url(self, url, request_id: str) -> str:
        """A URL the queue handed back, accepted only on the configured queue host."""
        base = urlsplit(settings.FAL_QUEUE_BASE_URL)
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or (parts.scheme, parts.netloc) != (base.scheme, base.netloc):
            raise errors.unexpected(self.label, request_id, f"queue URL on another host: {url}")
        return url

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        payload = native_inputs(spec, request)
        started = time.monotonic()
        with httpx.Client(headers=self._headers(ctx.api_key), trust_env=False) as client:
            submit_url = f"{settings.FAL_QUEUE_BASE_URL.rstrip('/')}/{request.model}"
            submitted = self.parse_json(
                self._request(ctx, client, "POST", submit_url, json=payload).content
            )
            if not isinstance(submitted, dict) or not submitted.get("request_id"):
                raise errors.unexpected(self.label, "", "submit without request_id")
            request_id = str(submitted["request_id"])
            status_url = self._own_url(submitted.get("status_url"), request_id)
            response_url = self._own_url(submitted.get("response_url"), request_id)
            cancel_url = submitted.get("cancel_url")
            if cancel_url:
                ctx.remote_handle = (self._own_url(cancel_url, request_id), ctx.api_key)

            interval = settings.PROVIDER_POLL_INTERVAL
            polls, logs = 0, []
            while True:
                status = self.parse_json(
                    self._request(ctx, client, "GET", status_url, params={"logs": "1"}).content,
                    request_id,
                )
                polls += 1
                state = status.get("status") if isinstance(status, dict) else None
                logs = status.get("logs") or logs if isinstance(status, dict) else logs
                if state == "COMPLETED":
                    break
                if state not in ("IN_QUEUE", "IN_PROGRESS"):
                    raise errors.unexpected(self.label, request_id, f"status {state!r}")
                ctx.sleep(interval)
                interval = min(interval * 1.5, settings.PROVIDER_POLL_INTERVAL * 4)
            if status.get("error"):
                reason = errors.clean(status["error"], ctx)
                if status.get("error_type") == "content_policy_violation":
                    raise errors.content_policy(self.label, reason)
            result = self.parse_json(
                self._request(ctx, client, "GET", response_url).content, request_id
            )
        items = result.get("images") if isinstance(result, dict) else None
        if not isinstance(items, list) or not items:
            raise errors.unexpected(self.label, request_id, "result without images")
        seed = result.get("seed", request.seed if spec.seed else None)
        images = []
        for i, item in enumerate(items):
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str):
                raise errors.unexpected(self.label, request_id, "image without url")
            images.append(
                GeneratedImage(url=url, seed=(seed + i if isinstance(seed, int) else None))
            )
        metadata = {
            "request_id": request_id,
            "polls": polls,
            "seed": seed,
            "timings": {
                **(result.get("timings") or {}),
                "provider_seconds": round(time.monotonic() - started, 3),
            },
            "has_nsfw_concepts": result.get("has_nsfw_concepts"),
            "logs": [
                errors.clean(line.get("message", ""), ctx)
                for line in logs[-20:]
                if isinstance(line, dict)
            ],
        }
        cost, estimated = self._cost(spec, request, len(images))
        return ProviderResult(
            images=images,
            request_id=request_id,
            cost_usd=cost,
            cost_is_estimate=estimated,
            seed=seed if isinstance(seed, int) else None,
            metadata={k: v for k, v in metadata.items() if v},
        )

    def _cost(self, spec, request, count: int):
        price = spec.price_usd
        if price is None:
            return self.price(spec, request), True
        if spec.price_unit == "megapixel":
            megapixels = math.ceil(request.width * request.height / 1_000_000)
            return (price * megapixels * count).quantize(Decimal("0.000001")), False
        if spec.price_unit == "image":
            return (price * count).quantize(Decimal("0.000001")), False
        return self.price(spec, request), True

    def cancel(self, ctx: RunContext) -> None:
        if ctx.remote_handle:
            url, api_key = ctx.remote_handle
            httpx.put(url, headers=self._headers(api_key), timeout=10, trust_env=False)

    def check_key(self, api_key):
        url = f"{settings.FAL_API_BASE_URL.rstrip('/')}/models/pricing"
        _, failure = self.probe_key(
            url, params={"endpoint_id": "fal-ai/flux/schnell"}, headers=self._headers(api_key)
        )
        return failure or (True, "fal.ai accepted the key.")
