"""Fake fal.ai: the queue API, the platform model listing and the pricing endpoint, as strict
as the real ones for the endpoints it knows.

Use::

    with FakeFal() as fake:
        h = {"Authorization": "Key fal-key-id:fal-key-secret"}
        sub = httpx.post(fake.base_url + "/fal-ai/flux/dev", json={"prompt": "x"}, headers=h).json()
        httpx.get(sub["status_url"], headers=h).json()   # {"status": "COMPLETED", ...}
        httpx.get(sub["response_url"], headers=h).json()  # {"images": [...], ...}

Sources (cited again where each behaviour is written):

* fal_client (github fal-ai/fal ``projects/fal_client/src/fal_client/client.py`` at c6f0afa):
  submit/status/result/cancel URLs, ``_parse_status`` (IN_QUEUE needs ``queue_position``,
  IN_PROGRESS/COMPLETED need ``logs``, COMPLETED may carry ``error``/``error_type``),
  ``_raise_for_status`` (``detail`` + ``error_type`` or ``X-Fal-Error-Type``), and the retry
  rules (``RETRY_CODES = [408, 409, 429]``; ``_is_ingress_error``: 502/503/504 with no
  ``x-fal-request-id`` header and ``nginx`` in the body).
* fal-js ``libs/client/src/types/endpoints.ts`` (FluxDevInput, ``FluxSchnellInput =
  FluxDevInput``, FluxProV11Input, FastSdxlInput, ImageSize, the outputs' ``seed`` and
  ``has_nsfw_concepts``) for field names, enums and defaults; fal's model reference pages
  (fal.ai/docs/model-api-reference/image-generation-api/flux-schnell: steps 1..12, guidance
  1..20, num_images 1..4) and the OpenAPI documents fal serves (``x-fal-order-properties``,
  ``ImageSize`` with ``exclusiveMinimum: 0, maximum: 14142``) for ranges.
* docs.fal.ai/errors: 422 ``{"detail": [{loc, msg, type, url, ctx?, input?}]}`` and the
  ``X-Fal-Retryable`` header; request errors ``{"detail", "error_type"}`` + ``X-Fal-Error-Type``
  (request_timeout 504, runner_* 503/502, runner_server_error/internal_error 500).
  fal's apps validate with pydantic v2, hence its error types (``missing``,
  ``less_than_equal``, ``literal_error``, ``int_type``...) and that unknown fields are
  ignored (``extra="ignore"``): the fake ignores them too but records them
  (``.ignored_fields``) so tests can catch misnamed fields.
* docs.fal.ai/platform-apis/v1/models (``GET /v1/models``: ``endpoint_id`` (1-50, repeated),
  ``category``, ``status`` active|deprecated, ``expand=openapi-3.0``, ``limit``, ``cursor``
  (base64 page number, e.g. ``"Mg=="``); answer ``{"models": [{"endpoint_id", "metadata":
  {display_name, category, description, status, ...}, "openapi"?}], "next_cursor",
  "has_more"}``) and .../v1/models/pricing (``{"prices": [{endpoint_id, unit_price, unit,
  currency}], "next_cursor", "has_more"}``; its own example answers ``fal-ai/flux/dev``
  with ``unit_price 0.025, unit "image"`` though the model is billed per megapixel, as is
  the fal-platform skill's sample output "fal-ai/flux/dev Price: $0.025 per image").
  One rendering of those pages names the key an "Admin API key": the
  ``pricing_admin_only`` scenario refuses other keys.
* docs.fal.ai/faq: a locked account (balance below the lock threshold) has its requests
  rejected ("User is locked. Reason: Exhausted balance" as fal words it).

Not found in any source (chosen, marked UNVERIFIED where used): the body of a submit to an
unknown app (404 ``{"detail": "Application '<app>' not found"}``), the platform API's error
object (``{"error": {"type", "message"}}``, kept from the earlier fake), a published
shutdown date (fal's listing has only ``status: deprecated``, so the fake has none), and
whether a status GET for an unknown request id answers 404 (used by the provider's key check).

Constructor: ``FakeFal(api_keys={"fal-key-id:fal-key-secret"}, admin_keys=(), prices=None,
scenario="success", options=None, ...)``; ``prices`` maps endpoint id -> ``(unit_price,
unit)`` as the pricing API states them.

Queue routes: ``POST /{owner}/{app}[/{subpath}]`` submit -> 200 ``{request_id, response_url,
status_url, cancel_url, status: "IN_QUEUE", queue_position}`` (absolute URLs *without* the
subpath) or 404 for an endpoint the fake does not know; ``GET .../requests/{id}/status``;
``GET .../requests/{id}`` (400 ``Request is still in progress`` until COMPLETED); ``PUT
.../requests/{id}/cancel``. Input is validated when the job runs, as fal's runner does: the
submit is accepted, the status turns COMPLETED with ``error``/``error_type``, and the result
answers 422 with the ``detail`` list.

Image-to-image endpoints (category ``image-to-image``): ``fal-ai/flux-pro/kontext``
(``image_url``), ``fal-ai/nano-banana/edit`` (``image_urls``, prompt of 3 characters or more),
``fal-ai/flux-pro/v1/fill`` (``image_url`` + ``mask_url`` of the same size),
``fal-ai/seedvr/upscale/image`` (``upscale_factor`` 1..10; answers one ``image``) and
``fal-ai/birefnet/v2`` (no prompt; answers one transparent ``image``). Once the input
validates, every image input must be an https URL (not fetched) or a base64 ``data:image/...``
URI that decodes to an image (tests/fakes/image_inputs.py), else the job fails with fal's
``file_download_error`` / ``image_load_error``. Outputs follow the inputs: an edit keeps the
input's size (or the asked aspect ratio), a fill the image's, the upscaler multiplies it.

Platform routes (``/v1/...``, on api.fal.ai in reality): ``GET /v1/models`` and ``GET
/v1/models/pricing``. Listing state: ``add_listed_model(endpoint_id, schema=None, label=...,
category="text-to-image", price=(0.01, "image"))`` (also makes the endpoint submittable),
``remove_listed_model(id)`` (gone from listing, pricing and queue), ``set_model_deprecated(id)``.
``listing_page_size`` (default 2) forces pages.

Scenarios (``fake.set_scenario(name, **options)``); stages ``submit``, ``status``, ``result``,
``cancel``, ``pricing``, ``models``; default ``stage="submit"``:

``success``            options ``images`` / ``n``, ``seed``, ``polls`` (default 1),
                       ``inference_time``; ``sync_mode`` input -> data URIs.
``queue_polls``        ``polls`` (default 3).
``slow``               ``seconds`` (default 1, max 30).
``unauthorized``       401 on every route.
``no_credit``          403 ``User is locked. Reason: Exhausted balance...``.
``rate_limited_once``  first submit 429, then success.  ``rate_limited``: always 429.
``content_policy``     default stage ``result``: COMPLETED with ``error_type
                       content_policy_violation``, result 422 (``stage="submit"``: the submit).
``validation``         like ``content_policy`` with a ``less_than_equal`` detail on ``field``.
``model_failed``       COMPLETED with ``error``/``error_type`` (``runner_server_error``); the
                       result answers ``status`` (500) ``{"detail", "error_type"}`` with
                       ``X-Fal-Error-Type`` and ``x-fal-request-id`` (fal's own server).
``server_error``       500 ``internal_error`` from fal's server (``status=503`` ->
                       ``runner_scheduling_failure`` ...); not an ingress error.
``ingress_error``      ``status`` (502) with nginx's HTML page and no ``x-fal-request-id``:
                       what fal_client retries; ``times`` (default 1) then success.
``submit_timeout``     the job is queued, then the submit answer is held ``seconds`` (5).
``nsfw``               ``flags`` (default ``[True, False]``): flagged images come back black
                       and ``has_nsfw_concepts`` says which.
``pricing_admin_only`` the pricing endpoint answers 403 to keys not in ``admin_keys``.
``malformed``          200 with an invalid JSON body.
``result_url``         option ``url``: every ``images[].url`` (relative paths made absolute).
"""

