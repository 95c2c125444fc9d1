"""OpenAI images (the GPT image models: gpt-image-2, gpt-image-1.5, …) through the openai SDK.

A timed call to ``POST /images/generations`` (generate) or ``POST /images/edits`` (edit,
inpaint and outpaint: multipart, the input images as ``image[]`` parts, up to 16, and for
inpaint/outpaint a ``mask`` part: a PNG of the first image's size whose transparent pixels
are where it may change, converted from the app's white = change mask). GPT image models
always answer base64; an OpenAI-compatible gateway (``OPENAI_BASE_URL``) may answer URLs
instead, which the safe fetcher downloads. Cost comes from the ``usage`` tokens (input image
tokens priced as ``input_image``), else from the catalog's size/quality table. No remote
cancel exists: a canceled call is abandoned and its result discarded.

DALL·E 2 and 3 were removed from the API on 2026-05-12: their catalog rows stay for history and
a call for them gets 404 ``model_not_found``, reported as a model OpenAI no longer offers.
"""

import copy
import dataclasses
import math
import re
import time
from decimal import Decimal

from django.conf import settings
from PIL import Image, ImageOps

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import errors
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    GenerationTimedOut,
    InputImage,
    KeyCheck,
    KeyRestricted,
    KeyStatus,
    ListedModel,
    Listing,
    ModelSpec,
    Operation,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.cloud import CloudProvider
from imagegen.providers.fetch import decode_base64
from imagegen.providers.inputs import mask_for_openai, mask_pixels, png_input

# Imported on first use: see imagegen/core/lazy_import.py.
openai_sdk = lazy_module("openai")

CONTENT_POLICY_CODES = {"content_policy_violation", "moderation_blocked"}
# Where OpenAI asks an organisation to verify itself (its own 403 message names this page).
VERIFY_URL = "https://platform.openai.com/settings/organization/general"
# Ids of image models in OpenAI's model listing (``GET /v1/models``).
IMAGE_MODEL_PREFIXES = ("gpt-image-", "chatgpt-image-")
# What a GPT image model takes, as a catalog spec (the shape of a catalog.json entry, without
# provider, id, label and price): the parameters of ``ImageGenerateParams`` in openai-python
# (src/openai/types/image_generate_params.py, read 2026-12-05) common to every GPT image model.
GPT_IMAGE_SPEC = {
    "sizes": {"1024x1024": "1024x1024", "1536x1024": "1536x1024", "1024x1536": "1024x1536"},
    "max_images": 4,
    "steps": None,
    "cfg_scale": None,
    "negative_prompt": False,
    "seed": False,
    "max_prompt_length": 32000,
    "options": {
        "quality": ["low", "medium", "high", "auto"],
        # Not "transparent": gpt-image-2 refuses it, so a newly listed model is not offered
        # it until an admin adds it to the model's spec.
        "background": ["opaque", "auto"],
        "output_format": ["png", "jpeg", "webp"],
        "moderation": ["low", "auto"],
    },
    "passthrough": ["output_compression"],
    # POST /images/edits (ImageEditParams): up to 16 input images and an optional mask.
    "operations": ["generate", "edit", "inpaint"],
    "max_input_images": 16,
}
# The operations the images API performs for a GPT image model: edits (``POST /images/
# edits``) take up to 16 input images and an optional mask, so inpaint (and outpaint, which
# the runner turns into an inpaint of a padded canvas) are edits with a mask.
EDIT_OPERATIONS = (Operation.EDIT, Operation.INPAINT, Operation.OUTPAINT)
MASKED_OPERATIONS = (Operation.INPAINT, Operation.OUTPAINT)
# A model's options are one list for every operation, but each endpoint knows its own
# parameters (openai-python 3.54.0): ``moderation`` is in ImageGenerateParams only, and
# ``input_fidelity`` in ImageEditParams only. A parameter the endpoint does not know is left
# out (and named in the result's metadata) rather than refused by the API.
GENERATE_ONLY_PARAMS = ("moderation",)
EDIT_ONLY_PARAMS = ("input_fidelity",)
# ImageEditParams.mask: "Must be a valid PNG file, less than 4MB".
MASK_MAX_BYTES = 4 * 1024 * 1024


