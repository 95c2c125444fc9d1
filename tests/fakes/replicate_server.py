"""Fake Replicate HTTP API (the paths used by ``replicate`` 1.x, all under ``/v1``), as strict as
the real one about models and inputs.

Use with the official SDK (base URL *without* ``/v1``)::

    with FakeReplicate() as fake:
        client = replicate.Client(api_token="r8_test_good", base_url=fake.base_url)
        p = client.predictions.create(model="black-forest-labs/flux-schnell",
                                      input={"prompt": "a fox"})

Sources (every behaviour below names its own):

* [SDK] replicate-python 1.0.7 (``client.py``, ``prediction.py``, ``exceptions.py``) and its
  recorded cassettes (``tests/cassettes/models-get.yaml`` holds the real ``stability-ai/sdxl``
  model object and version 39ed52f2's ``openapi_schema``, copied into ``SDXL_OPENAPI``).
* [API] Replicate's OpenAPI as generated into replicate-python-beta 2.0.0-beta.4
  (``types/model_get_response.py``, ``collection_get_response.py``, ``account_get_response.py``,
  ``models/version_get_response.py``): the model object has ``is_official`` and ``visibility``
  and **no deprecation or shutdown field**, so this fake has no ``set_model_shutdown``.
* [DOC] replicate.com/docs/topics/predictions/lifecycle: the statuses, ``aborted`` = "the
  prediction exceeded its deadline before it could start running".
* [MODEL] the models' own input schemas on replicate.com/<model>/versions/<id>/api:
  flux-1.1-pro a91bed9b (aspect ratios without 21:9/9:21, ``safety_tolerance`` 1-5), flux-dev and
  flux-schnell (11 aspect ratios, guidance 0-10, steps 1-50 / 1-4, megapixels "1"/"0.25").
* [WIRE] answers captured in public logs: 422 ``Input validation failed`` with
  ``invalid_fields`` of type ``required`` / ``enum`` / ``number_lte`` / ``number_gte`` (messages
  of the gojsonschema validator), 404 ``{"detail": "The requested resource could not be found.",
  "status": 404}`` for a prediction on a model the models endpoint does not run (community
  models too), 422 ``Invalid version or not permitted`` for an unknown version.
* [COG] replicate/cog PR #2943 (2026-04): Replicate's API "has historically ignored unknown
  inputs"; Cog strips them. So this fake ignores unknown input fields too and records them:
  ``fake.schema_violations()`` lists them so provider tests still catch a misnamed field.

Constructor: ``FakeReplicate(api_keys={"r8_test_good"}, ...)``. ``fake.models`` maps
``"owner/name"`` to the listed models (FLUX schnell, dev, 1.1 pro and SDXL by default);
``fake.add_listed_model(id, schema=..., official=True, single_output=False)`` lists another
(``schema`` is its OpenAPI ``Input`` object; ``components`` may carry the ``$ref`` targets),
``fake.remove_listed_model(id)`` takes one away (GETs and predictions then 404).

Image models [MODEL]: ``black-forest-labs/flux-kontext-pro`` (``input_image``),
``google/nano-banana`` (``image_input`` list), ``black-forest-labs/flux-fill-pro`` (``image`` +
``mask`` of the same size), ``nightmareai/real-esrgan`` (community, run by version; ``scale``
0..10) and ``recraft-ai/recraft-remove-background``. At create a file input must be a URI
(gojsonschema ``format: uri``) and a data URI under 1MB ([DOC] input-files: "only recommended if
the file is less than 1MB"; the refusal is UNVERIFIED); when the prediction runs it must be an
https URL (not fetched), a data URI that decodes to an image, or a live upload of the files API,
else the prediction fails. Outputs follow the inputs (``_image_output``). Files API: ``POST
/v1/files`` (multipart ``content``), ``GET /v1/files[/{id}]``, ``DELETE /v1/files/{id}``;
``fake.uploads`` lists the live ones.

Routes: ``POST /v1/predictions`` (``version`` = 64-hex id, ``owner/name:id``, or ``owner/name``
of an official model), ``POST /v1/models/{owner}/{name}/predictions`` (official models only),
``GET /v1/predictions``, ``GET /v1/predictions/{id}``, ``POST /v1/predictions/{id}/cancel``,
``GET /v1/account``, ``GET /v1/models/{owner}/{name}``,
``GET /v1/models/{owner}/{name}/versions/{id}``, ``GET /v1/collections/{slug}``
(``text-to-image``: every listed model). Auth: ``Authorization: Bearer <key>`` or ``Token <key>``.

Lifecycle: create answers 201. With ``Prefer: wait`` (and no polling asked for) the prediction is
already terminal (header ``Preference-Applied: wait``); otherwise it is ``starting``, GETs before
the last one return ``processing`` (with logs) and GET number ``polls`` returns the terminal state
(``succeeded`` with ``output`` and ``metrics.predict_time``). Cancel calls are recorded in
``.cancels`` as ``{"id": ...}``; ``.predictions`` maps id -> current prediction JSON.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``create``, ``get``, ``cancel``,
``account``, ``models``; default ``stage="create"``:

``success``           options ``images`` / ``n`` (number of outputs, default input
                      ``num_outputs`` or 1), ``predict_time`` (default 0.72), ``data_urls=True``
                      (outputs as ``data:`` URLs so ``replicate.run`` returns ``FileOutput``).
``queue_polls``       ``polls`` (default 2): create returns ``starting`` even with
                      ``Prefer: wait``; the ``polls``-th GET is terminal. Works with the options
                      of ``success``; ``polls`` also applies to ``content_policy``/``model_failed``
                      /``aborted``.
``aborted``           the prediction ends ``aborted`` without ever starting [DOC].
``create_timeout``    create makes the prediction, then answers only after ``seconds`` (default
                      5, max 30): the client's answer is lost, the prediction exists.
``slow``              ``seconds`` (default 1, max 30).
``unauthorized``      401 ``Unauthenticated`` on every route.
``no_credit``         402 ``Insufficient credit``.
``forbidden``         403 (stage ``account`` by default): a check endpoint refused.
``rate_limited_once`` first call at the stage 429 (``Retry-After``, option ``retry_after``,
                      default "0"), then success.
``rate_limited``      always 429 ``Request was throttled`` with ``Retry-After`` (default 1).
``content_policy``    prediction ends ``failed`` with the NSFW error string (HTTP 201/200).
``model_failed``      prediction ends ``failed``; option ``error`` (the error string).
``validation``        422 ``Input validation failed``; options ``field``, ``message``.
``server_error``      500 (``status=503`` etc.).
``malformed``         200 with an invalid JSON body.
``result_url``        option ``url``: every output URL (relative paths made absolute).
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import math
import re
import threading
from datetime import UTC, datetime, timedelta
from email import policy as email_policy
from email.parser import BytesParser

from .base import MIME, FakeServer, Req, Resp, bearer_token, make_image, new_id, palette
from .image_inputs import BadImage, data_uri_size, decode_bytes, decode_image_input, png

SDXL_VERSION = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
NSFW = "NSFW content detected. Try running it again, or try a different prompt."
HEX64 = re.compile(r"[0-9a-f]{64}")
NOT_FOUND = "The requested resource could not be found."  # [WIRE] POST on an unknown model
COLLECTION = "text-to-image"

# ---------------------------------------------------------------------------------- schemas
# Cog writes a ``choices`` input as ``allOf: [{$ref: "#/components/schemas/<name>"}]`` with the
# enum in the component (see SDXL_OPENAPI below, a real capture); the FLUX schemas follow it.


def _enum(title: str, values: list) -> dict:
    return {"enum": values, "type": "string", "title": title, "description": "An enumeration."}


def _choice(name: str, default, order: int, description: str) -> dict:
    return {
        "allOf": [{"$ref": f"#/components/schemas/{name}"}],
        "default": default,
        "x-order": order,
        "description": description,
    }


def _num(kind: str, title: str, order: int, description: str, **limits) -> dict:
    return {"type": kind, "title": title, "x-order": order, "description": description, **limits}


def openapi(input_schema: dict, components: dict | None = None, single_output=False) -> dict:
    """An ``openapi_schema`` as Replicate serves it on a version (only the parts clients read)."""
    item = {"type": "string", "format": "uri"}
    output = item if single_output else {"type": "array", "items": item}
    return {
        "info": {"title": "Cog", "version": "0.1.0"},
        "openapi": "3.0.2",
        "paths": {},
        "components": {
            "schemas": {
                "Input": {"type": "object", "title": "Input", **input_schema},
                "Output": {"title": "Output", **output},
                **(components or {}),
            }
        },
    }


FLUX_ASPECTS = ["1:1", "16:9", "21:9", "3:2", "2:3", "4:5", "5:4", "3:4", "4:3", "9:16", "9:21"]
FLUX_COMMON = {
    "prompt": _num("string", "Prompt", 0, "Prompt for generated image"),
    "aspect_ratio": _choice("aspect_ratio", "1:1", 1, "Aspect ratio for the generated image"),
    "num_outputs": _num(
        "integer", "Num Outputs", 2, "Number of outputs to generate", default=1, minimum=1,
        maximum=4,
    ),
    "seed": _num("integer", "Seed", 4, "Random seed. Set for reproducible generation"),
    "output_format": _choice("output_format", "webp", 5, "Format of the output images"),
    "output_quality": _num(
        "integer", "Output Quality", 6, "Quality when saving the output images, from 0 to 100.",
        default=80, minimum=0, maximum=100,
    ),
    "disable_safety_checker": {
        "type": "boolean", "title": "Disable Safety Checker", "default": False, "x-order": 7,
        "description": "Disable safety checker for generated images.",
    },
    "go_fast": {
        "type": "boolean", "title": "Go Fast", "default": True, "x-order": 8,
        "description": "Run faster predictions with model optimized for speed.",
    },
    "megapixels": _choice("megapixels", "1", 9, "Approximate number of megapixels"),
}  # fmt: skip
FLUX_COMPONENTS = {
    "aspect_ratio": _enum("aspect_ratio", FLUX_ASPECTS),
    "output_format": _enum("output_format", ["webp", "jpg", "png"]),
    "megapixels": _enum("megapixels", ["1", "0.25"]),
}
FLUX_SCHNELL_OPENAPI = openapi(
    {
        "required": ["prompt"],
        "properties": {
            **FLUX_COMMON,
            "num_inference_steps": _num(
                "integer", "Num Inference Steps", 3, "Number of denoising steps. 4 is recommended.",
                default=4, minimum=1, maximum=4,
            ),
        },
    },
    FLUX_COMPONENTS,
)  # fmt: skip
FLUX_DEV_OPENAPI = openapi(
    {
        "required": ["prompt"],
        "properties": {
            **FLUX_COMMON,
            "image": {"type": "string", "title": "Image", "format": "uri", "x-order": 1,
                      "description": "Input image for image to image mode."},
            "prompt_strength": _num(
                "number", "Prompt Strength", 2, "Prompt strength when using img2img.",
                default=0.8, minimum=0, maximum=1,
            ),
            "num_inference_steps": _num(
                "integer", "Num Inference Steps", 3, "Number of denoising steps.",
                default=28, minimum=1, maximum=50,
            ),
            "guidance": _num(
                "number", "Guidance", 3, "Guidance for generated image", default=3, minimum=0,
                maximum=10,
            ),
        },
    },
    FLUX_COMPONENTS,
)  # fmt: skip
# black-forest-labs/flux-1.1-pro, version a91bed9b [MODEL]: no 21:9 / 9:21, tolerance 1..5.
FLUX_PRO_ASPECTS = ["custom", "1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3"]
FLUX_PRO_OPENAPI = openapi(
    {
        "required": ["prompt"],
        "properties": {
            "prompt": _num("string", "Prompt", 0, "Text prompt for image generation"),
            "aspect_ratio": _choice(
                "aspect_ratio", "1:1", 1, "Aspect ratio for the generated image"
            ),
            "width": _num("integer", "Width", 2, "Only used when aspect_ratio=custom.",
                          minimum=256, maximum=1440),
            "height": _num("integer", "Height", 3, "Only used when aspect_ratio=custom.",
                           minimum=256, maximum=1440),
            "safety_tolerance": _num(
                "integer", "Safety Tolerance", 4,
                "Safety tolerance, 1 is most strict and 5 is most permissive",
                default=2, minimum=1, maximum=5,
            ),
            "seed": _num("integer", "Seed", 5, "Random seed. Set for reproducible generation"),
            "prompt_upsampling": {
                "type": "boolean", "title": "Prompt Upsampling", "default": False, "x-order": 6,
                "description": "Automatically modify the prompt for more creative generation",
            },
            "output_format": _choice("output_format", "webp", 7, "Format of the output images."),
            "output_quality": _num(
                "integer", "Output Quality", 8, "Quality when saving the output images.",
                default=80, minimum=0, maximum=100,
            ),
        },
    },
    {
        "aspect_ratio": _enum("aspect_ratio", FLUX_PRO_ASPECTS),
        "output_format": _enum("output_format", ["webp", "jpg", "png"]),
    },
    single_output=True,
)  # fmt: skip
# stability-ai/sdxl version 39ed52f2, verbatim from the SDK cassette models-get.yaml [SDK].
SDXL_OPENAPI = openapi(
    {
        "properties": {
            "mask": {"type": "string", "title": "Mask", "format": "uri", "x-order": 3,
                     "description": "Input mask for inpaint mode. Black areas will be preserved, white areas will be inpainted."},  # noqa: E501
            "seed": {"type": "integer", "title": "Seed", "x-order": 11,
                     "description": "Random seed. Leave blank to randomize the seed"},
            "image": {"type": "string", "title": "Image", "format": "uri", "x-order": 2,
                      "description": "Input image for img2img or inpaint mode"},
            "width": {"type": "integer", "title": "Width", "default": 1024, "x-order": 4,
                      "description": "Width of output image"},
            "height": {"type": "integer", "title": "Height", "default": 1024, "x-order": 5,
                       "description": "Height of output image"},
            "prompt": {"type": "string", "title": "Prompt",
                       "default": "An astronaut riding a rainbow unicorn", "x-order": 0,
                       "description": "Input prompt"},
            "refine": {"allOf": [{"$ref": "#/components/schemas/refine"}],
                       "default": "no_refiner", "x-order": 12,
                       "description": "Which refine style to use"},
            "scheduler": {"allOf": [{"$ref": "#/components/schemas/scheduler"}],
                          "default": "K_EULER", "x-order": 7, "description": "scheduler"},
            "lora_scale": {"type": "number", "title": "Lora Scale", "default": 0.6,
                           "maximum": 1, "minimum": 0, "x-order": 16,
                           "description": "LoRA additive scale. Only applicable on trained models."},  # noqa: E501
            "num_outputs": {"type": "integer", "title": "Num Outputs", "default": 1,
                            "maximum": 4, "minimum": 1, "x-order": 6,
                            "description": "Number of images to output."},
            "refine_steps": {"type": "integer", "title": "Refine Steps", "x-order": 14,
                             "description": "For base_image_refiner, the number of steps to refine, defaults to num_inference_steps"},  # noqa: E501
            "guidance_scale": {"type": "number", "title": "Guidance Scale", "default": 7.5,
                               "maximum": 50, "minimum": 1, "x-order": 9,
                               "description": "Scale for classifier-free guidance"},
            "apply_watermark": {"type": "boolean", "title": "Apply Watermark", "default": True,
                                "x-order": 15,
                                "description": "Applies a watermark to enable determining if an image is generated in downstream applications."},  # noqa: E501
            "high_noise_frac": {"type": "number", "title": "High Noise Frac", "default": 0.8,
                                "maximum": 1, "minimum": 0, "x-order": 13,
                                "description": "For expert_ensemble_refiner, the fraction of noise to use"},  # noqa: E501
            "negative_prompt": {"type": "string", "title": "Negative Prompt", "default": "",
                                "x-order": 1, "description": "Input Negative Prompt"},
            "prompt_strength": {"type": "number", "title": "Prompt Strength", "default": 0.8,
                                "maximum": 1, "minimum": 0, "x-order": 10,
                                "description": "Prompt strength when using img2img / inpaint. 1.0 corresponds to full destruction of information in image"},  # noqa: E501
            "replicate_weights": {"type": "string", "title": "Replicate Weights", "x-order": 17,
                                  "description": "Replicate LoRA weights to use. Leave blank to use the default weights."},  # noqa: E501
            "num_inference_steps": {"type": "integer", "title": "Num Inference Steps",
                                    "default": 50, "maximum": 500, "minimum": 1, "x-order": 8,
                                    "description": "Number of denoising steps"},
            "disable_safety_checker": {"type": "boolean", "title": "Disable Safety Checker",
                                       "default": False, "x-order": 18,
                                       "description": "Disable safety checker for generated images. This feature is only available through the API. See https://replicate.com/docs/how-does-replicate-work#safety"},  # noqa: E501
        }
    },
    {
        "scheduler": _enum("scheduler", ["DDIM", "DPMSolverMultistep", "HeunDiscrete",
                                         "KarrasDPM", "K_EULER_ANCESTRAL", "K_EULER", "PNDM"]),
        "refine": _enum("refine", ["no_refiner", "expert_ensemble_refiner",
                                   "base_image_refiner"]),
    },
)  # fmt: skip


# --- image models [MODEL]: the inputs of each model's API page (replicate.com/<model>/versions/
# <id>/api): flux-kontext-pro 569705b3, nano-banana (with aspect_ratio), flux-fill-pro 9609ba73,
# real-esrgan f121d640 (a community model: run by version), recraft-remove-background. Cog
# writes a file input as ``{"type": "string", "format": "uri"}``.
URI = {"type": "string", "format": "uri"}
KONTEXT_RATIOS = ["match_input_image", "1:1", "16:9", "9:16", "4:3", "3:4", "3:2", "2:3", "4:5",
                  "5:4", "21:9", "9:21", "2:1", "1:2"]  # fmt: skip
FLUX_KONTEXT_PRO_OPENAPI = openapi(
    {
        "required": ["prompt"],
        "properties": {
            "prompt": _num("string", "Prompt", 0, "Text description of what you want to generate, "
                           "or the instruction on how to edit the given image."),
            "input_image": {**URI, "title": "Input Image", "x-order": 1,
                            "description": "Image to use as reference. Must be jpeg, png, gif, "
                            "or webp."},
            "aspect_ratio": _choice("aspect_ratio", "match_input_image", 2,
                                    "Aspect ratio of the generated image."),
            "seed": _num("integer", "Seed", 3, "Random seed. Set for reproducible generation"),
            "output_format": _choice("output_format", "png", 4, "Output format"),
            "safety_tolerance": _num(
                "integer", "Safety Tolerance", 5, "Safety tolerance, 0 is most strict and 6 is "
                "most permissive. 2 is currently the maximum allowed when input images are used.",
                default=2, minimum=0, maximum=6,
            ),
            "prompt_upsampling": {"type": "boolean", "title": "Prompt Upsampling",
                                  "default": False, "x-order": 6},
        },
    },
    {
        "aspect_ratio": _enum("aspect_ratio", KONTEXT_RATIOS),
        "output_format": _enum("output_format", ["jpg", "png"]),
    },
    single_output=True,
)  # fmt: skip
NANO_BANANA_OPENAPI = openapi(
    {
        "required": ["prompt"],
        "properties": {
            "prompt": _num("string", "Prompt", 0,
                           "A text description of the image you want to generate"),
            "image_input": {"type": "array", "items": URI, "title": "Image Input", "default": [],
                            "x-order": 1, "description": "Input images to transform or use as "
                            "reference (supports multiple images)"},
            "aspect_ratio": _choice("aspect_ratio", "match_input_image", 2,
                                    "Aspect ratio of the generated image"),
            "output_format": _choice("output_format", "jpg", 3, "Format of the output image"),
        },
    },
    {
        "aspect_ratio": _enum("aspect_ratio", ["match_input_image", "1:1", "2:3", "3:2", "3:4",
                                               "4:3", "4:5", "5:4", "9:16", "16:9", "21:9"]),
        "output_format": _enum("output_format", ["jpg", "png"]),
    },
    single_output=True,
)  # fmt: skip
FLUX_FILL_PRO_OPENAPI = openapi(
    {
        "required": ["prompt", "image"],
        "properties": {
            "prompt": _num("string", "Prompt", 0, "Text prompt for image generation"),
            "image": {**URI, "title": "Image", "x-order": 1, "description": "The image to "
                      "inpaint. Can contain an alpha mask. Must be jpeg, png, gif, or webp."},
            "mask": {**URI, "title": "Mask", "x-order": 2, "description": "A black-and-white "
                     "image that describes the part of the image to inpaint. Black areas will be "
                     "preserved while white areas will be inpainted. Must have the same size as "
                     "image."},
            "outpaint": _choice("outpaint", "None", 3, "A quick option for outpainting an input "
                                "image. Mask will be ignored."),
            "seed": _num("integer", "Seed", 4, "Random seed. Set for reproducible generation"),
            "steps": _num("integer", "Steps", 5, "Number of diffusion steps.", default=50,
                          minimum=1, maximum=50),
            "prompt_upsampling": {"type": "boolean", "title": "Prompt Upsampling",
                                  "default": False, "x-order": 6},
            "guidance": _num("number", "Guidance", 7, "Controls the balance between adherence "
                             "to the text prompt and image quality/diversity.", default=3,
                             minimum=2, maximum=5),
            "safety_tolerance": _num("integer", "Safety Tolerance", 8, "Safety tolerance, 1 is "
                                     "most strict and 6 is most permissive", default=2,
                                     minimum=1, maximum=6),
            "output_format": _choice("output_format", "jpg", 9, "Format of the output images."),
        },
    },
    {
        "outpaint": _enum("outpaint", ["None", "Zoom out 1.5x", "Zoom out 2x", "Make square",
                                       "Left outpaint", "Right outpaint", "Top outpaint",
                                       "Bottom outpaint"]),
        "output_format": _enum("output_format", ["jpg", "png"]),
    },
    single_output=True,
)  # fmt: skip
REAL_ESRGAN_VERSION = "f121d640bd286e1fdc67f9799164c1d5be36ff74576ee11c803ae5b665dd46aa"
REAL_ESRGAN_OPENAPI = openapi(
    {
        "required": ["image"],
        "properties": {
            "image": {**URI, "title": "Image", "x-order": 0, "description": "Input image"},
            "scale": _num("number", "Scale", 1, "Factor to scale image by", default=4,
                          minimum=0, maximum=10),
            "face_enhance": {"type": "boolean", "title": "Face Enhance", "default": False,
                             "x-order": 2, "description": "Run GFPGAN face enhancement along "
                             "with upscaling"},
        },
    },
    single_output=True,
)  # fmt: skip
RECRAFT_REMOVE_BACKGROUND_OPENAPI = openapi(
    {
        "required": ["image"],
        "properties": {
            "image": {**URI, "title": "Image", "x-order": 0,
                      "description": "Image to remove background from"},
        },
    },
    single_output=True,
)  # fmt: skip
# How each image model shapes its output from its inputs (the fake's own rule, so a test can
# tell an edit, a fill, an upscale and a cut-out apart).
IMAGE_KINDS = {
    "black-forest-labs/flux-kontext-pro": "edit",
    "google/nano-banana": "edit",
    "black-forest-labs/flux-fill-pro": "fill",
    "nightmareai/real-esrgan": "upscale",
    "recraft-ai/recraft-remove-background": "cutout",
}
# replicate.com/docs/topics/predictions/input-files: a data URI "is only recommended if the file
# is less than 1MB"; the files API takes files up to 100MB. The fake enforces both (the refusal
# of a larger data URI and its wording are UNVERIFIED: Replicate documents a recommendation).
DATA_URI_LIMIT = 1_000_000
FILE_LIMIT = 100 * 1024 * 1024


def version_id(model: str, salt: str = "") -> str:
    """A stable 64-hex version id for a fake official model."""
    return hashlib.sha256(f"{model}:{salt}".encode()).hexdigest()


def default_models() -> dict[str, dict]:
    def entry(official, schema, vid, description):
        return {"official": official, "description": description, "latest": vid,
                "versions": {vid: schema}}  # fmt: skip

    def image_model(official, schema, vid, description):
        # In Replicate's image-editing / upscaling collections, not in text-to-image.
        return {**entry(official, schema, vid, description), "collections": []}

    return {
        "black-forest-labs/flux-schnell": entry(
            True, FLUX_SCHNELL_OPENAPI, version_id("flux-schnell"), "The fastest FLUX model"
        ),
        "black-forest-labs/flux-dev": entry(
            True, FLUX_DEV_OPENAPI, version_id("flux-dev"), "FLUX.1 [dev]"
        ),
        "black-forest-labs/flux-1.1-pro": entry(
            True,
            FLUX_PRO_OPENAPI,
            "a91bed9b0301d9d10b34b89b1f4d0255f2e2499c59576bfcd13405575dacdb25",
            "FLUX1.1 [pro]",
        ),
        "stability-ai/sdxl": entry(
            False,
            SDXL_OPENAPI,
            SDXL_VERSION,
            "A text-to-image generative AI model that creates beautiful images",
        ),
        "black-forest-labs/flux-kontext-pro": image_model(
            True,
            FLUX_KONTEXT_PRO_OPENAPI,
            "569705b35f79b1160d51de1d0e3955626af86c77a034a16e89010dbdde5ad312",
            "A state-of-the-art text-based image editing model",
        ),
        "google/nano-banana": image_model(
            True,
            NANO_BANANA_OPENAPI,
            "f0a9d34b12ad1c1cd76269a844b218ff4e64e128ddaba93e15891f47368958a0",
            "Google's latest image editing model in Gemini 2.5",
        ),
        "black-forest-labs/flux-fill-pro": image_model(
            True,
            FLUX_FILL_PRO_OPENAPI,
            "9609ba7331ed872c99f81c92c69a9ee52a50d8aba99f636173e0674d997efd0c",
            "Professional inpainting and outpainting model with state-of-the-art performance",
        ),
        "nightmareai/real-esrgan": image_model(
            False,
            REAL_ESRGAN_OPENAPI,
            REAL_ESRGAN_VERSION,
            "Real-ESRGAN with optional face correction and adjustable upscale",
        ),
        "recraft-ai/recraft-remove-background": image_model(
            True,
            RECRAFT_REMOVE_BACKGROUND_OPENAPI,
            version_id("recraft-remove-background"),
            "Automated background removal for images",
        ),
    }


# ---------------------------------------------------------------------------------- validation
JSON_TYPES = {"string": (str,), "boolean": (bool,), "array": (list,), "object": (dict,)}


def _resolve(node, root: dict, depth: int = 0):
    """``node`` with the local ``$ref`` / ``allOf`` of a Cog schema folded in."""
    if depth > 16 or not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = {
            **_resolve(target, root, depth + 1),
            **{k: v for k, v in node.items() if k != "$ref"},
        }
    for sub in node.pop("allOf", None) or []:
        node = {**_resolve(sub, root, depth + 1), **node}
    return node


def input_properties(schema: dict) -> tuple[dict, list]:
    """The resolved properties of an ``openapi_schema``'s ``Input`` and its required names."""
    schema = copy.deepcopy(schema)
    node = schema["components"]["schemas"]["Input"]
    props = {name: _resolve(prop, schema) for name, prop in node.get("properties", {}).items()}
    return props, list(node.get("required", []))