from __future__ import annotations

import base64
import copy
import random
import threading
import time
import uuid

from .base import MIME, FakeServer, Req, Resp, make_image, palette
from .image_inputs import BadImage, decode_image_input, png

PRESETS = {  # fal-js ImageSize presets; pixel sizes as fal's docs table gives them
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
# As fal's pricing API states them: ``unit: "image"`` even for the FLUX.1 models billed per
# megapixel (the pricing page's own example for fal-ai/flux/dev).
PRICES = {
    "fal-ai/flux/schnell": (0.003, "image"),
    "fal-ai/flux/dev": (0.025, "image"),
    "fal-ai/flux-pro/v1.1": (0.04, "image"),
    "fal-ai/fast-sdxl": (0.0025, "image"),
    "fal-ai/flux-pro/kontext": (0.04, "image"),
    "fal-ai/nano-banana/edit": (0.039, "image"),
    "fal-ai/flux-pro/v1/fill": (0.05, "image"),
    "fal-ai/seedvr/upscale/image": (0.001, "image"),
    "fal-ai/birefnet/v2": (0.0008, "second"),
}
ERROR_TYPES = {
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_scheduling_failure",
    504: "request_timeout",
}
DOCS = "https://docs.fal.ai/errors"
NGINX_PAGE = (
    "<html>\r\n<head><title>{status} Bad Gateway</title></head>\r\n<body>\r\n<center><h1>"
    "{status} Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
BLACK = (0, 0, 0)


# --------------------------------------------------------------------------- schemas
def _image_size_prop(default: str) -> dict:
    return {
        "anyOf": [
            {"$ref": "#/components/schemas/ImageSize"},
            {"enum": list(PRESETS), "type": "string"},
        ],
        "title": "Image Size",
        "description": "The size of the generated image.",
        "default": default,
    }


IMAGE_SIZE = {  # as in fal's served OpenAPI documents
    "type": "object",
    "title": "ImageSize",
    "properties": {
        "width": {"type": "integer", "exclusiveMinimum": 0, "maximum": 14142, "default": 512},
        "height": {"type": "integer", "exclusiveMinimum": 0, "maximum": 14142, "default": 512},
    },
}
COMMON = {
    "prompt": {"type": "string", "title": "Prompt"},
    "seed": {"type": "integer", "title": "Seed"},
    "sync_mode": {"type": "boolean", "title": "Sync Mode", "default": False},
}


def _flux(steps_max: int, steps_default: int) -> dict:
    """FluxDevInput (fal-js); FluxSchnellInput is the same type with its own ranges."""
    return {
        "type": "object",
        "required": ["prompt"],
        "properties": {
            **COMMON,
            "image_size": _image_size_prop("landscape_4_3"),
            "num_inference_steps": {
                "type": "integer",
                "minimum": 1,
                "maximum": steps_max,
                "default": steps_default,
            },
            "guidance_scale": {"type": "number", "minimum": 1, "maximum": 20, "default": 3.5},
            "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
            "enable_safety_checker": {"type": "boolean", "default": True},
            "output_format": {"enum": ["jpeg", "png"], "type": "string", "default": "jpeg"},
            "acceleration": {
                "enum": ["none", "regular", "high"],
                "type": "string",
                "default": "none",
            },
        },
    }


FLUX_PRO_V11 = {  # FluxProV11Input (fal-js): no steps, no guidance; safety_tolerance "1".."6"
    "type": "object",
    "required": ["prompt"],
    "properties": {
        **COMMON,
        "image_size": _image_size_prop("landscape_4_3"),
        "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "output_format": {"enum": ["jpeg", "png"], "type": "string", "default": "jpeg"},
        "safety_tolerance": {
            "enum": ["1", "2", "3", "4", "5", "6"],
            "type": "string",
            "default": "2",
        },
        "enhance_prompt": {"type": "boolean", "default": False},
    },
}
FAST_SDXL = {  # FastSdxlInput (fal-js); note ``format``, not ``output_format``
    "type": "object",
    "required": ["prompt"],
    "properties": {
        **COMMON,
        "negative_prompt": {"type": "string", "default": ""},
        "image_size": _image_size_prop("square_hd"),
        "num_inference_steps": {"type": "integer", "minimum": 1, "maximum": 50, "default": 25},
        "guidance_scale": {"type": "number", "minimum": 0, "maximum": 20, "default": 7.5},
        "num_images": {"type": "integer", "minimum": 1, "maximum": 8, "default": 1},
        "enable_safety_checker": {"type": "boolean", "default": True},
        "safety_checker_version": {"enum": ["v1", "v2"], "type": "string", "default": "v1"},
        "expand_prompt": {"type": "boolean", "default": False},
        "format": {"enum": ["jpeg", "png"], "type": "string", "default": "jpeg"},
        "loras": {"type": "array", "items": {"type": "object"}, "default": []},
        "embeddings": {"type": "array", "items": {"type": "object"}, "default": []},
        "request_id": {"type": "string", "default": ""},
    },
}
# --- image-to-image endpoints (fal-js libs/client/src/types/endpoints.ts at 381105e, 2026-08:
# FluxKontextInput, NanoBananaEditInput, FluxProFillInput, SeedVRImageInput, BirefnetV2Input;
# ranges from the zod schemas of libs/client/src/types/image/zod.gen.ts at 5324132 and fal's model
# pages). Image inputs are strings (a URL or a data URI; fal's runner downloads or decodes them).
SAFETY = {"enum": ["1", "2", "3", "4", "5", "6"], "type": "string"}
KONTEXT_RATIOS = ["21:9", "16:9", "4:3", "3:2", "1:1", "2:3", "3:4", "9:16", "9:21"]
FLUX_PRO_KONTEXT = {
    "type": "object",
    "required": ["prompt", "image_url"],
    "properties": {
        **COMMON,
        "image_url": {"type": "string", "title": "Image URL"},
        "guidance_scale": {"type": "number", "minimum": 1, "maximum": 20, "default": 3.5},
        "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "output_format": {"enum": ["jpeg", "png"], "type": "string", "default": "jpeg"},
        "safety_tolerance": {**SAFETY, "default": "2"},
        "enhance_prompt": {"type": "boolean", "default": False},
        "aspect_ratio": {"enum": KONTEXT_RATIOS, "type": "string"},
    },
}
NANO_BANANA_EDIT = {
    "type": "object",
    "required": ["prompt", "image_urls"],
    "properties": {
        **COMMON,
        "prompt": {"type": "string", "minLength": 3, "maxLength": 50000},
        "image_urls": {"type": "array", "items": {"type": "string"}},
        "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "aspect_ratio": {
            "enum": ["auto", "21:9", "16:9", "3:2", "4:3", "5:4", "1:1", "4:5", "3:4", "2:3",
                     "9:16"],
            "type": "string",
            "default": "auto",
        },
        "output_format": {"enum": ["jpeg", "png", "webp"], "type": "string", "default": "png"},
        "safety_tolerance": {**SAFETY, "default": "4"},
        "limit_generations": {"type": "boolean", "default": True},
    },
}  # fmt: skip
FLUX_PRO_FILL = {
    "type": "object",
    "required": ["prompt", "image_url", "mask_url"],
    "properties": {
        **COMMON,
        "image_url": {"type": "string", "description": "Needs to match the mask's dimensions."},
        "mask_url": {"type": "string", "description": "Needs to match the image's dimensions."},
        "num_images": {"type": "integer", "minimum": 1, "maximum": 4, "default": 1},
        "output_format": {"enum": ["jpeg", "png"], "type": "string", "default": "jpeg"},
        "safety_tolerance": {**SAFETY, "default": "2"},
        "enhance_prompt": {"type": "boolean", "default": False},
    },
}
SEEDVR_UPSCALE = {
    "type": "object",
    "required": ["image_url"],
    "properties": {
        "image_url": {"type": "string"},
        "upscale_mode": {"enum": ["target", "factor"], "type": "string", "default": "factor"},
        "upscale_factor": {"type": "number", "minimum": 1, "maximum": 10, "default": 2},
        "target_resolution": {
            "enum": ["720p", "1080p", "1440p", "2160p"], "type": "string", "default": "1080p",
        },
        "seed": {"type": "integer"},
        "noise_scale": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1},
        "output_format": {"enum": ["png", "jpg", "webp"], "type": "string", "default": "jpg"},
        "sync_mode": {"type": "boolean", "default": False},
    },
}  # fmt: skip
BIREFNET_V2 = {
    "type": "object",
    "required": ["image_url"],
    "properties": {
        "image_url": {"type": "string"},
        "model": {
            "enum": ["General Use (Light)", "General Use (Light 2K)", "General Use (Heavy)",
                     "Matting", "Portrait", "General Use (Dynamic)"],
            "type": "string",
            "default": "General Use (Light)",
        },
        "operating_resolution": {
            "enum": ["1024x1024", "2048x2048", "2304x2304"], "type": "string",
            "default": "1024x1024",
        },
        "output_format": {"enum": ["webp", "png", "gif"], "type": "string", "default": "png"},
        "output_mask": {"type": "boolean", "default": False},
        "refine_foreground": {"type": "boolean", "default": True},
        "mask_only": {"type": "boolean", "default": False},
        "sync_mode": {"type": "boolean", "default": False},
    },
}  # fmt: skip
# Which inputs carry an image, per endpoint: (name, is a list).
IMAGE_FIELDS = {
    "fal-ai/flux-pro/kontext": (("image_url", False),),
    "fal-ai/nano-banana/edit": (("image_urls", True),),
    "fal-ai/flux-pro/v1/fill": (("image_url", False), ("mask_url", False)),
    "fal-ai/seedvr/upscale/image": (("image_url", False),),
    "fal-ai/birefnet/v2": (("image_url", False),),
}
ENDPOINTS = {
    "fal-ai/flux/schnell": ("FLUX.1 [schnell]", "text-to-image", _flux(12, 4)),
    "fal-ai/flux/dev": ("FLUX.1 [dev]", "text-to-image", _flux(50, 28)),
    "fal-ai/flux-pro/v1.1": ("FLUX1.1 [pro]", "text-to-image", FLUX_PRO_V11),
    "fal-ai/fast-sdxl": ("Fast SDXL", "text-to-image", FAST_SDXL),
    "fal-ai/flux-pro/kontext": ("FLUX.1 Kontext [pro]", "image-to-image", FLUX_PRO_KONTEXT),
    "fal-ai/nano-banana/edit": ("Nano Banana", "image-to-image", NANO_BANANA_EDIT),
    "fal-ai/flux-pro/v1/fill": ("FLUX.1 [pro] Fill", "image-to-image", FLUX_PRO_FILL),
    "fal-ai/seedvr/upscale/image": ("SeedVR2", "image-to-image", SEEDVR_UPSCALE),
    "fal-ai/birefnet/v2": ("Birefnet Background Removal", "image-to-image", BIREFNET_V2),
    # Another category, so a listing filtered to text-to-image has something to leave out.
    "fal-ai/kling-video/v2.1/pro/image-to-video": (
        "Kling 2.1 Pro",
        "image-to-video",
        {
            "type": "object",
            "required": ["prompt", "image_url"],
            "properties": {"prompt": {"type": "string"}, "image_url": {"type": "string"}},
        },
    ),
}