def make_client(api_key: str, base_url: str, ctx: RunContext | None, default_timeout=30.0):
    timeout = min(max(ctx.remaining(), 1.0), 600.0) if ctx else default_timeout
    return openai_sdk.OpenAI(api_key=api_key, base_url=base_url, max_retries=0, timeout=timeout)


def model_gone(label: str, model: str, per_key: bool = False) -> ProviderError:
    """The provider has removed (or never had) the model: no retry helps. ``per_key``: the
    provider's answer may also mean this key may not use it (OpenAI: "The model `x` does
    not exist or you do not have access to it.")."""
    if per_key:
        return ProviderError(
            f"{label} no longer offers the model {model} to this key (it was retired, or the "
            "key's project may not use it); choose another model."
        )
    return ProviderError(f"{label} no longer offers the model {model}; choose another model.")


def verification_needed(label: str, model: str) -> KeyRestricted:
    return KeyRestricted(
        f"{label} accepted the key, but the organisation must be verified to use the model "
        f"{model}: verify it at {VERIFY_URL} (access can take 15 minutes to arrive after "
        "verification).",
        model=model,
    )


def raise_openai_error(exc: Exception, label: str, ctx: RunContext, model: str = "") -> None:
    """Turn an openai SDK exception into a ProviderError in words, or Retryable.

    The codes are OpenAI's documented ones (error-codes guide) plus the answers the images
    endpoint gives: 404 ``model_not_found`` (a removed model), 403 "Your organization must be
    verified to use the model …" (code null), 400 ``billing_hard_limit_reached``."""
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
    raw_message = str(body.get("message") or "")
    message = errors.clean(raw_message, ctx)
    code = str(body.get("code") or body.get("type") or "")
    metadata = body.get("metadata") if isinstance(body.get("metadata"), dict) else {}
    if status == 404 and code == "model_not_found":
        raise model_gone(label, model or "requested", per_key=True) from None
    if status == 403 and "must be verified" in raw_message:
        raise verification_needed(label, model) from None
    if status == 403 and code == "unsupported_country_region_territory":
        raise ProviderError(
            f"{label} does not serve the country or region this server is in (HTTP 403)."
        ) from None
    if status == 403 and "insufficient permissions" in raw_message.lower():
        raise KeyRestricted(
            f"{label} accepted the key, but it lacks the permission for this request: {message}",
            model=model,
        ) from None
    if status in (401, 403) and not (status == 403 and metadata.get("reasons")):
        raise errors.rejected_key(label) from None
    if status == 402 or code in ("insufficient_quota", "billing_hard_limit_reached"):
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
    if status in (400, 404, 409, 413, 422):
        param = body.get("param")
        detail = f"{param}: {message}" if param and param not in message else message
        raise errors.invalid_parameters(label, errors.clean(detail, ctx)) from None
    if status in (408,) or status >= 500:
        raise errors.Retryable(status, errors.retry_after_seconds(exc.response.headers)) from None
    raise errors.unexpected(label, exc.request_id or "", f"HTTP {status}") from None


def openai_mask(mask: InputImage, image: InputImage) -> InputImage:
    """The app's mask (white = change) as OpenAI wants it: an RGBA PNG of the first image's
    size, transparent where the image may change. ``mask_for_openai`` keeps the picture in
    the opaque part; when that PNG passes OpenAI's 4 MB limit the mask is sent with flat
    black pixels instead (only the alpha channel tells OpenAI anything)."""
    if (mask.width, mask.height) != (image.width, image.height):
        raise ProviderError(
            f"The mask is {mask.width}x{mask.height} but the image it masks is "
            f"{image.width}x{image.height}; OpenAI needs them the same size."
        )
    converted = mask_for_openai(mask, image)
    if len(converted.data) < MASK_MAX_BYTES:
        return converted
    flat = Image.new("RGBA", (mask.width, mask.height), (0, 0, 0, 255))
    flat.putalpha(ImageOps.invert(mask_pixels(mask)))
    return png_input(flat)