def _given(value) -> str:
    """gojsonschema's name for a JSON value's type."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "integer" if float(value).is_integer() else "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "unknown")


def _type_ok(kind: str, value) -> bool:
    if kind == "integer":
        return (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and (float(value).is_integer())
        )
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return kind not in JSON_TYPES or isinstance(value, JSON_TYPES[kind])


def _number(value) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def validate_input(schema: dict, inp: dict) -> tuple[list[dict], list[str]]:
    """``(invalid_fields, unknown)`` for an input against a version's ``openapi_schema``, in
    the words of Replicate's validator (gojsonschema) [WIRE]."""
    props, required = input_properties(schema)
    invalid = [
        {"type": "required", "field": "input", "description": f"{name} is required"}
        for name in required
        if name not in inp
    ]
    for name, value in inp.items():
        prop = props.get(name)
        if prop is None:
            continue
        field = f"input.{name}"
        kind = prop.get("type")
        if value is None and prop.get("nullable"):
            continue
        if kind and not _type_ok(kind, value):
            invalid.append(
                {
                    "type": "invalid_type",
                    "field": field,
                    "description": f"Invalid type. Expected: {kind}, given: {_given(value)}",
                }
            )
            continue
        invalid += _file_checks(field, value, prop)
        if "enum" in prop and value not in prop["enum"]:
            allowed = ", ".join(f'"{v}"' for v in prop["enum"])
            invalid.append(
                {
                    "type": "enum",
                    "field": field,
                    "description": f"{name} must be one of the following: {allowed}",
                }
            )
        if "minimum" in prop and value < prop["minimum"]:
            invalid.append(
                {
                    "type": "number_gte",
                    "field": field,
                    "description": f"Must be greater than or equal to {_number(prop['minimum'])}",
                }
            )
        if "maximum" in prop and value > prop["maximum"]:
            invalid.append(
                {
                    "type": "number_lte",
                    "field": field,
                    "description": f"Must be less than or equal to {_number(prop['maximum'])}",
                }
            )
    unknown = sorted(name for name in inp if name not in props)
    return invalid, unknown


URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")


def _file_checks(field: str, value, prop: dict) -> list[dict]:
    """gojsonschema's ``format: uri`` (a data URI is a URI) on a file input or a list of them,
    and the data URI size limit (DATA_URI_LIMIT)."""
    items = prop.get("items") if prop.get("type") == "array" else None
    if isinstance(items, dict) and isinstance(value, list):
        pairs = [(f"{field}.{i}", item) for i, item in enumerate(value)]
        node = items
    else:
        pairs, node = [(field, value)], prop
    out = []
    for name, item in pairs:
        if node.get("type") and not _type_ok(node["type"], item):
            out.append({"type": "invalid_type", "field": name,
                        "description": f"Invalid type. Expected: {node['type']}, given: "
                        f"{_given(item)}"})  # fmt: skip
            continue
        if node.get("format") != "uri" or not isinstance(item, str):
            continue
        if not URI_SCHEME.match(item):
            out.append({"type": "format", "field": name,
                        "description": "Does not match format 'uri'"})  # fmt: skip
        elif data_uri_size(item) > DATA_URI_LIMIT:
            out.append({"type": "data_url_too_large", "field": name,
                        "description": "Data URLs are limited to 1MB; upload larger files with "
                        "the files API"})  # fmt: skip
    return out


def _uri_fields(props: dict) -> list[tuple[str, bool]]:
    """The file inputs of a model: (name, is a list)."""
    out = []
    for name, prop in props.items():
        items = prop.get("items") if prop.get("type") == "array" else None
        if prop.get("format") == "uri":
            out.append((name, False))
        elif isinstance(items, dict) and items.get("format") == "uri":
            out.append((name, True))
    return out