def _schema_name(endpoint_id: str) -> str:
    return "".join(p.capitalize() for p in endpoint_id.replace("-", "/").split("/")) + "Input"


def openapi_document(endpoint_id: str, input_schema: dict, category: str) -> dict:
    """The endpoint's OpenAPI 3.0 document as fal serves it (input as a component, ImageSize
    as another, the submit path's request body a ``$ref``)."""
    name = _schema_name(endpoint_id)
    schema = copy.deepcopy(input_schema)
    schema["x-fal-order-properties"] = list(schema.get("properties", {}))
    return {
        "openapi": "3.0.4",
        "info": {
            "title": f"Queue OpenAPI for {endpoint_id}",
            "version": "1.0.0",
            "x-fal-metadata": {"endpointId": endpoint_id, "category": category},
        },
        "components": {"schemas": {name: schema, "ImageSize": copy.deepcopy(IMAGE_SIZE)}},
        "paths": {
            f"/{endpoint_id}": {
                "post": {
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}
                        },
                    },
                    "responses": {"200": {"description": "The request status."}},
                }
            }
        },
    }


def _resolve(node, root: dict, depth: int = 0):
    """Inline local ``$ref``s (the fake's own copy: it must not borrow the code under test)."""
    if depth > 20:
        return {}
    if isinstance(node, list):
        return [_resolve(n, root, depth + 1) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        rest = {k: v for k, v in node.items() if k != "$ref"}
        return {**_resolve(target, root, depth + 1), **_resolve(rest, root, depth + 1)}
    return {k: _resolve(v, root, depth + 1) for k, v in node.items()}


# --------------------------------------------------------------------------- validation
def _err(loc: list, type_: str, msg: str, value, ctx: dict | None = None) -> dict:
    """One item of fal's ``detail`` list (docs.fal.ai/errors; pydantic v2 types)."""
    out = {"loc": loc, "msg": msg, "type": type_, "url": f"{DOCS}#{type_}", "input": value}
    if ctx:
        out["ctx"] = ctx
    return out


def _ratio_dims(ratio: str) -> tuple[int, int]:
    """About one megapixel at ``ratio`` ("16:9"), in multiples of 16 (what the FLUX and
    Gemini image models return for an aspect ratio, near enough for a fake)."""
    across, down = (float(x) for x in ratio.split(":"))
    width = round((1024 * 1024 * across / down) ** 0.5 / 16) * 16
    return width, round(width * down / across / 16) * 16


def _quote(values) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]


