"""OpenRouter image models (e.g. google/gemini-3.1-flash-image) through chat completions.

Uses the openai SDK pointed at OpenRouter's base URL. Images come back as data URLs in
``choices[0].message.images``; the charge is ``usage.cost``. An edit sends the input images
as ``image_url`` content parts holding base64 data URLs, after the text part (OpenRouter's
image-inputs guide: text first, then the images), in the one user message. Errors can
arrive inside a 200 (``{"error": …}`` or ``finish_reason: "error"``), and are reported like
any other; so do safety refusals (a 200 without images whose ``native_finish_reason`` is
Google's reason, e.g. ``IMAGE_SAFETY``), reported as a content-policy refusal.
"""

import contextlib
import copy
import io
import time
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings
from PIL import Image

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    InputImage,
    KeyCheck,
    KeyStatus,
    ListedModel,
    Listing,
    Operation,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.inputs import decode
from imagegen.providers.mapping import native_size
from imagegen.providers.openai import make_client, model_gone, raise_openai_error

# Imported on first use: see imagegen/core/lazy_import.py.
openai_sdk = lazy_module("openai")

# Why a model stopped without an image, in words: Google's FinishReason values, which
# OpenRouter passes on as ``native_finish_reason`` (its own ``finish_reason`` is then
# ``content_filter``, or ``stop``); see OpenRouter's api_reference/overview.mdx.
REFUSALS = {
    "IMAGE_SAFETY": "the image was blocked by the model's safety filter",
    "IMAGE_PROHIBITED_CONTENT": "the image would contain prohibited content",
    "IMAGE_RECITATION": "the image would reproduce protected material",
    "IMAGE_OTHER": "the image was blocked for another reason",
    "NO_IMAGE": "the model produced no image for this prompt",
    "SAFETY": "the answer was blocked by the model's safety filter",
    "PROHIBITED_CONTENT": "the prompt contains prohibited content",
    "BLOCKLIST": "the prompt contains blocked terms",
    "SPII": "the answer would contain sensitive personal information",
    "RECITATION": "the answer would reproduce protected material",
}
# Google's limit on an image sent inline (Gemini 2.5 and 3.1 Flash Image model cards:
# "Maximum file size per file for inline data": 7 MB); a larger input is re-encoded as JPEG.
INLINE_MAX_BYTES = 7 * 1024 * 1024
INLINE_JPEG_QUALITY = 90

# The image models' listing spec (a catalog spec dict): the aspect ratios OpenRouter's image
# guide documents for image_config.aspect_ratio, at Gemini's 1K pixel sizes.
OPENROUTER_IMAGE_SPEC = {
    "sizes": {
        "1024x1024": "1:1",
        "832x1248": "2:3",
        "1248x832": "3:2",
        "864x1184": "3:4",
        "1184x864": "4:3",
        "896x1152": "4:5",
        "1152x896": "5:4",
        "768x1344": "9:16",
        "1344x768": "16:9",
        "1536x672": "21:9",
    },
    "max_images": 1,
    "steps": None,
    "cfg_scale": None,
    "negative_prompt": False,
    "seed": False,
    "inputs": {"size": "aspect_ratio"},
}


def raise_openrouter_error(exc: Exception, label: str, ctx: RunContext, model: str) -> None:
    """OpenRouter's own answers first (a model it does not know or no longer serves), then
    the OpenAI-shaped mapping every other answer shares."""
    if isinstance(exc, openai_sdk.APIStatusError):
        body = exc.body if isinstance(exc.body, dict) else {}
        message = str(body.get("message") or "")
        # 400 "<id> is not a valid model ID" (unknown or removed model) and 404 "No endpoints
        # found for <id>." (listed, but no provider serves it any more).
        if (exc.status_code == 400 and "is not a valid model ID" in message) or (
            exc.status_code == 404 and message.startswith("No endpoints found for ")
        ):
            raise model_gone(label, model) from None
        # "Provider returned error" says nothing by itself: the model's own reason (e.g.
        # Google refusing an input image) is in ``metadata.raw``.
        metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
        raw = metadata.get("raw")
        if exc.status_code in (400, 413, 422) and raw and not metadata.get("reasons"):
            detail = f"{message}: {raw}" if message else str(raw)
            raise errors.invalid_parameters(label, errors.clean(detail, ctx)) from None
    raise_openai_error(exc, label, ctx, model)