def problem(status: int, title: str | None, detail: str, **extra) -> Resp:
    body = {"detail": detail, "status": status, **extra}
    if title:
        body = {"title": title, **body}
    return Resp(status, body)


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dims(inp: dict) -> tuple[int, int]:
    if inp.get("width") and inp.get("height") and inp.get("aspect_ratio", "custom") == "custom":
        return int(inp["width"]), int(inp["height"])
    try:
        a, b = (float(x) for x in str(inp.get("aspect_ratio", "1:1")).split(":"))
    except ValueError:
        a = b = 1.0
    w = round(math.sqrt(1024 * 1024 * a / b) / 16) * 16
    return w, round(1024 * 1024 / w / 16) * 16


class FakeReplicate(FakeServer):
    default_stage = "create"

    def __init__(self, *, api_keys=None, **kwargs):
        self.api_keys = set(api_keys or {"r8_test_good"})
        self._plock = threading.Lock()
        self.models: dict[str, dict] = default_models()
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self._preds: dict[str, dict] = {}
        self._uploads: dict[str, dict] = {}
        self.models = default_models()

    @property
    def uploads(self) -> dict[str, dict]:
        """Files uploaded through the files API and not deleted: id -> file object (with the
        bytes under ``"data"``)."""
        with self._plock:
            return {fid: {**f["obj"], "data": f["data"]} for fid, f in self._uploads.items()}

    @property
    def predictions(self) -> dict[str, dict]:
        with self._plock:
            return {k: dict(v["obj"]) for k, v in self._preds.items()}

    # ------------------------------------------------------------------ the model listing
    def add_listed_model(
        self,
        model_id: str,
        schema: dict | None = None,
        *,
        components: dict | None = None,
        official: bool = True,
        single_output: bool = False,
        description: str = "",
    ) -> str:
        """List a model (as Replicate does once it is published); returns its version id.
        ``schema`` is the OpenAPI ``Input`` object (default: a prompt only)."""
        schema = schema or {"required": ["prompt"], "properties": {"prompt": {"type": "string"}}}
        vid = version_id(model_id, str(len(self.models)))
        with self._plock:
            self.models[model_id] = {
                "official": official,
                "description": description or f"{model_id} (fake)",
                "latest": vid,
                "versions": {vid: openapi(schema, components, single_output)},
            }
        return vid

    def remove_listed_model(self, model_id: str) -> None:
        """The model is gone: its GETs and predictions answer 404, the collection drops it."""
        with self._plock:
            self.models.pop(model_id, None)

    def schema_violations(self) -> dict[str, list[str]]:
        """Prediction id -> the input fields its model does not have. Replicate ignores them
        [COG], so a provider that misnames a field still "succeeds": tests assert this is
        empty."""
        with self._plock:
            return {pid: rec["unknown"] for pid, rec in self._preds.items() if rec["unknown"]}

    def _single_output(self, model: str, version: str) -> bool:
        entry = self.models.get(model)
        schema = entry and entry["versions"].get(
            version if version != "hidden" else entry["latest"]
        )
        return bool(schema) and schema["components"]["schemas"]["Output"].get("type") == "string"

    # ------------------------------------------------------------------ routing
    def handle_api(self, req: Req) -> Resp:
        p, m = req.parts, req.method
        if len(p) < 2 or p[0] != "v1":
            return problem(404, None, NOT_FOUND)
        if (
            bearer_token(req, ("bearer", "token")) not in self.api_keys
            or self.scenario == "unauthorized"
        ):
            # [SDK] cassette run__invalid-token.yaml
            return problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if m == "POST" and p[1:] == ["predictions"]:
            return self._guard("create") or self._create(req, None)
        if m == "POST" and len(p) == 5 and p[1] == "models" and p[4] == "predictions":
            return self._guard("create") or self._create(req, f"{p[2]}/{p[3]}")
        if m == "GET" and p[1:] == ["predictions"]:
            return self._guard("get") or self._list()
        if m == "GET" and len(p) == 3 and p[1] == "predictions":
            return self._guard("get") or self._get(p[2])
        if m == "POST" and len(p) == 4 and p[1] == "predictions" and p[3] == "cancel":
            return self._guard("cancel") or self._cancel(p[2])
        if m == "GET" and p[1:] == ["account"]:
            return self._guard("account") or Resp(
                200,
                {
                    "type": "user",
                    "username": "fake-user",
                    "name": "Fake User",
                    "github_url": "https://github.com/fake-user",
                },
            )
        if m == "GET" and p[1] == "models" and len(p) in (4, 6):
            return self._guard("models") or self._model(p)
        if m == "GET" and p[1] == "collections" and len(p) == 3:
            return self._guard("models") or self._collection(p[2])
        if p[1] == "files":
            return self._guard("files") or self._files_api(req, m, p[2:])
        return problem(404, None, NOT_FOUND)

    def _guard(self, stage: str) -> Resp | None:
        if self.scenario == "forbidden" and self.stage_matches(stage, "account"):
            return problem(403, "Forbidden", self.opt("message", "You do not have permission."))
        return self.scenario_error(stage)

    def retry_headers(self, once: bool) -> dict:
        # Replicate sends Retry-After (seconds) with its 429s; no retry-after-ms (OpenAI's).
        return {"Retry-After": str(self.opt("retry_after", "0" if once else "1"))}

    def error_response(self, kind: str) -> Resp | None:
        msg = self.opt("message")
        if kind == "no_credit":
            return problem(
                402,
                "Insufficient credit",
                msg
                or "You have insufficient credit to run "
                "this model. Go to https://replicate.com/account/billing#billing to "
                "purchase credit. Once you purchase credit, please wait a few minutes "
                "before trying again.",
            )
        if kind in ("rate_limited", "rate_limited_once"):
            # [DOC] replicate.com/docs/topics/predictions/rate-limits: detail only.
            resp = problem(
                429, None, msg or "Request was throttled. Your rate limit resets in ~30s."
            )
            resp.headers.update(self.retry_headers(kind == "rate_limited_once"))
            return resp
        if kind == "validation":
            return self._invalid(
                [
                    {
                        "type": "invalid",
                        "field": self.opt("field", "input.prompt"),
                        "description": msg or "Invalid value",
                    }
                ]
            )
        if kind == "server_error":
            status = int(self.opt("status", 500))
            return problem(status, "Internal Server Error", msg or "An unexpected error occurred.")
        return None  # content_policy is a failed prediction, not an HTTP error

    def _invalid(self, fields: list[dict]) -> Resp:
        detail = "".join(f"- {f['field']}: {f['description']}\n" for f in fields)
        return problem(422, "Input validation failed", detail, invalid_fields=fields)

    def _bad_version(self) -> Resp:
        return problem(
            422,
            "Invalid version or not permitted",
            "The specified version does not exist (or perhaps you don't have permission to use "
            "it?)",
        )

    # ------------------------------------------------------------------ predictions
    def _resolve_version(self, body: dict, model: str | None):
        """``(model, version, schema)`` of a create, or the answer refusing it."""
        if model is not None:  # POST /v1/models/{owner}/{name}/predictions: official only
            entry = self.models.get(model)
            if entry is None or not entry["official"]:
                return problem(404, None, NOT_FOUND)
            return model, "hidden", entry["versions"][entry["latest"]]
        ref = body.get("version")
        if not isinstance(ref, str) or not ref:
            return self._invalid(
                [{"type": "required", "field": "version", "description": "version is required"}]
            )
        if ":" in ref:
            model, version = ref.split(":", 1)
            entry = self.models.get(model)
            if entry is None or version not in entry["versions"]:
                return self._bad_version()
            return model, version, entry["versions"][version]
        if HEX64.fullmatch(ref):
            for name, entry in self.models.items():
                if ref in entry["versions"]:
                    return name, ref, entry["versions"][ref]
            return self._bad_version()
        entry = self.models.get(ref)
        if entry is None or not entry["official"]:
            return self._bad_version()
        return ref, "hidden", entry["versions"][entry["latest"]]

    def _create(self, req: Req, model: str | None) -> Resp:
        body = req.json if isinstance(req.json, dict) else {}
        resolved = self._resolve_version(body, model)
        if isinstance(resolved, Resp):
            return resolved
        model, version, schema = resolved
        inp = body.get("input")
        if not isinstance(inp, dict):
            return self._invalid(
                [
                    {
                        "type": "invalid_type",
                        "field": "input",
                        "description": f"Invalid type. Expected: object, given: {_given(inp)}",
                    }
                ]
            )
        invalid, unknown = validate_input(schema, inp)
        if invalid:
            return self._invalid(invalid)
        wait = req.headers.get("prefer", "").strip().startswith("wait")
        queued = self.scenario in ("queue_polls", "aborted")
        polls = int(self.opt("polls", 2 if queued else (0 if wait else 1)))
        if queued:
            polls = max(1, polls)
        pid = new_id()[:26]
        now = datetime.now(UTC)
        obj = {
            "id": pid,
            "model": model,
            "version": version,
            "status": "starting",
            "input": inp,
            "output": None,
            "logs": "",
            "error": None,
            "metrics": {},
            "data_removed": False,
            "created_at": _iso(now),
            "started_at": None,
            "completed_at": None,
            "urls": {
                "get": f"{self.base_url}/v1/predictions/{pid}",
                "cancel": f"{self.base_url}/v1/predictions/{pid}/cancel",
                "web": f"https://replicate.com/p/{pid}",
            },
        }
        rec = {"obj": obj, "polls": polls, "seen": 0, "unknown": unknown}
        with self._plock:
            self._preds[pid] = rec
            if polls == 0:
                self._finish(rec)
            obj = dict(rec["obj"])
        if self.scenario == "create_timeout":  # made, but the answer comes too late
            self._stopping.wait(min(float(self.opt("seconds", 5)), 30.0))
        headers = {"Preference-Applied": "wait"} if wait else {}
        return Resp(201, obj, headers)

    def _finish(self, rec: dict) -> None:
        """Move a prediction to its terminal state (call with ``_plock`` held)."""
        obj = rec["obj"]
        now = datetime.now(UTC)
        if self.scenario == "aborted":  # [DOC] deadline passed before it could start
            obj.update(status="aborted", completed_at=_iso(now), started_at=None, metrics={})
            return
        predict = float(self.opt("predict_time", 0.72))
        obj["started_at"] = obj["started_at"] or _iso(now - timedelta(seconds=predict))
        obj["completed_at"] = _iso(now)
        obj["metrics"] = {"predict_time": predict, "total_time": round(predict + 0.05, 3)}
        if self.scenario in ("content_policy", "model_failed"):
            obj["status"] = "failed"
            obj["error"] = self.opt(
                "error",
                NSFW
                if self.scenario == "content_policy"
                else "Prediction failed: CUDA out of memory",
            )
            obj["logs"] += "Traceback (most recent call last):\n  ...\n"
            return
        decoded, failure = self._decode_inputs(obj)
        if failure:  # the model could not read its files: the prediction fails
            obj.update(status="failed", error=failure)
            obj["logs"] += f"Traceback (most recent call last):\n  ...\n{failure}\n"
            return
        obj["status"] = "succeeded"
        obj["logs"] += "Using seed: 1234\n100%|##########| 4/4 [00:00<00:00]\n"
        obj["output"] = self._output(obj, decoded)

    # ------------------------------------------------------------------ file inputs
    def _decode(self, value):
        """A file input as the model's container gets it: an https URL (not fetched), a data
        URI, or a file of the files API (``urls.get``, api.replicate.com in reality)."""
        prefix = f"{self.base_url}/v1/files/"
        if isinstance(value, str) and value.startswith(prefix):
            upload = self._uploads.get(value[len(prefix) :])
            if upload is None:
                raise BadImage("url", "the file does not exist (deleted or expired)")
            return decode_bytes(upload["data"], "file", upload["obj"]["content_type"])
        return decode_image_input(value)

    def _decode_inputs(self, obj: dict) -> tuple[dict, str]:
        """Each file input decoded ({name: [DecodedImage]}), or the error a prediction fails
        with: a value that is neither an https URL nor an image (a data URI or an upload), or
        FLUX Fill's mask of another size than its image ("Must have the same size as image").
        The error strings are UNVERIFIED (Cog's models word their own). Call with _plock."""
        entry = self.models.get(obj["model"])
        if entry is None:
            return {}, ""
        version = entry["latest"] if obj["version"] == "hidden" else obj["version"]
        props, _ = input_properties(entry["versions"][version])
        decoded: dict = {}
        for name, many in _uri_fields(props):
            value = obj["input"].get(name)
            if value is None:
                continue
            for item in value if many else [value]:
                try:
                    image = self._decode(item)
                    decoded.setdefault(name, []).append(image)
                except BadImage as exc:
                    return decoded, f"Prediction failed: could not read input {name!r}: {exc}"
        image, mask = (decoded.get(n, [None])[0] for n in ("image", "mask"))
        if image and mask and image.size and mask.size and image.size != mask.size:
            return decoded, (
                f"Prediction failed: mask size {mask.width}x{mask.height} does not match image "
                f"size {image.width}x{image.height}"
            )
        return decoded, ""

    def _files_api(self, req: Req, method: str, rest: list[str]) -> Resp:
        """The files API [API files.create/get/list/delete; SDK file.py]: ``POST /v1/files``
        (multipart, part ``content``, optional ``metadata`` JSON) answers 201 with the file
        object, whose ``urls.get`` a model input may name."""
        if method == "POST" and not rest:
            return self._upload(req)
        with self._plock:
            if method == "GET" and not rest:
                results = [f["obj"] for f in self._uploads.values()]
                return Resp(200, {"next": None, "previous": None, "results": results})
            upload = self._uploads.get(rest[0]) if len(rest) == 1 else None
            if upload is None:
                return problem(404, None, "Not found.")
            if method == "GET":
                return Resp(200, upload["obj"])
            if method == "DELETE":
                del self._uploads[rest[0]]
                return Resp(204, None)
        return problem(405, None, "Method not allowed.")

    def _upload(self, req: Req) -> Resp:
        ctype = req.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            return problem(400, None, "Expected a multipart/form-data body with a content part.")
        message = BytesParser(policy=email_policy.HTTP).parsebytes(
            b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body
        )
        parts = {
            part.get_param("name", header="content-disposition"): part
            for part in message.iter_parts()
        }
        content = parts.get("content")
        if content is None:
            return problem(400, None, "Missing the content part.")
        data = content.get_payload(decode=True) or b""
        if len(data) > FILE_LIMIT:  # UNVERIFIED status and wording
            return problem(413, None, "The file is larger than 100MB.")
        metadata = {}
        if "metadata" in parts:
            try:
                metadata = json.loads(parts["metadata"].get_payload(decode=True) or b"{}")
            except ValueError:
                return problem(400, None, "metadata is not valid JSON.")
        fid = new_id()[:32]
        now = datetime.now(UTC)
        obj = {
            "id": fid,
            "name": content.get_filename() or "file",
            "content_type": content.get_content_type(),
            "size": len(data),
            "etag": hashlib.md5(data).hexdigest(),  # noqa: S324 - an etag, not security
            "checksums": {
                "sha256": hashlib.sha256(data).hexdigest(),
                "md5": hashlib.md5(data).hexdigest(),  # noqa: S324
            },
            "metadata": metadata,
            "created_at": _iso(now),
            "expires_at": _iso(now + timedelta(days=1)),
            "urls": {"get": f"{self.base_url}/v1/files/{fid}"},
        }
        with self._plock:
            self._uploads[fid] = {"obj": obj, "data": data}
        return Resp(201, obj)

    def _image_output(self, obj: dict, kind: str, decoded: dict) -> str:
        """The one output of an image model, shaped by its inputs: an edit has the input's size
        (``match_input_image``) or the asked aspect ratio, a fill the image's size, the
        upscaler multiplies the input's size by ``scale``, the background remover returns a
        transparent PNG of the input's size."""
        inp = obj["input"]
        first = next((items[0] for items in decoded.values() if items and items[0].size), None)
        width, height = first.size if first else (1024, 1024)
        ratio = inp.get("aspect_ratio", "match_input_image")
        if kind == "edit" and (ratio != "match_input_image" or first is None):
            width, height = _dims({"aspect_ratio": ratio})
        if kind == "upscale":
            scale = float(inp.get("scale", 4))
            width, height = max(1, round(width * scale)), max(1, round(height * scale))
        ext = str(inp.get("output_format", "png")).lower()
        fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"}.get(ext, "WEBP")
        if kind == "cutout":
            img, fmt, ext = png(width, height, (200, 60, 40, 0), "RGBA"), "PNG", "png"
        else:
            img = make_image(width, height, tuple(self.opt("color", palette(0))), fmt)
        if self.opt("data_urls"):
            return f"data:{MIME[fmt]};base64,{base64.b64encode(img).decode()}"
        return self.add_file(f"{obj['id']}/out-0.{ext}", img, MIME[fmt])

    def _output(self, obj: dict, decoded: dict | None = None):
        inp, model = obj["input"], obj["model"]
        if model in IMAGE_KINDS and self.scenario != "result_url":
            return self._image_output(obj, IMAGE_KINDS[model], decoded or {})
        count = int(self.opt("images", self.opt("n", inp.get("num_outputs", 1))))
        default_fmt = "png" if "sdxl" in model else "webp"
        ext = str(inp.get("output_format", default_fmt)).lower()
        fmt = {"jpg": "JPEG", "jpeg": "JPEG", "png": "PNG"}.get(ext, "WEBP")
        w, h = _dims(inp)
        urls = []
        for i in range(count):
            if self.scenario == "result_url":
                urls.append(self.absolute(self.opt("url", "/files/not-an-image.png")))
                continue
            img = make_image(w, h, tuple(self.opt("color", palette(i))), fmt)
            if self.opt("data_urls"):
                urls.append(f"data:{MIME[fmt]};base64,{base64.b64encode(img).decode()}")
            else:
                urls.append(self.add_file(f"{obj['id']}/out-{i}.{ext}", img, MIME[fmt]))
        return urls[0] if urls and self._single_output(model, obj["version"]) else urls

    def _get(self, pid: str) -> Resp:
        with self._plock:
            rec = self._preds.get(pid)
            if rec is None:
                return problem(404, None, "Not found.")
            obj = rec["obj"]
            if obj["status"] in ("starting", "processing"):
                rec["seen"] += 1
                if rec["seen"] >= rec["polls"]:
                    self._finish(rec)
                elif self.scenario != "aborted":  # an aborted prediction never starts
                    obj["status"] = "processing"
                    obj["started_at"] = obj["started_at"] or _iso(datetime.now(UTC))
                    obj["logs"] += f"step {rec['seen']}/{rec['polls']}\n"
            return Resp(200, dict(obj))

    def _list(self) -> Resp:
        with self._plock:
            results = [dict(r["obj"]) for r in reversed(list(self._preds.values()))]
        return Resp(200, {"next": None, "previous": None, "results": results})

    def _cancel(self, pid: str) -> Resp:
        self.record_cancel(id=pid)
        with self._plock:
            rec = self._preds.get(pid)
            if rec is None:
                return problem(404, None, "Not found.")
            obj = rec["obj"]
            if obj["status"] in ("starting", "processing"):
                now = datetime.now(UTC)
                obj.update(
                    status="canceled",
                    output=None,
                    completed_at=_iso(now),
                    metrics={"predict_time": 0.128, "total_time": 0.175},
                )
            return Resp(200, dict(obj))

    # ------------------------------------------------------------------ models and collections
    def _version_object(self, model: str, vid: str) -> dict:
        return {
            "id": vid,
            "created_at": "2024-08-01T00:00:00.000000Z",
            "cog_version": "0.9.4",
            "openapi_schema": copy.deepcopy(self.models[model]["versions"][vid]),
        }

    def _model_object(self, model: str) -> dict:
        """A model as ``GET /v1/models/{owner}/{name}`` describes it [API]: no deprecation or
        shutdown field exists in Replicate's model object."""
        owner, name = model.split("/", 1)
        entry = self.models[model]
        return {
            "url": f"https://replicate.com/{model}",
            "owner": owner,
            "name": name,
            "description": entry["description"],
            "visibility": "public",
            "is_official": entry["official"],
            "github_url": None,
            "paper_url": None,
            "license_url": None,
            "run_count": 1,
            "cover_image_url": None,
            "default_example": None,
            "latest_version": self._version_object(model, entry["latest"]),
        }

    def _model(self, p: list[str]) -> Resp:
        model = f"{p[2]}/{p[3]}"
        with self._plock:
            if model not in self.models:
                return problem(404, None, "Not found.")
            if len(p) == 6:
                if p[4] != "versions" or p[5] not in self.models[model]["versions"]:
                    return problem(404, None, "Not found.")
                return Resp(200, self._version_object(model, p[5]))
            return Resp(200, self._model_object(model))

    def _collection(self, slug: str) -> Resp:
        if slug != COLLECTION:
            return problem(404, None, "Not found.")
        with self._plock:
            models = [
                self._model_object(m)
                for m, entry in self.models.items()
                if COLLECTION in entry.get("collections", [COLLECTION])
            ]
        return Resp(
            200,
            {
                "name": "Text to image",
                "slug": COLLECTION,
                "description": "Models that generate images from text prompts",
                "models": models,
            },
        )