def edit_size(spec: ModelSpec, request: GenerationRequest) -> str:
    """The ``size`` of an edit: the requested size when the model lists it, else ``auto``
    (an inpaint keeps the input's size, which is rarely one of the model's sizes: the model
    then picks the size closest to the input's shape)."""
    return str(spec.native_sizes.get(f"{request.width}x{request.height}", "auto"))


def priced_size(spec: ModelSpec, request: GenerationRequest) -> tuple[int, int]:
    """The size an estimate prices: the requested one when the model lists it, else (an
    edit sent with ``size=auto``) the listed size whose shape is closest to the request's."""
    wanted = (request.width, request.height)
    if not spec.sizes or wanted in spec.sizes or min(wanted) <= 0:
        return wanted
    shape = math.log(request.width / request.height)
    return min(spec.sizes, key=lambda size: abs(math.log(size[0] / size[1]) - shape))


def model_label(model_id: str) -> str:
    """A readable name for a listed id: ``gpt-image-1.5`` → ``GPT Image 1.5``,
    ``gpt-image-2-2026-04-21`` → ``GPT Image 2 (2026-04-21)``."""
    dated = re.fullmatch(r"(.*)-(\d{4}-\d{2}-\d{2})", model_id)
    base, snapshot = (dated[1], dated[2]) if dated else (model_id, "")
    names = {"gpt": "GPT", "chatgpt": "ChatGPT"}
    words = [names.get(w, w[:1].upper() + w[1:]) for w in base.split("-")]
    return " ".join(words) + (f" ({snapshot})" if snapshot else "")


