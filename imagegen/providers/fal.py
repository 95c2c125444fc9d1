"""fal.ai through its queue REST API with httpx (fal-client hard-codes https hosts).

Submit ``POST {FAL_QUEUE_BASE_URL}/{endpoint}``, poll the returned ``status_url`` until
COMPLETED, fetch ``response_url``, download ``images[].url``; cancel with ``PUT cancel_url``.
The returned URLs must point back at the configured queue host.

What follows fal's own client (fal-ai/fal ``projects/fal_client/src/fal_client/client.py``):

* The submit POST is retried only where fal_client retries it (``_should_retry``): 408, 409,
  429, and "ingress errors" (502/503/504 without an ``x-fal-request-id`` header whose body
  says ``nginx``: the gateway's own page, so the request never reached fal's queue). A
  timeout or a broken answer after the request went out is not retried
  (``errors.submission_errors``): fal may already have queued, and will bill, the job.
  fal_client does retry those; this code is stricter on purpose.
* A job whose status is COMPLETED with ``error`` failed for good: its reason is reported at
  once (content policy by its ``error_type``, invalid input by the result's 422 ``detail``,
  anything else as "could not generate"), never retried until the deadline.

Cost: the catalog's price per image or per megapixel (rounded up, per image), times the
images fal returned. fal's pricing API states ``unit: "image"`` even for models billed per
megapixel, so the unit written by hand in catalog.json wins over whatever a refresh stored,
and a cost from a unit nobody wrote by hand is an estimate.

Image operations (docs/image-operations.md): the catalog's ``inputs`` name each model's image
inputs (``image_url``, ``image_urls``, ``mask_url``, ``upscale_factor``), filled with data URIs
by providers/mapping.py. fal's model APIs take "a Base64 data URI as a file input" and document
no size limit for one (only that large files slow the request), so inputs travel inline in the
one submit POST; fal's storage upload (rest.fal.ai, not configurable) is not needed. FLUX Fill's
mask is the app's own convention (white = change) at the image's size; outpaint reaches it as
an inpaint of the padded canvas. Upscalers and background removers answer one ``image``
instead of ``images``.

Safety checker: images fal flags in ``has_nsfw_concepts`` come back black; they are dropped
(the metadata says how many), and a batch where every image is flagged fails as content
policy. fal bills "successful outputs" and does not say whether a flagged image counts, so
a cost that includes flagged images is an estimate.
"""

import functools
import math
import time
import uuid
from decimal import Decimal, InvalidOperation
from urllib.parse import urlsplit

import httpx
from django.conf import settings

from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    KeyCheck,
    KeyStatus,
    ListedModel,
    Listing,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.mapping import native_payload
from imagegen.providers.schema import resolve_refs

NO_CREDIT_WORDS = ("exhausted balance", "locked", "insufficient", "billing")
# fal_client: RETRY_CODES and INGRESS_ERROR_CODES.
SUBMIT_RETRY_CODES = (408, 409, 429)
INGRESS_ERROR_CODES = (502, 503, 504)
SUBMIT_TIMEOUT = 30.0  # seconds for the submit POST's answer (the job may exist after it)
REQUEST_TIMEOUT = 30.0
SAFETY_REASON = "the safety checker flagged the image"
# The listing: text-to-image endpoints with their OpenAPI documents (docs.fal.ai
# platform-apis/v1/models); find mode takes 1-50 endpoint ids per call.
LISTING_CATEGORY = "text-to-image"
LISTING_PAGE_LIMIT = 50
MAX_LISTING_PAGES = 200
FAL_UNITS = {"image": "image", "images": "image", "megapixel": "megapixel"}
FAL_UNITS["megapixels"] = "megapixel"
# What a key check asks: the status of a request that cannot exist. fal answers 401 for a
# key it does not know ("No user found for Key ID and Secret") and otherwise looks the
# request up (404 for an unknown id) without running or billing anything.
KEY_CHECK_APP = "fal-ai/flux"


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