def validate(value, schema: dict, loc: list) -> list[dict]:
    """Pydantic-v2-style errors for ``value`` against a resolved JSON schema node."""
    if "anyOf" in schema:
        branches = schema["anyOf"]
        results = [validate(value, b, loc) for b in branches]
        if any(not r for r in results):
            return []
        # Report the branch of the value's own kind (a string against the preset enum).
        for branch, result in zip(branches, results, strict=True):
            kind = branch.get("type")
            if (kind == "string" and isinstance(value, str)) or (
                kind == "object" and isinstance(value, dict)
            ):
                return result
        return results[-1]
    if "enum" in schema:
        if value not in schema["enum"]:
            expected = _quote(schema["enum"])
            return [
                _err(
                    loc,
                    "literal_error",
                    f"Input should be {expected}",
                    value,
                    {"expected": expected},
                )
            ]
        return []
    kind = schema.get("type")
    if kind == "integer":
        if isinstance(value, bool) or not isinstance(value, int):
            return [_err(loc, "int_type", "Input should be a valid integer", value)]
    elif kind == "number":
        if isinstance(value, bool) or not isinstance(value, int | float):
            return [_err(loc, "float_type", "Input should be a valid number", value)]
    elif kind == "boolean":
        if not isinstance(value, bool):
            return [_err(loc, "bool_type", "Input should be a valid boolean", value)]
    elif kind == "string":
        if not isinstance(value, str):
            return [_err(loc, "string_type", "Input should be a valid string", value)]
        low, high = schema.get("minLength"), schema.get("maxLength")
        if low is not None and len(value) < low:
            word = "character" if low == 1 else "characters"
            return [
                _err(loc, "string_too_short", f"String should have at least {low} {word}",
                     value, {"min_length": low})
            ]  # fmt: skip
        if high is not None and len(value) > high:
            return [
                _err(loc, "string_too_long", f"String should have at most {high} characters",
                     value, {"max_length": high})
            ]  # fmt: skip
    elif kind == "array":
        if not isinstance(value, list):
            return [_err(loc, "list_type", "Input should be a valid list", value)]
        items = schema.get("items")
        errors = []
        for i, item in enumerate(value if isinstance(items, dict) else ()):
            errors += validate(item, items, [*loc, i])
        return errors
    elif kind == "object":
        if not isinstance(value, dict):
            return [_err(loc, "dict_type", "Input should be a valid dictionary", value)]
        errors = []
        for name in schema.get("required", []):
            if name not in value:
                errors.append(_err([*loc, name], "missing", "Field required", value))
        for name, sub in schema.get("properties", {}).items():
            if name in value:
                errors += validate(value[name], sub, [*loc, name])
        return errors
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            m = schema["minimum"]
            return [
                _err(
                    loc,
                    "greater_than_equal",
                    f"Input should be greater than or equal to {m}",
                    value,
                    {"ge": m},
                )
            ]
        if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
            m = schema["exclusiveMinimum"]
            return [
                _err(loc, "greater_than", f"Input should be greater than {m}", value, {"gt": m})
            ]
        if "maximum" in schema and value > schema["maximum"]:
            m = schema["maximum"]
            return [
                _err(
                    loc,
                    "less_than_equal",
                    f"Input should be less than or equal to {m}",
                    value,
                    {"le": m},
                )
            ]
    return []