class OpenAIProvider(CloudProvider):
    name = "openai"
    label = "OpenAI"

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        spec = self.spec(ctx, request.model)
        if request.operation == Operation.GENERATE:
            endpoint, body = "generate", self._generate_body(request)
            skipped = EDIT_ONLY_PARAMS
        elif request.operation in EDIT_OPERATIONS:
            endpoint, body = "edit", self._edit_body(spec, request)
            skipped = GENERATE_ONLY_PARAMS
        else:
            raise ProviderError(
                f"{self.label} cannot {str(request.operation).replace('_', ' ')} with "
                f"{request.model}; its GPT image models generate, edit and inpaint."
            )
        ignored = sorted(name for name in request.params if name in skipped)
        body.update({k: v for k, v in request.params.items() if k not in skipped})
        client = make_client(ctx.api_key, settings.OPENAI_BASE_URL, ctx)
        started = time.monotonic()

        def call():
            try:
                return getattr(client.images.with_raw_response, endpoint)(**body)
            except openai_sdk.OpenAIError as exc:
                raise_openai_error(exc, self.label, ctx, request.model)

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
            elif item.get("url"):  # an OpenAI-compatible gateway may answer URLs
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
            "size": data.get("size") if endpoint == "edit" else None,
            "ignored_params": ignored,
            "timings": {"provider_seconds": round(time.monotonic() - started, 3)},
        }
        return ProviderResult(
            images=images,
            request_id=request_id,
            cost_usd=cost,
            cost_is_estimate=estimated,
            metadata={k: v for k, v in metadata.items() if v},
        )

    @staticmethod
    def _generate_body(request: GenerationRequest) -> dict:
        return {
            "model": request.model,
            "prompt": request.prompt,
            "n": request.num_images,
            "size": f"{request.width}x{request.height}",
        }

    def _edit_body(self, spec: ModelSpec, request: GenerationRequest) -> dict:
        """``images.edit`` arguments: every input as an ``image[]`` file part (name, bytes,
        content type: OpenAI refuses a part whose type is not an image's), and for inpaint
        and outpaint the mask in OpenAI's convention."""
        operation = str(request.operation)
        inputs = request.input_images
        if not inputs:
            raise ProviderError(f"{self.label}: {operation} needs an input image.")
        body = {
            "model": request.model,
            "prompt": request.prompt,
            "n": request.num_images,
            "size": edit_size(spec, request),
            # A list, so the SDK names every part ``image[]`` (one or sixteen alike).
            "image": [
                (f"input-{index}.{image.extension}", image.data, image.mime)
                for index, image in enumerate(inputs, start=1)
            ],
        }
        if request.operation in MASKED_OPERATIONS:
            if request.mask is None:
                raise ProviderError(f"{self.label}: {operation} needs a mask.")
            mask = openai_mask(request.mask, inputs[0])
            body["mask"] = ("mask.png", mask.data, "image/png")
        return body

    def estimate_cost(self, request: GenerationRequest) -> Decimal | None:
        spec = self.get_model(request.model)
        return self._estimate(spec, request) if spec else None

    def _estimate(self, spec: ModelSpec, request: GenerationRequest) -> Decimal | None:
        """The catalog's size/quality table at the size OpenAI will make (for an edit, see
        ``priced_size``); input image tokens are known only from ``usage`` afterwards."""
        if request.operation == Operation.GENERATE:
            return self.price(spec, request)
        width, height = priced_size(spec, request)
        if (width, height) != (request.width, request.height):
            request = dataclasses.replace(request, width=width, height=height)
        return self.price(spec, request)

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
        return self._estimate(spec, request), True

    def _listed_ids(self, api_key) -> list[str]:
        """The ids of ``GET /v1/models`` for this key (SDK errors propagate)."""
        client = make_client(api_key, settings.OPENAI_BASE_URL, None, default_timeout=15)
        return [m.id for m in client.models.list()]

    def check_key(self, api_key) -> KeyCheck:
        """``models.list()`` answers for the key: valid, invalid, no credit, or restricted
        when catalog models the admin enabled are missing from the key's list."""
        try:
            listed = set(self._listed_ids(api_key))
        except openai_sdk.AuthenticationError:
            return KeyCheck(KeyStatus.INVALID, "OpenAI rejected the API key.")
        except openai_sdk.PermissionDeniedError:
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                "Could not verify the key: OpenAI refused the check endpoint (HTTP 403; a "
                "restricted key may lack the Models read permission).",
            )
        except openai_sdk.RateLimitError as exc:
            body = exc.body if isinstance(exc.body, dict) else {}
            if body.get("code") == "insufficient_quota":
                return KeyCheck(
                    KeyStatus.NO_CREDIT, "OpenAI accepted the key but reports no credit left."
                )
            return KeyCheck(KeyStatus.UNVERIFIED, "Could not verify the key: rate limited.")
        except openai_sdk.APIConnectionError:
            return KeyCheck(KeyStatus.UNVERIFIED, str(errors.no_connection(self.label)))
        except openai_sdk.APIStatusError as exc:
            return KeyCheck(
                KeyStatus.UNVERIFIED,
                f"Could not verify the key: OpenAI answered HTTP {exc.status_code}.",
            )
        missing = [m.id for m in self.models() if m.available and m.id not in listed]
        if missing:
            return KeyCheck(
                KeyStatus.RESTRICTED,
                "OpenAI accepted the key, but it cannot use "
                + ", ".join(missing)
                + " (not in the key's model list: the project may limit its models).",
            )
        return KeyCheck(KeyStatus.VALID, "OpenAI accepted the key.")

    def list_models(self, api_key, known: list[str]) -> Listing:
        """OpenAI's own listing: the GPT image models (and any catalog id) it still lists.

        Each new GPT image model gets the common GPT image spec; OpenAI publishes no
        shutdown dates in the API (they are hand-written in catalog.json)."""
        if not api_key:
            raise errors.no_listing_key(self.label)
        try:
            listed = self._listed_ids(api_key)
        except openai_sdk.AuthenticationError:
            raise errors.rejected_key(self.label) from None
        except openai_sdk.APIConnectionError:
            raise errors.no_connection(self.label) from None
        except openai_sdk.APIStatusError as exc:
            raise ProviderError(
                f"Could not read OpenAI's model list (HTTP {exc.status_code})."
            ) from None
        models = []
        for model_id in listed:
            is_gpt_image = model_id.startswith(IMAGE_MODEL_PREFIXES)
            if not is_gpt_image and model_id not in known:
                continue
            models.append(
                ListedModel(
                    id=model_id,
                    label=model_label(model_id),
                    spec=copy.deepcopy(GPT_IMAGE_SPEC) if is_gpt_image else None,
                )
            )
        return Listing(models=models, complete=True)