def _body(response: httpx.Response):
    try:
        return response.json()
    except ValueError:
        return {}


def is_ingress_error(response: httpx.Response) -> bool:
    """fal_client's ``_is_ingress_error``: a 502/503/504 from the gateway in front of fal
    (no ``x-fal-request-id``, nginx's page), i.e. the request never reached fal's queue."""
    if response.status_code not in INGRESS_ERROR_CODES:
        return False
    if "x-fal-request-id" in response.headers:
        return False
    return "nginx" in response.text


@functools.cache
def handwritten_units() -> dict[str, str]:
    """The price unit of each fal model as written by hand in catalog.json (read from fal's
    model pages), which wins over the unit fal's pricing API states."""
    # Deferred (import time): the catalog module defines a model class (see cloud.py).
    from imagegen.providers.catalog import builtin_entries

    return {
        entry["id"]: entry["price"]["unit"]
        for entry in builtin_entries()
        if entry.get("provider") == "fal" and (entry.get("price") or {}).get("unit")
    }


class FalProvider(CloudProvider):
    name = "fal"
    label = "fal.ai"

    def _headers(self, api_key: str) -> dict:
        return {"Authorization": f"Key {api_key}", "Accept": "application/json"}

    # ------------------------------------------------------------------ requests
    def _get(self, ctx: RunContext, client: httpx.Client, url: str, **kwargs):
        """An idempotent GET (status, result): retried on timeouts, 429 and 5xx."""

        def attempt():
            timeout = min(max(ctx.remaining(), 1.0), REQUEST_TIMEOUT)
            with errors.transport_errors(ctx, self.label):
                response = client.get(url, timeout=timeout, **kwargs)
            if response.status_code >= 400:
                self._raise(response, ctx)
            return response

        return errors.with_retries(ctx, self.label, attempt)

    def _submit(self, ctx: RunContext, client: httpx.Client, url: str, payload: dict):
        """The submit POST, retried only where fal_client retries it (module docstring)."""

        def attempt():
            timeout = min(max(ctx.remaining() - 1.0, 1.0), SUBMIT_TIMEOUT)
            with errors.submission_errors(ctx, self.label):
                response = client.post(url, json=payload, timeout=timeout)
            status = response.status_code
            if status < 400:
                return response
            if status in SUBMIT_RETRY_CODES or is_ingress_error(response):
                raise errors.Retryable(status, errors.retry_after_seconds(response.headers))
            if status >= 500:
                if status in (502, 504):  # a gateway lost fal's answer: the job may exist
                    raise errors.unconfirmed_submission(self.label, f"HTTP {status}")
                raise ProviderError(
                    f"{self.label} is unavailable right now (HTTP {status}); the request was "
                    "not sent again, try again later."
                )
            self._raise(response, ctx)

        return errors.with_retries(ctx, self.label, attempt)

    def _raise(self, response: httpx.Response, ctx: RunContext):
        status = response.status_code
        body = _body(response)
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

    def _failed_job(self, ctx, client, status: dict, response_url: str, request_id: str):
        """A job COMPLETED with ``error``: fal's reason, in words, at once. The result
        endpoint holds the failed run's answer (422 ``detail`` for invalid input, 5xx
        ``{"detail", "error_type"}`` for a model failure); it is read once, not retried."""
        reason = errors.clean(status.get("error"), ctx)
        if status.get("error_type") == "content_policy_violation":
            raise errors.content_policy(self.label, reason)
        try:
            timeout = min(max(ctx.remaining(), 1.0), REQUEST_TIMEOUT)
            response = client.get(response_url, timeout=timeout)
        except httpx.HTTPError:
            raise errors.model_failed(self.label, reason) from None
        if response.status_code in (400, 422):
            self._raise(response, ctx)  # invalid input or content policy, in words
        body = _body(response)
        if response.status_code >= 400 and isinstance(body, dict) and not reason:
            reason = errors.clean(_detail_text(body.get("detail"))[0], ctx)
        raise errors.model_failed(self.label, reason)

    # ------------------------------------------------------------------ generate
    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        payload = native_payload(spec, request)
        started = time.monotonic()
        with httpx.Client(headers=self._headers(ctx.api_key), trust_env=False) as client:
            submit_url = f"{settings.FAL_QUEUE_BASE_URL.rstrip('/')}/{request.model}"
            submitted = self.parse_json(self._submit(ctx, client, submit_url, payload).content)
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
                    self._get(ctx, client, status_url, params={"logs": "1"}).content,
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
                self._failed_job(ctx, client, status, response_url, request_id)
            result = self.parse_json(self._get(ctx, client, response_url).content, request_id)
        items = result.get("images") if isinstance(result, dict) else None
        if items is None and isinstance(result, dict) and isinstance(result.get("image"), dict):
            items = [result["image"]]  # an upscaler's or a background remover's one image
        if not isinstance(items, list) or not items:
            raise errors.unexpected(self.label, request_id, "result without images")
        flags = result.get("has_nsfw_concepts")
        flags = flags if isinstance(flags, list) else []
        kept = [item for i, item in enumerate(items) if not (i < len(flags) and flags[i] is True)]
        removed = len(items) - len(kept)
        if not kept:
            raise errors.content_policy(self.label, SAFETY_REASON)
        seed = result.get("seed")
        seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
        images = []
        for item in kept:
            url = item.get("url") if isinstance(item, dict) else None
            if not isinstance(url, str):
                raise errors.unexpected(self.label, request_id, "image without url")
            # fal reports one seed for the batch; only a single image is known to have it.
            images.append(GeneratedImage(url=url, seed=seed if len(items) == 1 else None))
        metadata = {
            "request_id": request_id,
            "polls": polls,
            "seed": seed,
            "timings": {
                **(result.get("timings") or {}),
                "provider_seconds": round(time.monotonic() - started, 3),
            },
            "has_nsfw_concepts": flags or None,
            "nsfw_removed": removed,
            "logs": [
                errors.clean(line.get("message", ""), ctx)
                for line in logs[-20:]
                if isinstance(line, dict)
            ],
        }
        # fal bills "successful outputs" and does not say whether a flagged (blacked-out) one
        # is one: flagged images are not counted, here as when all are flagged (a failure,
        # no spend), and the cost is marked an estimate whenever any were removed.
        cost, estimated = self._cost(spec, request, len(kept))
        return ProviderResult(
            images=images,
            request_id=request_id,
            cost_usd=cost,
            cost_is_estimate=estimated or removed > 0,
            seed=seed,
            metadata={k: v for k, v in metadata.items() if v},
        )

    def _cost(self, spec, request, count: int):
        """(cost, is_estimate) for ``count`` images fal returned. Actual only when the price
        unit is the one written by hand for this model (see handwritten_units)."""
        price = spec.price_usd
        known_unit = handwritten_units().get(spec.id)
        unit = known_unit or spec.price_unit
        if price is None:
            return self.price(spec, request), True
        estimated = known_unit is None
        if unit == "megapixel":  # billed per image, rounded up to whole megapixels
            megapixels = math.ceil(request.width * request.height / 1_000_000)
            return (price * megapixels * count).quantize(Decimal("0.000001")), estimated
        if unit == "image":
            return (price * count).quantize(Decimal("0.000001")), estimated
        return self.price(spec, request), True

    def cancel(self, ctx: RunContext) -> None:
        if ctx.remote_handle:
            url, api_key = ctx.remote_handle
            httpx.put(url, headers=self._headers(api_key), timeout=10, trust_env=False)

    # ------------------------------------------------------------------ key check
    def check_key(self, api_key) -> KeyCheck:
        """Ask the queue for the status of a request that cannot exist: free, and open to
        every inference key (the pricing API, used before, is documented in one place as
        admin-key only). 401: the key is unknown; 404 (or any 2xx/400): the key was
        accepted; a locked account: no credit; anything else proves nothing."""
        if not api_key:
            return KeyCheck(KeyStatus.INVALID, f"No {self.label} key is set.")
        base = settings.FAL_QUEUE_BASE_URL.rstrip("/")
        url = f"{base}/{KEY_CHECK_APP}/requests/{uuid.uuid4()}/status"
        try:
            response = httpx.get(url, headers=self._headers(api_key), timeout=15, trust_env=False)
        except httpx.HTTPError:
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"Could not verify the key: {errors.no_connection(self.label)}",
            )
        status = response.status_code
        body = _body(response)
        text = _detail_text(body.get("detail") if isinstance(body, dict) else "")[0]
        detail = errors.clean(text, api_key=api_key)
        if status == 401:
            return KeyCheck(KeyStatus.INVALID, f"{self.label} rejected the API key.")
        if status in (402, 403) and any(w in detail.lower() for w in NO_CREDIT_WORDS):
            return KeyCheck(KeyStatus.NO_CREDIT, str(errors.no_credit(self.label, detail)))
        if status in (200, 400, 404):
            return KeyCheck(KeyStatus.VALID, f"{self.label} accepted the key.")
        return KeyCheck(
            KeyStatus.UNVERIFIED,
            f"Could not verify the key: {self.label} refused the check endpoint (HTTP {status}).",
        )

    # ------------------------------------------------------------------ listing
    def _platform_get(self, client: httpx.Client, path: str, params: list):
        """One platform API call: the answer, or a ProviderError in words."""
        url = f"{settings.FAL_API_BASE_URL.rstrip('/')}/{path}"
        try:
            response = client.get(url, params=params, timeout=30)
        except httpx.HTTPError:
            raise errors.no_connection(self.label) from None
        return response

    def _read_models(self, client, params: list, notes: list) -> tuple[dict, bool]:
        """Every page of one listing query: ({endpoint_id: model}, complete)."""
        models, cursor = {}, None
        for _ in range(MAX_LISTING_PAGES):
            page = [*params, ("limit", str(LISTING_PAGE_LIMIT))]
            if cursor:
                page.append(("cursor", cursor))
            response = self._platform_get(client, "models", page)
            if response.status_code == 401:
                raise errors.rejected_key(self.label)
            if response.status_code != 200:
                raise ProviderError(
                    f"{self.label} did not list its models (HTTP {response.status_code})."
                )
            body = self.parse_json(response.content)
            if not isinstance(body, dict) or not isinstance(body.get("models"), list):
                raise errors.unexpected(self.label, "", "model listing without models")
            for model in body["models"]:
                if isinstance(model, dict) and isinstance(model.get("endpoint_id"), str):
                    models[model["endpoint_id"]] = model
            cursor = body.get("next_cursor")
            if not body.get("has_more") or not cursor:
                return models, True
        notes.append(f"{self.label}: the listing had more than {MAX_LISTING_PAGES} pages.")
        return models, False

    def _read_prices(self, client, ids: list[str], notes: list) -> dict:
        """{endpoint_id: (unit, Decimal)} from the pricing API, or {} when it refuses."""
        prices = {}
        for start in range(0, len(ids), LISTING_PAGE_LIMIT):
            batch = [("endpoint_id", i) for i in ids[start : start + LISTING_PAGE_LIMIT]]
            response = self._platform_get(client, "models/pricing", batch)
            if response.status_code != 200:
                notes.append(
                    f"{self.label}: the pricing API refused this key (HTTP "
                    f"{response.status_code}; fal documents it in one place as admin-key "
                    "only); models listed without prices."
                )
                return {}
            body = self.parse_json(response.content)
            for item in body.get("prices") or [] if isinstance(body, dict) else []:
                if not isinstance(item, dict) or item.get("currency", "USD") != "USD":
                    continue
                try:
                    amount = Decimal(str(item["unit_price"]))
                except (KeyError, InvalidOperation):
                    continue
                prices[item.get("endpoint_id")] = (str(item.get("unit", "")).lower(), amount)
        return prices

    def _listed(self, model: dict, price) -> ListedModel:
        endpoint_id = model["endpoint_id"]
        metadata = model.get("metadata") if isinstance(model.get("metadata"), dict) else {}
        schema = None
        document = model.get("openapi")
        if isinstance(document, dict):
            schema = self._input_schema(document, endpoint_id)
        # fal's listing says only ``status: deprecated`` (docs.fal.ai platform APIs v1):
        # no shutdown date is published, so none is read.
        listed = ListedModel(
            id=endpoint_id,
            label=str(metadata.get("display_name") or endpoint_id)[:200],
            input_schema=schema,
            deprecated=metadata.get("status") == "deprecated",
            extra={"category": metadata.get("category", "")},
        )
        if price:
            stated, amount = price
            handwritten = handwritten_units().get(endpoint_id)
            listed.price_usd = amount
            listed.price_unit = handwritten or FAL_UNITS.get(stated, "")
            # fal's pricing API says "image" for per-megapixel models too: a unit not written
            # by hand is doubtful, and costs computed from it are estimates.
            listed.extra["price_unit_source"] = "catalog" if handwritten else "fal pricing API"
            listed.extra["price_unit_stated"] = stated
        return listed

    def _input_schema(self, document: dict, endpoint_id: str) -> dict | None:
        """The submit path's request body schema, references inlined."""
        paths = document.get("paths") if isinstance(document.get("paths"), dict) else {}
        operation = (paths.get(f"/{endpoint_id}") or {}).get("post")
        if not isinstance(operation, dict):
            operation = next(
                (
                    p.get("post")
                    for path, p in paths.items()
                    if isinstance(p, dict) and "/requests/" not in path and p.get("post")
                ),
                None,
            )
        try:
            schema = operation["requestBody"]["content"]["application/json"]["schema"]
            resolved = resolve_refs(schema, document)
        except (KeyError, TypeError, ValueError):
            return None
        return resolved if isinstance(resolved, dict) else None

    def list_models(self, api_key, known: list[str]) -> Listing:
        """fal's text-to-image endpoints (every status) with their OpenAPI input schemas,
        plus each ``known`` id looked up by endpoint_id, and prices when the key may read
        them. ``complete`` only when every page and lookup was read."""
        notes: list[str] = []
        headers = self._headers(api_key) if api_key else {"Accept": "application/json"}
        with httpx.Client(headers=headers, trust_env=False) as client:
            base = [("category", LISTING_CATEGORY), ("expand", "openapi-3.0")]
            models, complete = self._read_models(client, base, notes)
            missing = [i for i in known if i not in models]
            for start in range(0, len(missing), LISTING_PAGE_LIMIT):
                batch = missing[start : start + LISTING_PAGE_LIMIT]
                found, whole = self._read_models(
                    client,
                    [*(("endpoint_id", i) for i in batch), ("expand", "openapi-3.0")],
                    notes,
                )
                models.update({k: v for k, v in found.items() if k in batch})
                complete = complete and whole
            prices = {}
            if api_key:
                prices = self._read_prices(client, list(models), notes)
            else:
                notes.append(f"{self.label}: no key, so models listed without prices.")
        listed = [self._listed(model, prices.get(eid)) for eid, model in models.items()]
        doubtful = [m.id for m in listed if m.extra.get("price_unit_source") == "fal pricing API"]
        if doubtful:
            notes.append(
                f"{self.label}: price units of {', '.join(doubtful)} come from fal's pricing "
                "API, which says 'image' for per-megapixel models too; costs from them are "
                "estimates."
            )
        return Listing(models=listed, complete=complete, notes=notes)
