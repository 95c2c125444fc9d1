"""Replicate predictions through the replicate SDK: create, poll, fetch outputs, cancel.

Official models (``owner/name``) use ``POST /v1/models/{owner}/{name}/predictions``;
versioned community models (``stability-ai/sdxl`` with a version id) ``POST /v1/predictions``.
The prediction is polled every PROVIDER_POLL_INTERVAL (growing to 4×) until it ends; cancel
calls ``POST /v1/predictions/{id}/cancel``. Cost: per output image for official models, or
``metrics.predict_time`` × the per-second hardware rate.

Image operations (docs/image-operations.md): the catalog's ``inputs`` name each model's file
inputs (``input_image``, ``image_input``, ``image``, ``mask``, ``scale``), filled with data URIs
by providers/mapping.py. Replicate recommends a data URI only for a file under 1MB
(replicate.com/docs/topics/predictions/input-files) and takes larger files through its files
API (``POST /v1/files``, up to 100MB): an input of DATA_URI_LIMIT bytes or more is uploaded
first and passed by the file's ``urls.get``, and deleted once the prediction ended (never a URL
of this server, which Replicate cannot reach). FLUX Fill's mask is the app's own convention
(white = change) at the image's size; outpaint reaches it as an inpaint of the padded canvas.

Two things the SDK (replicate 1.0.7) does not do for us, handled by ``_Wire``, the transport
under the SDK's own ``RetryTransport``:

* A create is never sent twice unless Replicate said it was refused (429): a timed-out or 5xx
  create may already be a billed prediction (the SDK's RetryTransport also retries POSTs on
  nothing). 429 and 5xx answers become ``_Refused`` carrying ``Retry-After`` (``ReplicateError``
  has no headers), so our retry loop, which knows the deadline and the cancel button, decides;
  the SDK's own GET retries (``time.sleep`` up to 60 s, blind to both) never run.
* Replicate documents a prediction status ``aborted`` (ended before it started, e.g. its
  deadline passed while queued) that the SDK's pydantic ``Prediction`` cannot parse. Every
  answer's JSON is kept, so the state of a prediction is read from the answer itself.
"""

import io
import json
import threading
import time
from dataclasses import dataclass, field
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
    InputImage,
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

# Imported on first use: see imagegen/core/lazy_import.py.
replicate_sdk = lazy_module("replicate")
_sdk_errors = lazy_module("replicate.exceptions")

# replicate.com/docs/topics/predictions/lifecycle: the statuses a prediction can have.
TERMINAL = {"succeeded", "failed", "canceled", "aborted"}
STATUSES = {"starting", "processing", *TERMINAL}
CONTENT_POLICY_WORDS = ("nsfw", "safety", "content policy", "flagged")
# The SDK's own default read timeout (replicate/client.py: httpx.Timeout(5.0, read=30.0, ...)):
# a create or poll that has not answered by then is lost, not waited on to the deadline.
READ_TIMEOUT = 30.0
# Replicate's collection of text-to-image models (GET /v1/collections/{slug}), read for models
# the catalog does not have yet.
COLLECTION = "text-to-image"
# A file of this many bytes or more goes through the files API, not inline (module docstring).
DATA_URI_LIMIT = 1_000_000


class _Refused(Exception):
    """Replicate answered 429 or 5xx: nothing of the request is known to have happened."""

    def __init__(self, status: int, retry_after: float | None):
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after


class _Wire(httpx.BaseTransport):
    """The transport under the SDK's RetryTransport: turns 429/5xx into ``_Refused`` (with the
    server's Retry-After) and keeps each thread's last JSON answer (see the module docstring)."""

    def __init__(self, timeout: httpx.Timeout):
        self._inner = httpx.HTTPTransport()
        self._local = threading.local()
        self._timeout = timeout.as_dict()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self._local.body = None
        # The SDK sends a create without ``wait`` with ``timeout=None`` (prediction.py,
        # _create_prediction_timeout), which httpx reads as "wait for ever": give it ours.
        if all(value is None for value in request.extensions.get("timeout", {}).values()):
            request.extensions["timeout"] = self._timeout
        response = self._inner.handle_request(request)
        response.read()
        if response.status_code == 429 or response.status_code >= 500:
            response.close()
            raise _Refused(response.status_code, errors.retry_after_seconds(response.headers))
        try:
            self._local.body = json.loads(response.content)
        except (ValueError, UnicodeDecodeError):
            self._local.body = None
        return response

    @property
    def last_body(self):
        return getattr(self._local, "body", None)

    def close(self) -> None:
        self._inner.close()