def inline_image(image: InputImage) -> InputImage:
    """The image as it is sent inline: as stored, or re-encoded as JPEG when it passes
    Google's 7 MB inline limit (transparent parts on white)."""
    if len(image.data) <= INLINE_MAX_BYTES:
        return image
    picture = decode(image).convert("RGBA")
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    out = io.BytesIO()
    flat.save(out, format="JPEG", quality=INLINE_JPEG_QUALITY)
    return InputImage(data=out.getvalue(), format="JPEG", width=flat.width, height=flat.height)


def user_content(request: GenerationRequest):
    """The user message's content: the prompt alone, or (an edit) a text part then one
    ``image_url`` part per input image, each a base64 data URL (never a URL of this server:
    a provider cannot reach it)."""
    if request.operation == Operation.GENERATE:
        return request.prompt
    return [
        {"type": "text", "text": request.prompt},
        *(
            {"type": "image_url", "image_url": {"url": inline_image(image).data_uri()}}
            for image in request.input_images
        ),
    ]


class OpenRouterProvider(CloudProvider):
    name = "openrouter"
    label = "OpenRouter"

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        operation = request.operation
        if operation not in (Operation.GENERATE, Operation.EDIT):
            raise ProviderError(
                f"{self.label} cannot {str(operation).replace('_', ' ')} with "
                f"{request.model}; its image models generate and edit."
            )
        if operation == Operation.EDIT and not request.input_images:
            raise ProviderError(f"{self.label}: edit needs an input image.")
        extra = {"modalities": spec.fixed_inputs.get("modalities", ["image", "text"])}
        # An edit at a size the model does not list (the input's own) sends no ratio: the
        # model then keeps the input's shape.
        listed = f"{request.width}x{request.height}" in spec.native_sizes
        if "size" in spec.inputs and (operation == Operation.GENERATE or listed):
            extra["image_config"] = {spec.inputs["size"]: native_size(spec, request)}
        if spec.seed and request.seed is not None:
            extra["seed"] = request.seed
        extra.update(request.params)
        content = user_content(request)
        client = make_client(ctx.api_key, settings.OPENROUTER_BASE_URL, ctx)
        started = time.monotonic()

        def call():
            try:
                return client.chat.completions.with_raw_response.create(
                    model=request.model,
                    messages=[{"role": "user", "content": content}],
                    extra_body=extra,
                )
            except openai_sdk.OpenAIError as exc:
                raise_openrouter_error(exc, self.label, ctx, request.model)

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
        if not isinstance(message, dict):
            raise errors.unexpected(self.label, request_id, "message is not an object")
        images = []
        for item in message.get("images") or []:
            url = (item.get("image_url") or {}).get("url") if isinstance(item, dict) else None
            if not url:
                raise errors.unexpected(self.label, request_id, "image without url")
            images.append(GeneratedImage(url=url))
        if not images:
            self._raise_refusal(choices[0], message, ctx)
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

    def _raise_refusal(self, choice: dict, message: dict, ctx: RunContext) -> None:
        """A 200 without images that says why: a content-policy refusal in words."""
        native = str(choice.get("native_finish_reason") or "")
        finish = choice.get("finish_reason")
        if native.upper() in REFUSALS:
            reason = f"{REFUSALS[native.upper()]} ({native.upper()})"
        elif finish == "content_filter":
            reason = "the provider's content filter stopped the answer" + (
                f" ({errors.clean(native, ctx)})" if native else ""
            )
        else:
            return
        said = errors.clean(message.get("content") or message.get("refusal") or "", ctx)[:200]
        raise errors.content_policy(
            self.label, reason + (f"; the model said: {said}" if said else "")
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

    def check_key(self, api_key) -> KeyCheck:
        """``GET /key``: invalid (401), no credit (nothing left of the key's limit), or valid
        with what is left in words."""
        url = settings.OPENROUTER_BASE_URL.rstrip("/") + "/key"
        try:
            response = httpx.get(
                url, headers={"Authorization": f"Bearer {api_key}"}, timeout=15, trust_env=False
            )
        except httpx.HTTPError:
            return KeyCheck(KeyStatus.UNVERIFIED, str(errors.no_connection(self.label)))
        if response.status_code == 401:
            return KeyCheck(KeyStatus.INVALID, f"{self.label} rejected the API key.")
        if response.status_code == 402:
            return KeyCheck(KeyStatus.NO_CREDIT, f"{self.label} reports no credit left.")
        if response.status_code != 200:
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"Could not verify the key: {self.label} answered HTTP {response.status_code}.",
            )
        try:
            info = response.json().get("data") or {}
            left = info.get("limit_remaining")
            left = None if left is None else Decimal(str(left))
        except (ValueError, AttributeError, InvalidOperation):
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"Could not verify the key: {self.label}'s answer was not understood.",
            )
        if left is not None and left <= 0:
            return KeyCheck(
                KeyStatus.NO_CREDIT,
                f"{self.label} accepted the key, but nothing is left of its spending limit.",
            )
        return KeyCheck(
            KeyStatus.VALID,
            f"{self.label} accepted the key"
            + (f" ({left} USD of its limit left)." if left is not None else " (no limit set)."),
        )

    def list_models(self, api_key, known: list[str]) -> Listing:
        """OpenRouter's image models: ``GET /models?output_modalities=image`` (the listing's
        default filter is text). Each model's spec follows its architecture (an image-only
        model is asked for ``modalities: ["image"]``) and supported parameters (seed);
        ``expiration_date`` becomes the shutdown date; no price is read (see below)."""
        url = settings.OPENROUTER_BASE_URL.rstrip("/") + "/models"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        try:
            response = httpx.get(
                url,
                params={"output_modalities": "image"},
                headers=headers,
                timeout=20,
                trust_env=False,
            )
        except httpx.HTTPError:
            raise errors.no_connection(self.label) from None
        if response.status_code == 401:
            raise errors.rejected_key(self.label)
        if response.status_code != 200:
            raise ProviderError(
                f"Could not read {self.label}'s model list (HTTP {response.status_code})."
            )
        try:
            body = response.json()
        except ValueError:
            raise ProviderError(f"Could not read {self.label}'s model list (not JSON).") from None
        entries = body.get("data") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            raise ProviderError(f"Could not read {self.label}'s model list (no data list).")
        models = [m for m in map(self._listed, entries) if m is not None]
        return Listing(models=models, complete=True)

    def _listed(self, entry) -> ListedModel | None:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            return None
        architecture = entry.get("architecture") or {}
        outputs = architecture.get("output_modalities") or []
        if "image" not in outputs:
            return None
        spec = copy.deepcopy(OPENROUTER_IMAGE_SPEC)
        spec["fixed_inputs"] = {"modalities": ["image", "text"] if "text" in outputs else ["image"]}
        if "seed" in (entry.get("supported_parameters") or []):
            spec["seed"] = True
        # A model that reads images edits them (image_url content parts); how many it takes
        # is not in the listing, so one until an admin writes the model's own limit.
        if "image" in (architecture.get("input_modalities") or []):
            spec["operations"] = ["generate", "edit"]
            spec["max_input_images"] = 1
        shutdown = None
        with contextlib.suppress(TypeError, ValueError):
            shutdown = date.fromisoformat(str(entry.get("expiration_date"))[:10])
        # No price: the listing's pricing values are USD per token, request or unit
        # (PublicPricing); ``image_output`` prices output image *tokens*, not images, so a
        # per-image price cannot be read from it. Actual charges come from usage.cost.
        return ListedModel(
            id=entry["id"],
            label=str(entry.get("name") or entry["id"])[:200],
            spec=spec,
            deprecated=shutdown is not None,
            shutdown_date=shutdown,
        )