def detail(status: int, text, error_type: str | None = None, request_id: str = "") -> Resp:
    """A request error as fal's server words it: ``{"detail", "error_type"}`` plus the
    ``X-Fal-Error-Type`` header; ``x-fal-request-id`` when the answer concerns a request."""
    body = {"detail": text}
    headers = {}
    if error_type:
        body["error_type"] = error_type
        headers["X-Fal-Error-Type"] = error_type
    if request_id:
        headers["x-fal-request-id"] = request_id
    return Resp(status, body, headers)


def platform_error(status: int, type_: str, message: str) -> Resp:
    """The platform API's error object (UNVERIFIED wording, see the module docstring)."""
    return Resp(status, {"error": {"type": type_, "message": message}})


class FakeFal(FakeServer):
    default_stage = "submit"

    def __init__(self, *, api_keys=None, admin_keys=(), prices=None, **kwargs):
        self.api_keys = set(api_keys or {"fal-key-id:fal-key-secret"})
        self.admin_keys = set(admin_keys)
        self._default_prices = dict(prices or PRICES)
        self.listing_page_size = 2
        self._jlock = threading.Lock()
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self._jobs: dict[str, dict] = {}
        self._ignored: list[dict] = []
        self._ingress_fired = 0
        self.prices = dict(self._default_prices)
        self.endpoints = {
            eid: {
                "label": label,
                "category": category,
                "schema": copy.deepcopy(schema),
                "status": "active",
                "listed": True,
            }
            for eid, (label, category, schema) in ENDPOINTS.items()
        }

    @property
    def jobs(self) -> dict[str, dict]:
        with self._jlock:
            return {k: dict(v) for k, v in self._jobs.items()}

    @property
    def ignored_fields(self) -> list[dict]:
        """Fields a submit carried that the endpoint's schema does not have (fal ignores
        them): ``[{"endpoint", "fields"}]``."""
        with self._jlock:
            return list(self._ignored)

    def input_schema(self, endpoint_id: str) -> dict:
        """The endpoint's input schema with references inlined (for tests)."""
        schema = self.endpoints[endpoint_id]["schema"]
        return _resolve(schema, openapi_document(endpoint_id, schema, ""))

    # ------------------------------------------------------------------ listing state
    def add_listed_model(
        self,
        endpoint_id: str,
        schema: dict | None = None,
        label: str = "",
        category: str = "text-to-image",
        price: tuple | None = (0.01, "image"),
    ) -> None:
        with self._jlock:
            self.endpoints[endpoint_id] = {
                "label": label or endpoint_id,
                "category": category,
                "schema": copy.deepcopy(schema or _flux(50, 28)),
                "status": "active",
                "listed": True,
            }
            if price:
                self.prices[endpoint_id] = price

    def remove_listed_model(self, endpoint_id: str) -> None:
        with self._jlock:
            self.endpoints.pop(endpoint_id, None)
            self.prices.pop(endpoint_id, None)

    def set_model_deprecated(self, endpoint_id: str, deprecated: bool = True) -> None:
        with self._jlock:
            self.endpoints[endpoint_id]["status"] = "deprecated" if deprecated else "active"

    # ------------------------------------------------------------------ routing
    def stage_for(self, scenario: str) -> str | None:
        return "result" if scenario in ("content_policy", "validation") else None

    def scenario_error(self, stage: str) -> Resp | None:
        if stage == "result" and self.scenario in ("content_policy", "validation"):
            return None  # _result() answers once the job is COMPLETED
        return super().scenario_error(stage)

    def handle_api(self, req: Req) -> Resp:
        p, m = req.parts, req.method
        auth = req.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        key = key.strip()
        if m == "GET" and p == ["v1", "models"] and not auth:
            return self.scenario_error("models") or self._models(req)  # auth is optional here
        if scheme.lower() != "key" or ":" not in key:
            return detail(
                401, "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
            )
        if key not in self.api_keys or self.scenario == "unauthorized":
            return detail(401, "No user found for Key ID and Secret")
        if m == "GET" and p == ["v1", "models"]:
            return self.scenario_error("models") or self._models(req)
        if m == "GET" and p == ["v1", "models", "pricing"]:
            if self.scenario == "pricing_admin_only" and key not in self.admin_keys:
                return platform_error(403, "authorization_error", "Admin API key required")
            return self.scenario_error("pricing") or self._pricing(req)
        if len(p) >= 4 and p[2] == "requests":
            rid, rest = p[3], p[4:]
            if m == "GET" and rest == ["status"]:
                return self.scenario_error("status") or self._status(req, rid)
            if m == "GET" and rest == []:
                return self.scenario_error("result") or self._result(rid)
            if m == "PUT" and rest == ["cancel"]:
                return self.scenario_error("cancel") or self._cancel(f"{p[0]}/{p[1]}", rid)
        if m == "POST" and len(p) >= 2:
            if self.scenario == "ingress_error" and self.stage_matches("submit"):
                with self._jlock:
                    fire = self._ingress_fired < int(self.opt("times", 1))
                    self._ingress_fired += fire
                if fire:  # what fal_client's _is_ingress_error recognises
                    status = int(self.opt("status", 502))
                    page = NGINX_PAGE.format(status=status).encode()
                    return Resp(status, page, content_type="text/html")
            return self.scenario_error("submit") or self._submit(req, p)
        return detail(404, "Not Found")

    def error_response(self, kind: str) -> Resp | None:
        msg = self.opt("message")
        if kind == "no_credit":
            return detail(
                403,
                msg
                or "User is locked. Reason: Exhausted balance. Top up your "
                "balance at fal.ai/dashboard/billing.",
            )
        if kind in ("rate_limited", "rate_limited_once"):
            resp = detail(429, msg or "Rate limit exceeded")
            resp.headers.update(self.retry_headers(kind == "rate_limited_once"))
            return resp
        if kind in ("content_policy", "validation"):
            return Resp(422, {"detail": self._policy_detail(kind)})
        if kind == "server_error":
            status = int(self.opt("status", 500))
            return detail(
                status, msg or "Internal server error", ERROR_TYPES.get(status, "internal_error")
            )
        return None

    def _policy_detail(self, kind: str, inp: dict | None = None) -> list:
        inp = inp or {}
        if kind == "content_policy":
            item = _err(
                ["body", "prompt"],
                "content_policy_violation",
                self.opt("message", "The content was flagged by a content checker."),
                inp.get("prompt"),
            )
            return [{**item, "categories": ["sexual"]}]
        field = self.opt("field", "num_images")
        return [
            _err(
                ["body", field],
                "less_than_equal",
                self.opt("message", "Input should be less than or equal to 4"),
                inp.get(field),
                {"le": 4},
            )
        ]

    # ------------------------------------------------------------------ queue
    def _submit(self, req: Req, p: list[str]) -> Resp:
        endpoint, app = "/".join(p), f"{p[0]}/{p[1]}"
        with self._jlock:
            known = endpoint in self.endpoints
            schema = self.endpoints[endpoint]["schema"] if known else None
        if not known:  # UNVERIFIED body (see the module docstring)
            return detail(404, f"Application '{app}' not found")
        if isinstance(req.json, dict):
            extra = sorted(set(req.json) - set(schema.get("properties", {})))
            if extra:
                with self._jlock:
                    self._ignored.append({"endpoint": endpoint, "fields": extra})
        rid = str(uuid.uuid4())
        polls = int(self.opt("polls", 3 if self.scenario == "queue_polls" else 1))
        job = {
            "request_id": rid,
            "endpoint": endpoint,
            "app": app,
            "input": req.json,
            "polls": max(1, polls),
            "seen": 0,
            "state": "IN_QUEUE",
            "canceled": False,
            "scenario": self.scenario,
            "options": dict(self.options),
            "submitted_at": time.time(),
        }
        with self._jlock:
            self._jobs[rid] = job
        if self.scenario == "submit_timeout":  # queued (and billable); the answer is late
            self._stopping.wait(min(float(self.opt("seconds", 5)), 30.0))
        base = f"{self.base_url}/{app}/requests/{rid}"
        return Resp(
            200,
            {
                "request_id": rid,
                "response_url": base,
                "status_url": f"{base}/status",
                "cancel_url": f"{base}/cancel",
                "status": "IN_QUEUE",
                "queue_position": max(0, (job["polls"] - 1) // 2),
            },
            {"x-fal-request-id": rid},
        )

    def _check_input(self, job: dict) -> list:
        with self._jlock:
            entry = self.endpoints.get(job["endpoint"])
        if entry is None:
            return []
        schema = self.input_schema(job["endpoint"])
        inp = job["input"]
        if not isinstance(inp, dict):
            return [_err(["body"], "dict_type", "Input should be a valid dictionary", inp)]
        return validate(inp, schema, ["body"]) or self._image_errors(job["endpoint"], inp)[0]

    def _image_errors(self, endpoint: str, inp: dict) -> tuple[list, dict]:
        """What fal's runner says of the image inputs once the input validated, and the images
        it decoded: each must be a URL it can download or a base64 image data URI it can
        decode (fal's error types ``file_download_error`` and ``image_load_error``,
        docs.fal.ai/errors; the messages are UNVERIFIED). FLUX Fill's mask must have the
        image's dimensions ("Needs to match the dimensions of the mask", fal-js
        FluxProFillInput; the error's wording and type are UNVERIFIED)."""
        errors, decoded = [], {}
        for name, many in IMAGE_FIELDS.get(endpoint, ()):
            if name not in inp:
                continue
            values = inp[name] if many else [inp[name]]
            if many and not values:  # pydantic's min_length=1 on the list
                errors.append(
                    _err(["body", name], "too_short",
                         "List should have at least 1 item after validation, not 0", values,
                         {"field_type": "List", "min_length": 1, "actual_length": 0})
                )  # fmt: skip
            for i, value in enumerate(values):
                loc = ["body", name, i] if many else ["body", name]
                shown = value[:60] if isinstance(value, str) else value
                try:
                    image = decode_image_input(value)
                    decoded.setdefault(name, []).append(image)
                except BadImage as exc:
                    if exc.kind == "url":
                        errors.append(
                            _err(loc, "file_download_error",
                                 "Failed to download the file. Please check if the URL is "
                                 "accessible.", shown)
                        )  # fmt: skip
                    else:
                        errors.append(
                            _err(loc, "image_load_error",
                                 "Failed to load the image. Please ensure the image file is not "
                                 f"corrupted and is in a supported format ({exc}).", shown)
                        )  # fmt: skip
        image, mask = decoded.get("image_url", [None])[0], decoded.get("mask_url", [None])[0]
        if image and mask and image.size and mask.size and image.size != mask.size:
            errors.append(
                _err(["body", "mask_url"], "value_error",
                     f"The mask ({mask.width}x{mask.height}) must have the same dimensions as "
                     f"the image ({image.width}x{image.height}).", None)
            )  # fmt: skip
        return errors, decoded

    def _failure(self, job: dict) -> tuple[str, str] | None:
        """(error text, error_type) when the job ends in an error, else ``None``."""
        opts = job["options"]
        if job["canceled"]:
            return "Request was cancelled by the client", "client_cancelled"
        if job["scenario"] == "model_failed":
            return (
                opts.get("error", "Unexpected error in model: CUDA out of memory"),
                opts.get("error_type", "runner_server_error"),
            )
        if job["scenario"] in ("content_policy", "validation") and opts.get("stage", "result") in (
            "result",
            "all",
        ):
            first = self._policy_detail(job["scenario"])[0]
            return first["msg"], first["type"]
        checked = self._check_input(job)
        return (checked[0]["msg"], checked[0]["type"]) if checked else None

    def _status(self, req: Req, rid: str) -> Resp:
        with self._jlock:
            job = self._jobs.get(rid)
            if job is None:
                return detail(404, f"Request {rid} not found")
            if job["state"] != "COMPLETED":
                job["seen"] += 1
                if job["seen"] >= job["polls"] or job["canceled"]:
                    job["state"] = "COMPLETED"
                elif job["seen"] <= (job["polls"] - 1) // 2:
                    job["state"] = "IN_QUEUE"
                else:
                    job["state"] = "IN_PROGRESS"
            job = dict(job)
        want_logs = req.query.get("logs", "0").lower() in ("1", "true")
        logs = [
            {
                "message": f"step {job['seen']}/{job['polls']}",
                "level": "INFO",
                "source": "USER",
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        ]
        base = f"{self.base_url}/{job['app']}/requests/{rid}"
        out = {
            "status": job["state"],
            "request_id": rid,
            "response_url": base,
            "status_url": f"{base}/status",
            "cancel_url": f"{base}/cancel",
        }
        if job["state"] == "IN_QUEUE":
            out["queue_position"] = (job["polls"] - 1) // 2 - job["seen"]
        else:
            out["logs"] = logs if want_logs else None
        if job["state"] == "COMPLETED":
            out["metrics"] = {"inference_time": float(self.opt("inference_time", 1.43))}
            failure = self._failure(job)
            if failure:
                out["error"], out["error_type"] = failure
        return Resp(200, out)

    def _result(self, rid: str) -> Resp:
        with self._jlock:
            job = self._jobs.get(rid)
            job = dict(job) if job else None
        if job is None:
            return detail(404, f"Request {rid} not found")
        if job["state"] != "COMPLETED":
            return detail(400, "Request is still in progress")
        if job["canceled"]:
            return detail(499, "Request was cancelled by the client", "client_cancelled", rid)
        opts = job["options"]
        if job["scenario"] in ("content_policy", "validation") and opts.get("stage", "result") in (
            "result",
            "all",
        ):
            return Resp(
                422,
                {"detail": self._policy_detail(job["scenario"], job["input"])},
                {"x-fal-request-id": rid, "X-Fal-Retryable": "false"},
            )
        if job["scenario"] == "model_failed":
            # The stored answer of the failed run, from fal's own server (so it carries
            # x-fal-request-id and is not an ingress error fal_client would retry).
            err, etype = self._failure(job)
            return detail(int(opts.get("status", 500)), err, etype, rid)
        errors = self._check_input(job)
        if errors:
            return Resp(422, {"detail": errors}, {"x-fal-request-id": rid})
        return Resp(200, self._output(job), {"x-fal-request-id": rid})

    def _output(self, job: dict) -> dict:
        if job["endpoint"] in IMAGE_FIELDS:
            return self._image_output(job)
        inp, opts = job["input"], job["options"]
        default = "square_hd" if "sdxl" in job["endpoint"] else "landscape_4_3"
        size = inp.get("image_size", default)
        w, h = (size["width"], size["height"]) if isinstance(size, dict) else PRESETS[size]
        ext = str(inp.get("output_format", inp.get("format", "jpeg"))).lower()
        fmt = "PNG" if ext == "png" else "JPEG"
        count = int(opts.get("images", opts.get("n", inp.get("num_images", 1))))
        flags = [False] * count
        if job["scenario"] == "nsfw":
            wanted = list(opts.get("flags", [True, False]))
            flags = (wanted + [False] * count)[:count]
        images = []
        for i in range(count):
            if job["scenario"] == "result_url":
                url = self.absolute(opts.get("url", "/files/not-an-image.png"))
            else:
                # A flagged image comes back black (the safety checker blanks it).
                color = BLACK if flags[i] else tuple(opts.get("color", palette(i)))
                img = make_image(w, h, color, fmt)
                if inp.get("sync_mode"):
                    url = f"data:{MIME[fmt]};base64,{base64.b64encode(img).decode()}"
                else:
                    url = self.add_file(f"{job['request_id']}-{i}.{ext}", img, MIME[fmt])
            images.append({"url": url, "width": w, "height": h, "content_type": MIME[fmt]})
        seed = inp.get("seed", opts.get("seed", random.randint(0, 2**31 - 1)))
        return {
            "images": images,
            "timings": {"inference": float(opts.get("inference_time", 1.43))},
            "seed": seed,  # one seed for the whole batch (fal-js outputs: ``seed: number``)
            "has_nsfw_concepts": flags,
            "prompt": inp.get("prompt"),
        }

    def _file(self, job: dict, i: int, data: bytes, fmt: str, size, suffix="") -> dict:
        """One output file as fal describes it (fal-js ``ImageFile``)."""
        mime = MIME[fmt]
        ext = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}[fmt]
        if job["input"].get("sync_mode"):
            url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        else:
            url = self.add_file(f"{job['request_id']}-{i}{suffix}.{ext}", data, mime)
        return {"url": url, "content_type": mime, "file_name": f"{i}{suffix}.{ext}",
                "file_size": len(data), "width": size[0], "height": size[1]}  # fmt: skip

    def _image_output(self, job: dict) -> dict:
        """The result of an image-to-image endpoint, shaped by its inputs so a test can tell:
        an edit keeps the input's size (or the asked aspect ratio), a fill the input's, the
        upscaler multiplies it by the factor, the background remover returns a transparent
        PNG of the input's size."""
        endpoint, inp, opts = job["endpoint"], job["input"], job["options"]
        _, decoded = self._image_errors(endpoint, inp)
        first = (decoded.get("image_url") or decoded.get("image_urls") or [None])[0]
        width, height = first.size if first and first.size else (1024, 1024)
        ratio = inp.get("aspect_ratio")
        if ratio and ratio != "auto":
            width, height = _ratio_dims(ratio)
        if endpoint == "fal-ai/seedvr/upscale/image":
            if inp.get("upscale_mode", "factor") == "factor":
                factor = float(inp.get("upscale_factor", 2))
                width, height = round(width * factor), round(height * factor)
            else:
                target = int(str(inp.get("target_resolution", "1080p")).rstrip("p"))
                width, height = round(width * target / height), target
            out_fmt = str(inp.get("output_format", "jpg"))
            fmt = {"png": "PNG", "jpg": "JPEG", "webp": "WEBP"}[out_fmt]
            color = tuple(opts.get("color", palette(2)))
            data = make_image(width, height, color, fmt)
            return {"image": self._file(job, 0, data, fmt, (width, height)),
                    "seed": inp.get("seed", 42)}  # fmt: skip
        if endpoint == "fal-ai/birefnet/v2":
            fmt = {"png": "PNG", "webp": "WEBP", "gif": "PNG"}[inp.get("output_format", "png")]
            data = png(width, height, (200, 60, 40, 0), "RGBA")
            out = {"image": self._file(job, 0, data, fmt, (width, height))}
            if inp.get("output_mask"):
                mask = png(width, height, 0, "L")
                out["mask_image"] = self._file(job, 0, mask, "PNG", (width, height), "-mask")
            return out
        default = "png" if endpoint == "fal-ai/nano-banana/edit" else "jpeg"
        fmt = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[inp.get("output_format", default)]
        count = int(opts.get("images", opts.get("n", inp.get("num_images", 1))))
        flags = [False] * count
        if job["scenario"] == "nsfw":
            flags = (list(opts.get("flags", [True, False])) + [False] * count)[:count]
        images = []
        for i in range(count):
            color = BLACK if flags[i] else tuple(opts.get("color", palette(i)))
            data = make_image(width, height, color, fmt)
            images.append(self._file(job, i, data, fmt, (width, height)))
        if endpoint == "fal-ai/nano-banana/edit":  # NanoBananaEditOutput: no seed, no flags
            return {"images": images, "description": ""}
        return {
            "images": images,
            "timings": {"inference": float(opts.get("inference_time", 1.43))},
            "seed": inp.get("seed", opts.get("seed", random.randint(0, 2**31 - 1))),
            "has_nsfw_concepts": flags,
            "prompt": inp.get("prompt"),
        }

    def _cancel(self, app: str, rid: str) -> Resp:
        with self._jlock:
            job = self._jobs.get(rid)
            self.record_cancel(request_id=rid, endpoint=job["endpoint"] if job else app)
            if job is None:
                return Resp(404, {"status": "NOT_FOUND"})
            if job["state"] == "COMPLETED":
                return Resp(400, {"status": "ALREADY_COMPLETED"})
            job["canceled"] = True
        return Resp(202, {"status": "CANCELLATION_REQUESTED"})

    # ------------------------------------------------------------------ platform
    def _ids(self, req: Req) -> list[str]:
        return [i for raw in req.query_multi.get("endpoint_id", []) for i in raw.split(",") if i]

    def _models(self, req: Req) -> Resp:
        ids = self._ids(req)
        if len(ids) > 50:
            return platform_error(400, "validation_error", "At most 50 endpoint_id values")
        category = req.query.get("category")
        status = req.query.get("status")
        if status and status not in ("active", "deprecated"):
            return platform_error(400, "validation_error", f"Invalid status: {status}")
        expand = [e for raw in req.query_multi.get("expand", []) for e in raw.split(",")]
        with self._jlock:
            entries = [(eid, dict(e)) for eid, e in self.endpoints.items() if e["listed"]]
        if ids:  # find mode: unknown ids are simply absent
            entries = [(eid, e) for eid, e in entries if eid in ids]
        if category:
            entries = [(eid, e) for eid, e in entries if e["category"] == category]
        if status:
            entries = [(eid, e) for eid, e in entries if e["status"] == status]
        try:
            # "Actual maximum depends on query type and expansion parameters" (fal docs): capped.
            limit = max(1, min(int(req.query.get("limit", 50)), self.listing_page_size))
            page = (
                int(base64.b64decode(req.query["cursor"]).decode()) if "cursor" in req.query else 0
            )
        except ValueError:
            return platform_error(400, "validation_error", "Invalid limit or cursor")
        chunk = entries[page * limit : (page + 1) * limit]
        more = (page + 1) * limit < len(entries)
        models = []
        for eid, e in chunk:
            metadata = {
                "display_name": e["label"],
                "category": e["category"],
                "description": f"{e['label']} on fal",
                "status": e["status"],
                "tags": [],
                "updated_at": "2026-11-01T00:00:00Z",
                "model_url": f"https://fal.run/{eid}",
            }
            model = {"endpoint_id": eid, "metadata": metadata}
            if "openapi-3.0" in expand:
                model["openapi"] = openapi_document(eid, e["schema"], e["category"])
            models.append(model)
        cursor = base64.b64encode(str(page + 1).encode()).decode() if more else None
        return Resp(200, {"models": models, "next_cursor": cursor, "has_more": more})

    def _pricing(self, req: Req) -> Resp:
        ids = self._ids(req) or list(self.prices)
        missing = [i for i in ids if i not in self.prices]
        if missing:
            return platform_error(404, "not_found", f"Endpoint not found: {missing[0]}")
        prices = [
            {
                "endpoint_id": i,
                "unit_price": self.prices[i][0],
                "unit": self.prices[i][1],
                "currency": "USD",
            }
            for i in ids
        ]
        return Resp(200, {"prices": prices, "next_cursor": None, "has_more": False})