@dataclass
class _Prediction:
    """What we read of a prediction (from the raw answer: the SDK cannot parse every status)."""

    id: str
    status: str
    output: object = None
    error: str = ""
    logs: str = ""
    metrics: dict = field(default_factory=dict)

    @classmethod
    def from_json(cls, body) -> "_Prediction":
        if not isinstance(body, dict):
            raise ValueError("the answer is not a prediction")
        pid, status = body.get("id"), body.get("status")
        if not isinstance(pid, str) or status not in STATUSES:
            raise ValueError(f"not a prediction (status {str(status)[:40]!r})")
        metrics = body.get("metrics")
        return cls(
            id=pid,
            status=status,
            output=body.get("output"),
            error=str(body.get("error") or ""),
            logs=str(body.get("logs") or ""),
            metrics=metrics if isinstance(metrics, dict) else {},
        )


class ReplicateProvider(CloudProvider):
    name = "replicate"
    label = "Replicate"

    def _client(self, api_key: str, seconds: float = READ_TIMEOUT):
        timeout = httpx.Timeout(min(max(seconds, 1.0), READ_TIMEOUT), connect=10.0)
        wire = _Wire(timeout)
        client = replicate_sdk.Client(
            api_token=api_key,
            base_url=settings.REPLICATE_BASE_URL,
            timeout=timeout,
            transport=wire,
        )
        return client, wire

    def _read(self, ctx: RunContext, wire: _Wire, fn) -> _Prediction:
        """One SDK call; the prediction as the answer states it. 4xx answers in words."""
        try:
            fn()
        except _sdk_errors.ReplicateError as exc:
            self._raise(exc, ctx)
        except (ValueError, TypeError, KeyError):
            # The SDK could not parse the answer: fine if it is a prediction with a status
            # the SDK does not know (``aborted``), else a malformed answer (below).
            pass
        try:
            return _Prediction.from_json(wire.last_body)
        except ValueError as exc:
            raise errors.unexpected(self.label, "", errors.clean(str(exc), ctx)[:200]) from None

    def _raise(self, exc: "_sdk_errors.ReplicateError", ctx: RunContext):
        status = exc.status or 0
        detail = errors.clean(exc.detail or exc.title or "", ctx)
        if status in (401, 403):
            raise errors.rejected_key(self.label) from None
        if status == 402 or "spend limit" in detail.lower() or "credit" in detail.lower():
            raise errors.no_credit(self.label, detail) from None
        if status in (400, 404, 409, 422):
            raise errors.invalid_parameters(self.label, detail) from None
        raise errors.unexpected(self.label, "", f"HTTP {status}: {detail}") from None

    def _create(self, ctx: RunContext, client, wire: _Wire, create) -> _Prediction:
        """Send the create POST; again only if Replicate refused it with a 429 (nothing was
        created then). A lost answer or a 5xx is final: the prediction may exist and bill."""

        def attempt():
            try:
                with errors.submission_errors(ctx, self.label):
                    return self._read(ctx, wire, create)
            except _Refused as refused:
                if refused.status == 429:
                    raise errors.Retryable(429, refused.retry_after) from None
                raise ProviderError(
                    f"{self.label} is unavailable right now (HTTP {refused.status}); the request "
                    "was not sent again, as it may have started anyway. Check the provider's "
                    "dashboard before trying again."
                ) from None

        return errors.with_retries(ctx, self.label, attempt)

    def _poll(self, ctx: RunContext, wire: _Wire, fn) -> _Prediction:
        """A GET: retried on 429, 5xx and lost answers, honouring Retry-After."""

        def attempt():
            try:
                with errors.transport_errors(ctx, self.label):
                    return self._read(ctx, wire, fn)
            except _Refused as refused:
                raise errors.Retryable(refused.status, refused.retry_after) from None

        return errors.with_retries(ctx, self.label, attempt)

    # ------------------------------------------------------------------ file inputs
    def _upload(self, ctx: RunContext, client, image: InputImage):
        """One input through the files API (retried on 429, 5xx and lost answers: a second
        upload only leaves a file that expires); the SDK's ``File``."""

        def attempt():
            try:
                with errors.transport_errors(ctx, self.label):
                    return client.files.create(
                        io.BytesIO(image.data),
                        filename=f"input.{image.extension}",
                        content_type=image.mime,
                    )
            except _Refused as refused:
                raise errors.Retryable(refused.status, refused.retry_after) from None
            except _sdk_errors.ReplicateError as exc:
                self._raise(exc, ctx)
            except (ValueError, TypeError, KeyError):
                raise errors.unexpected(self.label, "", "the file upload answer") from None

        return errors.with_retries(ctx, self.label, attempt)

    def _upload_large_inputs(self, ctx, client, request: GenerationRequest, payload: dict):
        """Put every input of DATA_URI_LIMIT bytes or more through the files API, in place of
        its data URI in ``payload``; the uploaded files' ids."""
        images = [*request.input_images, *([request.mask] if request.mask else [])]
        large = {image.data_uri(): image for image in images if len(image.data) >= DATA_URI_LIMIT}
        uploaded: dict[str, str] = {}
        ids: list[str] = []

        def swap(value):
            if isinstance(value, list):
                return [swap(item) for item in value]
            if isinstance(value, str) and value in large:
                if value not in uploaded:
                    file = self._upload(ctx, client, large[value])
                    uploaded[value] = file.urls["get"]
                    ids.append(file.id)
                return uploaded[value]
            return value

        if large:
            for name in list(payload):
                payload[name] = swap(payload[name])
        return ids

    def _delete_uploads(self, client, ids: list[str]) -> None:
        """Best effort: an upload left behind expires on its own (``expires_at``)."""
        for file_id in ids:
            try:
                client.files.delete(file_id)
            except Exception:  # noqa: BLE001, S112 - cleanup must never fail the run
                continue

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        client, wire = self._client(ctx.api_key, ctx.remaining())
        payload = native_payload(spec, request)
        uploads = self._upload_large_inputs(ctx, client, request, payload)
        try:
            return self._run(ctx, spec, request, client, wire, payload)
        finally:
            self._delete_uploads(client, uploads)

    def _run(self, ctx, spec, request, client, wire, payload) -> ProviderResult:
        model, _, version = request.model.partition(":")
        version = version or spec.version
        started = time.monotonic()
        if version:
            create = partial(client.predictions.create, version=version, input=payload)
        else:
            create = partial(client.predictions.create, model=model, input=payload)
        prediction = self._create(ctx, client, wire, create)
        ctx.remote_handle = (client, prediction.id)

        interval = settings.PROVIDER_POLL_INTERVAL
        polls = 0
        while prediction.status not in TERMINAL:
            ctx.sleep(interval)
            interval = min(interval * 1.5, settings.PROVIDER_POLL_INTERVAL * 4)
            prediction = self._poll(ctx, wire, partial(client.predictions.get, prediction.id))
            polls += 1

        metadata = {
            "request_id": prediction.id,
            "status": prediction.status,
            "polls": polls,
            "logs": errors.clean(prediction.logs[-2000:], ctx),
            "metrics": prediction.metrics,
            "timings": {"provider_seconds": round(time.monotonic() - started, 3)},
        }
        if prediction.status == "canceled":
            raise GenerationCanceled()
        if prediction.status == "aborted":
            # Replicate: "the prediction exceeded its deadline before it could start running".
            raise errors.model_failed(
                self.label,
                "the prediction was aborted before it started (Replicate ended it while it was "
                "still queued, e.g. when its deadline passed); nothing ran. Try again later.",
            )
        if prediction.status != "succeeded":
            reason = errors.clean(prediction.error, ctx)
            if any(word in reason.lower() for word in CONTENT_POLICY_WORDS):
                raise errors.content_policy(self.label, reason)
            raise errors.model_failed(self.label, reason)

        output = prediction.output
        urls = [output] if isinstance(output, str) else output
        if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
            raise errors.unexpected(self.label, prediction.id, "output is not image links")
        seed = request.seed if spec.seed else None
        # Replicate reports no per-image seeds: a batch was made from the one seed sent, so
        # only a single image can be said to have it (the batch seed is on the result).
        image_seed = seed if request.num_images == 1 and len(urls) == 1 else None
        images = [GeneratedImage(url=url, seed=image_seed) for url in urls]
        cost, estimated = self._cost(spec, request, len(images), prediction.metrics)
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

    def check_key(self, api_key) -> KeyCheck:
        """``GET /v1/account``. Replicate answers a bad token with 401; it documents no 403
        for this endpoint, so a 403 means the check itself was refused (UNVERIFIED)."""
        client, _ = self._client(api_key, 15)
        label = self.label
        try:
            account = client.accounts.current()
        except _Refused as refused:
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"{label} answered HTTP {refused.status}; the key could not be checked now.",
            )
        except _sdk_errors.ReplicateError as exc:
            detail = errors.clean(exc.detail or exc.title or "", api_key=api_key)
            if exc.status == 401:
                return KeyCheck(KeyStatus.INVALID, f"{label} rejected the API key.")
            if exc.status == 402 or "spend limit" in detail.lower():
                return KeyCheck(KeyStatus.NO_CREDIT, str(errors.no_credit(label, detail)))
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"{label} refused the key check (HTTP {exc.status}); the key could not be "
                "verified.",
            )
        except httpx.HTTPError:
            return KeyCheck(KeyStatus.UNVERIFIED, str(errors.no_connection(label)))
        except (ValueError, TypeError, KeyError):
            return KeyCheck(KeyStatus.UNVERIFIED, f"Unexpected response from {label}.")
        name = errors.clean(account.username, api_key=api_key)
        return KeyCheck(KeyStatus.VALID, f"{label} accepted the key (account {name}).")

    # ------------------------------------------------------------------ the model listing
    def list_models(self, api_key, known: list[str]) -> Listing:
        """Each known model from ``GET /v1/models/{owner}/{name}`` (a pinned community
        ``owner/name:version`` from its versions endpoint), plus the models of Replicate's
        text-to-image collection. Replicate's model object has no deprecation or shutdown
        field (its OpenAPI: url, owner, name, description, visibility, is_official,
        latest_version, ...), so none is reported; a removed model answers 404."""
        if not api_key:
            raise errors.no_listing_key(self.label)
        client, wire = self._client(api_key, READ_TIMEOUT)
        models, notes, complete = [], [], True
        for model_id in known:
            try:
                listed = self._listed(client, wire, model_id)
            except _Refused as refused:
                complete = False
                notes.append(f"{model_id}: not checked (HTTP {refused.status}).")
                continue
            if listed is not None:
                models.append(listed)
        seen = {m.id.partition(":")[0] for m in models} | {k.partition(":")[0] for k in known}
        try:
            body = self._get_json(wire, partial(client.collections.get, COLLECTION)) or {}
        except (_Refused, ProviderError) as exc:
            notes.append(f"The {COLLECTION} collection could not be read ({exc}).")
            body = {}
        for item in body.get("models") or []:
            listed = self._from_model(item) if isinstance(item, dict) else None
            if listed is not None and listed.id not in seen:
                models.append(listed)
                seen.add(listed.id)
        return Listing(models=models, complete=complete, notes=notes)

    def _get_json(self, wire: _Wire, fn):
        """One GET; None on 404; ProviderError in words when the listing cannot be read."""
        try:
            fn()
        except _sdk_errors.ReplicateError as exc:
            if exc.status == 404:
                return None
            if exc.status == 401:
                raise errors.rejected_key(self.label) from None
            raise ProviderError(
                f"{self.label} answered HTTP {exc.status} to the listing."
            ) from None
        except httpx.HTTPError:
            raise errors.no_connection(self.label) from None
        except (ValueError, TypeError, KeyError):
            pass
        body = wire.last_body
        if not isinstance(body, dict):
            raise errors.unexpected(self.label, "", "the model listing is not JSON")
        return body

    def _listed(self, client, wire: _Wire, model_id: str) -> ListedModel | None:
        name, _, version = model_id.partition(":")
        if version:
            body = self._get_json(wire, lambda: client.models.get(name).versions.get(version))
            if body is None:
                return None
            return ListedModel(
                id=model_id, label=name, input_schema=self._input_schema(body), version=version
            )
        body = self._get_json(wire, partial(client.models.get, name))
        return None if body is None else self._from_model(body)

    def _from_model(self, body: dict) -> ListedModel | None:
        owner, name = body.get("owner"), body.get("name")
        latest = body.get("latest_version") or {}
        if not isinstance(owner, str) or not isinstance(name, str) or not isinstance(latest, dict):
            return None
        return ListedModel(
            id=f"{owner}/{name}",
            label=name,
            input_schema=self._input_schema(latest),
            # Official models run without a version; a community model runs its latest one.
            version="" if body.get("is_official") else str(latest.get("id") or ""),
            extra={"description": str(body.get("description") or "")[:500]},
        )

    @staticmethod
    def _input_schema(version: dict) -> dict | None:
        """The version's OpenAPI ``Input`` with its ``$ref``s inlined, or None."""
        root = version.get("openapi_schema")
        try:
            node = root["components"]["schemas"]["Input"]
            return resolve_refs(node, root)
        except (KeyError, TypeError, ValueError):
            return None


__all__ = ["ReplicateProvider"]


def __getattr__(name: str):
    # ``from imagegen.providers.replicate import ModelError`` still works, lazily.
    if name in ("ModelError", "ReplicateError"):
        return getattr(_sdk_errors, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
