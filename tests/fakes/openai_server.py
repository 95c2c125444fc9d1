"""Fake OpenAI API (images + chat) speaking the real wire protocol, as strict as the real one.

Use with the official SDK::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/v1", api_key="sk-test-good",
                               max_retries=0)
        client.images.generate(model="gpt-image-2", prompt="a fox")

Constructor: ``FakeOpenAI(api_keys={"sk-test-good"}, should_retry="false", scenario="success",
options=None, huge_size=..., slow_seconds=...)``. ``should_retry`` is the ``x-should-retry``
header value sent on every error response (``None`` = omit it).

Routes: ``POST /v1/images/generations``, ``POST /v1/images/edits`` (multipart, below),
``GET /v1/models``, ``POST /v1/chat/completions``. Every response carries ``x-request-id``.
Unknown routes answer 404 ``Invalid URL (...)``.

Sources for every rule below (read 2026-12-05): the openai-python SDK at ``e43b422``
(2026-08-21), ``src/openai/types/image_generate_params.py`` (fields, enums, ranges, the
gpt-image-2 size rules) and ``image_model.py`` (model ids); ``openai/openai-openapi`` at
``f85dbe2`` (``createImage``); OpenAI's error-codes guide and answers quoted in public issue
threads for the error bodies (cited where used).

Real validation (always on), in the order the API applies it:

* unknown body fields: 400 ``unknown_parameter`` ("Unknown parameter: 'qualty'."). The known
  fields are ``ImageGenerateParams``; ``response_format`` and ``style`` are unknown to the GPT
  image models (the SDK docstrings: "isn't supported for the GPT image models", "only
  supported for dall-e-3").
* ``model``: DALL·E 2 and 3 were removed on 2026-05-12 and, like an unknown id, a model shut
  down (gpt-image-1 on 2026-10-23, gpt-image-1-mini on 2026-12-01: not listed by default) or a
  model the key cannot see, answer 404 ``model_not_found`` (a request without ``model`` means
  ``dall-e-2``, the documented default, so it is 404 too).
* ``prompt`` (required, at most 32000 characters), ``n`` (1-10), ``size`` (the three standard
  sizes or ``auto``; gpt-image-2 also any ``WxH`` with both sides divisible by 16, a ratio
  within 3:1, at most 3840 per side and between 655,360 and 8,294,400 pixels), ``quality``,
  ``background`` (``transparent`` needs png or webp), ``moderation``, ``output_format``,
  ``output_compression`` (0-100, only with jpeg or webp), ``partial_images`` (0-3): 400
  ``invalid_value`` / ``integer_below_min_value`` / ``integer_above_max_value``.

Edits (``POST /v1/images/edits``), from ``CreateImageEditRequest`` (openai-openapi ``f85dbe2``)
and ``ImageEditParams`` of openai-python 3.54.0 (the version requirements.txt pins:
``src/openai/types/image_edit_params.py``), in this order:

* the body must be ``multipart/form-data`` (the real API also takes a JSON body whose
  ``images`` reference URLs or file ids; the fake does not model that and refuses it);
* unknown fields, ``moderation`` included (a generations-only parameter), and
  ``response_format``: 400 ``unknown_parameter``; a missing ``model`` means
  ``gpt-image-1.5`` (the documented default), and a model that is not a listed GPT image
  model is 404 ``model_not_found`` as for generations;
* ``prompt`` as for generations; ``image`` (``image`` or ``image[]`` parts): at least one
  (``missing_required_parameter``), at most 16 (``array_above_max_length``), each declared
  ``image/png``, ``image/jpeg`` or ``image/webp`` ("Invalid file 'image': unsupported
  mimetype ('…'). Supported file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
  OpenAI's words as quoted in Comfy-Org/ComfyUI#9329), under 50 MB, and really an image of
  that format ("Invalid image file or mode for image N, please check your image file.",
  code ``invalid_image_file``, as quoted in public threads);
* ``mask``: one PNG part under 4 MB with an alpha channel, of the first image's size
  ("Invalid mask image format - mask image missing alpha channel" / "- mask size does not
  match image size", OpenAI's words as quoted in public threads; the others are ours);
* ``n``, ``size``, ``quality``, ``background``, ``output_format``, ``output_compression`` and
  ``partial_images`` as for generations (form values are strings: a non-integer ``n`` is
  ``invalid_type``); ``input_fidelity`` ``high`` or ``low``, refused for gpt-image-2 ("For
  gpt-image-2, omit this parameter") and ``low`` only for gpt-image-1-mini; ``stream=true``
  is refused (the fake does not stream).

An edit answers b64_json images made from the inputs, so a test can tell what arrived: the
first image resized to the output size (``auto``: the standard size closest to its shape),
painted with the scenario colour (option ``color``, default the palette) where the mask is
transparent, or blended half-way with it when there is no mask; ``usage`` counts the input
images' tokens (``input_tokens_details.image_tokens``, GPT-4o vision tiling: 85 + 170 per
512-pixel tile after scaling to fit 2048 and a 768 shortest side). ``fake.edits`` records
each multipart request as received: ``{"fields": {name: text}, "files": [{"name",
"filename", "content_type", "data"}], "headers"}``, in order (so ``image[]`` parts keep
theirs).

The model listing (``GET /v1/models``) returns what the fake currently lists:
``fake.add_listed_model(id)`` / ``fake.remove_listed_model(id)`` change it at runtime, and
``fake.hide_model(key, id)`` keeps one model out of one key's list and refuses it to that key
(404 ``model_not_found``, as OpenAI answers a project that may not use a model). A model that
is not listed is not served either.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``images``, ``chat``, ``models``,
default ``stage="images,chat"``:

``success``           options ``images`` (number of images, overrides request ``n``), ``color``,
                      ``reply`` (fixed chat completion text).
``slow``              ``seconds`` (default 1, max 30) before answering.
``unauthorized``      401 ``invalid_api_key`` (fires on every route, including ``/v1/models``).
``no_credit``         429 ``insufficient_quota`` (stage ``images,chat,models``).
``billing_limit``     400 ``billing_hard_limit_reached`` ("Billing hard limit has been reached").
``org_unverified``    403 "Your organization must be verified to use the model `<model>`…"
                      (code null); option ``model`` limits it to one model.
``check_forbidden``   403 on ``GET /v1/models`` (a restricted key without the Models read
                      permission: "You have insufficient permissions for this operation…").
``rate_limited_once`` first matching request 429 ``rate_limit_exceeded`` with ``Retry-After: 0``
                      and ``retry-after-ms: 10``; later ones succeed. Pass ``should_retry=True``
                      to send ``x-should-retry: true`` so the SDK's own retry succeeds.
``rate_limited``      always 429 with ``Retry-After`` (``retry_after``, default 1).
``content_policy``    400 ``moderation_blocked`` (type ``image_generation_user_error``); default
                      stage ``images``.
``validation``        400 ``invalid_value``; options ``param`` (default ``size``), ``message``.
``server_error``      500 ``server_error`` (``status=503`` for 503).
``malformed``         200 with an invalid JSON body.
``result_url``        answer as an OpenAI-compatible gateway that returns ``data[].url``
                      (option ``url``: relative paths such as ``/files/huge.png`` are made
                      absolute; default: a PNG served by this fake).
"""

from __future__ import annotations

import base64
import io
import math
import re
import time
from dataclasses import dataclass
from email.message import Message

from PIL import Image, UnidentifiedImageError

from .base import (
    MIME,
    FakeServer,
    Req,
    Resp,
    bearer_token,
    make_image,
    new_id,
    palette,
    parse_size,
)

# openai-python src/openai/types/image_model.py (e43b422): the GPT image models.
GPT_MODELS = (
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "gpt-image-2-2026-04-21",
    "chatgpt-image-latest",
)
# Shut down (OpenAI's deprecations page): DALL·E removed on 2026-05-12 (404 model_not_found);
# gpt-image-1 on 2026-10-23 and gpt-image-1-mini on 2026-12-01, so neither is listed or served
# by default (``add_listed_model`` brings one back for a test).
RETIRED_MODELS = ("dall-e-2", "dall-e-3")
SHUT_DOWN = ("gpt-image-1", "gpt-image-1-mini")
# image_generate_params.py: "For gpt-image-2 and gpt-image-2-2026-04-21, arbitrary resolutions".
FREE_SIZE_MODELS = ("gpt-image-2", "gpt-image-2-2026-04-21")
CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini")
LISTED_BY_DEFAULT = tuple(m for m in (*GPT_MODELS, *CHAT_MODELS) if m not in SHUT_DOWN)
# ImageGenerateParamsBase + ImageGenerateParams*.stream: every field the endpoint knows.
IMAGE_FIELDS = frozenset(
    {
        "prompt",
        "background",
        "model",
        "moderation",
        "n",
        "output_compression",
        "output_format",
        "partial_images",
        "quality",
        "response_format",
        "size",
        "style",
        "user",
        "stream",
    }
)
DALLE_ONLY_FIELDS = ("response_format", "style")  # not supported by the GPT image models
STANDARD_SIZES = ("1024x1024", "1536x1024", "1024x1536", "auto")
QUALITIES = ("low", "medium", "high", "auto")
BACKGROUNDS = ("transparent", "opaque", "auto")
MODERATIONS = ("low", "auto")
OUTPUT_FORMATS = ("png", "jpeg", "webp")
PROMPT_MAX = 32000
# gpt-image-2 free sizes: the SDK docstring (16-multiples, 1:3..3:1, at most 3840x2160) and the
# pixel range fal documents for the same model (655,360 to 8,294,400 pixels).
MIN_PIXELS, MAX_PIXELS, MAX_EDGE = 655_360, 3840 * 2160, 3840
# Output image tokens by (quality, size index) for the usage block: gpt-image-1's published
# table (1024x1024, 1024x1536, 1536x1024).
OUT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
# POST /v1/images/edits (multipart): the fields CreateImageEditRequest (openai-openapi f85dbe2)
# and ImageEditParams (openai-python 3.54.0) have in common with the models the fake serves.
# No ``moderation``: the edit endpoint has none.
EDIT_FIELDS = frozenset(
    {
        "image",
        "image[]",
        "prompt",
        "mask",
        "background",
        "input_fidelity",
        "model",
        "n",
        "output_compression",
        "output_format",
        "partial_images",
        "quality",
        "response_format",
        "safety_identifier",
        "size",
        "stream",
        "user",
    }
)
EDIT_DEFAULT_MODEL = "gpt-image-1.5"  # CreateImageEditRequest.model's default
MAX_EDIT_IMAGES = 16  # "You can provide up to 16 images."
IMAGE_MAX_BYTES = 50 * 1024 * 1024  # each image "less than 50MB"
MASK_MAX_BYTES = 4 * 1024 * 1024  # the mask "less than 4MB"
EDIT_IMAGE_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}
INPUT_FIDELITIES = ("high", "low")
# ImageEditParams.input_fidelity (3.54.0): "Supports high and low on gpt-image-1.5;
# gpt-image-1-mini supports only low. For gpt-image-2, omit this parameter."
FIDELITY_BY_MODEL = {
    "gpt-image-1-mini": ("low",),
    "gpt-image-2": (),
    "gpt-image-2-2026-04-21": (),
}
# OpenAI's own wording (quoted in openai-php/client#565 and many threads since).
VERIFY_URL = "https://platform.openai.com/settings/organization/general"


def _join(values) -> str:
    quoted = [f"'{v}'" for v in values]
    return ", ".join(quoted[:-1]) + f", and {quoted[-1]}" if len(quoted) > 1 else quoted[0]


def oa_error(
    status: int,
    message: str,
    type_: str = "invalid_request_error",
    param: str | None = None,
    code: str | None = None,
    **extra,
) -> Resp:
    err = {"message": message, "type": type_, "param": param, "code": code, **extra}
    return Resp(status, {"error": err})


def invalid_value(param: str, value, allowed) -> Resp:
    return oa_error(
        400,
        f"Invalid value: '{value}'. Supported values are: {_join(allowed)}.",
        param=param,
        code="invalid_value",
    )


def model_not_found(model: str) -> Resp:
    """404 for a removed, unknown or hidden model (the API's answer since DALL·E's removal)."""
    return oa_error(
        404,
        f"The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    )


def _int_range(param: str, value, low: int, high: int) -> Resp | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return oa_error(
            400,
            f"Invalid type for '{param}': expected an integer, but got a "
            f"{type(value).__name__} instead.",
            param=param,
            code="invalid_type",
        )
    if value < low:
        return oa_error(
            400,
            f"Invalid '{param}': integer below minimum value. Expected a value >= {low}, but "
            f"got {value} instead.",
            param=param,
            code="integer_below_min_value",
        )
    if value > high:
        return oa_error(
            400,
            f"Invalid '{param}': integer above maximum value. Expected a value <= {high}, but "
            f"got {value} instead.",
            param=param,
            code="integer_above_max_value",
        )
    return None


def free_size_ok(size: str) -> bool:
    """gpt-image-2's ``WIDTHxHEIGHT`` rule (see FREE_SIZE_MODELS)."""
    m = re.fullmatch(r"(\d+)x(\d+)", str(size))
    if not m:
        return False
    w, h = int(m[1]), int(m[2])
    return (
        w > 0
        and h > 0
        and w % 16 == 0
        and h % 16 == 0
        and max(w, h) <= MAX_EDGE
        and MIN_PIXELS <= w * h <= MAX_PIXELS
        and max(w, h) / min(w, h) <= 3
    )


@dataclass
class FormPart:
    """One part of a multipart/form-data body."""

    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8", "replace")


def parse_form(content_type: str, body: bytes) -> list[FormPart] | None:
    """The parts of a ``multipart/form-data`` body (RFC 7578) in order, or None when the
    body is not one (another content type, no boundary, a broken part)."""
    header = Message()
    header["content-type"] = content_type or "application/octet-stream"
    boundary = header.get_param("boundary")
    if header.get_content_type() != "multipart/form-data" or not isinstance(boundary, str):
        return None
    sections = body.split(b"--" + boundary.encode("latin-1"))
    if len(sections) < 3 or not sections[-1].startswith(b"--"):
        return None
    parts = []
    for section in sections[1:-1]:
        if not (section.startswith(b"\r\n") and section.endswith(b"\r\n")):
            return None
        head, separator, value = section[2:-2].partition(b"\r\n\r\n")
        if not separator:
            return None
        headers = Message()
        for line in head.decode("latin-1").split("\r\n"):
            key, colon, text = line.partition(":")
            if colon:
                headers[key.strip()] = text.strip()
        name = headers.get_param("name", header="content-disposition")
        if headers.get_content_disposition() != "form-data" or not isinstance(name, str):
            return None
        parts.append(FormPart(name, value, headers.get_filename(), headers.get("content-type")))
    return parts


def vision_tokens(width: int, height: int) -> int:
    """Input image tokens by OpenAI's vision tiling: fit in 2048x2048, shortest side down to
    768, then 85 + 170 per 512-pixel tile."""
    scale = min(1.0, 2048 / max(width, height))
    width, height = width * scale, height * scale
    scale = min(1.0, 768 / min(width, height))
    width, height = width * scale, height * scale
    return 85 + 170 * math.ceil(width / 512) * math.ceil(height / 512)


def _decoded(data: bytes) -> Image.Image | None:
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA") or (
        image.mode == "P" and "transparency" in image.info
    )


class FakeOpenAI(FakeServer):
    default_stage = "images,chat"

    def __init__(self, *, api_keys=None, should_retry: str | None = "false", **kwargs):
        self.api_keys = set(api_keys or {"sk-test-good"})
        self.should_retry = should_retry
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self._listed: list[str] = list(LISTED_BY_DEFAULT)
        self._hidden: dict[str, set[str]] = {}
        self._edits: list[dict] = []

    edits = property(
        lambda self: self._snapshot("_edits"), doc="multipart edit requests as received"
    )

    # ------------------------------------------------------------------ listing control
    def add_listed_model(self, model_id: str) -> None:
        """List (and serve) ``model_id`` from now on, e.g. a newly released model."""
        with self._lock:
            if model_id not in self._listed:
                self._listed.append(model_id)

    def remove_listed_model(self, model_id: str) -> None:
        """Stop listing and serving ``model_id`` (404 ``model_not_found`` from now on)."""
        with self._lock:
            if model_id in self._listed:
                self._listed.remove(model_id)

    def hide_model(self, api_key: str, model_id: str) -> None:
        """Keep ``model_id`` out of what ``api_key`` may list and use (a restricted project)."""
        with self._lock:
            self._hidden.setdefault(api_key, set()).add(model_id)

    def listed_models(self, api_key: str | None = None) -> list[str]:
        with self._lock:
            hidden = self._hidden.get(api_key or "", set())
            return [m for m in self._listed if m not in hidden]

    # ------------------------------------------------------------------ plumbing
    def handle_api(self, req: Req) -> Resp:
        resp = self._route(req)
        resp.headers.setdefault("x-request-id", new_id("req_"))
        if resp.status >= 400:
            retry = self.opt("should_retry", self.should_retry)
            if retry is not None:
                resp.headers["x-should-retry"] = str(retry).lower()
        return resp

    def _route(self, req: Req) -> Resp:
        routes = {
            ("POST", "/v1/images/generations"): ("images", self._images),
            ("POST", "/v1/images/edits"): ("images", self._edit),
            ("GET", "/v1/models"): ("models", self._models),
            ("POST", "/v1/chat/completions"): ("chat", self._chat),
        }
        stage, fn = routes.get((req.method, req.path.rstrip("/")), (None, None))
        if fn is None:
            return oa_error(404, f"Invalid URL ({req.method} {req.path})")
        key = bearer_token(req)
        if key is None:
            return oa_error(
                401,
                "You didn't provide an API key. You need to provide your API "
                "key in an Authorization header using Bearer auth (i.e. "
                "Authorization: Bearer YOUR_KEY).",
            )
        if key not in self.api_keys or self.scenario == "unauthorized":
            return oa_error(
                401,
                f"Incorrect API key provided: {key[:6]}***{key[-4:]}. You can "
                "find your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        self._key = key
        if fn == self._edit:  # multipart, not JSON
            form = parse_form(req.headers.get("content-type", ""), req.body)
            if form is None:
                return oa_error(
                    400,
                    "Invalid Content-Type header ("
                    f"{req.headers.get('content-type', 'none')}): the fake's /v1/images/edits "
                    "takes multipart/form-data only.",
                )
            self._record_edit(req, form)
            fields = {p.name: p.text for p in form if p.name not in ("image", "image[]", "mask")}
            self._last_model = fields.get("model") or EDIT_DEFAULT_MODEL
            return self.scenario_error(stage) or self._account_error(stage) or fn(form)
        if req.method == "POST" and not isinstance(req.json, dict):
            return oa_error(400, "We could not parse the JSON body of your request.")
        if stage == "images":
            self._last_model = req.json.get("model") or "dall-e-2"
        return self.scenario_error(stage) or self._account_error(stage) or fn(req)

    def _record_edit(self, req: Req, form: list[FormPart]) -> None:
        files = [
            {
                "name": p.name,
                "filename": p.filename,
                "content_type": p.content_type,
                "data": p.value,
            }
            for p in form
            if p.filename is not None or p.name in ("image", "image[]", "mask")
        ]
        fields = {
            p.name: p.text
            for p in form
            if p.filename is None and p.name not in ("image", "image[]", "mask")
        }
        with self._lock:
            self._edits.append({"fields": fields, "files": files, "headers": req.headers})

    def stage_for(self, scenario: str) -> str | None:
        if scenario == "content_policy":
            return "images"
        if scenario == "no_credit":
            return "images,chat,models"
        return None

    def _account_error(self, stage: str) -> Resp | None:
        """The account-level answers that are not generic scenarios."""
        name = self.scenario
        if name == "check_forbidden" and stage == "models":
            # A restricted key without the "Models: Read" permission (OpenAI's 403 wording).
            return oa_error(
                403,
                "You have insufficient permissions for this operation. Missing scopes: "
                "api.model.read. Check that you have the correct role in your organization "
                "(Reader, Writer, Owner) and project (Member, Owner), and if you're using a "
                "restricted API key, that it has the necessary scopes.",
            )
        if stage != "images":
            return None
        if name == "billing_limit":
            # {"code": "billing_hard_limit_reached", ...} HTTP 400 (dfinke/PowerShellAI#127).
            return oa_error(
                400, "Billing hard limit has been reached", code="billing_hard_limit_reached"
            )
        if name == "org_unverified" and self.opt("model", self._last_model) == self._last_model:
            # HTTP 403, code null (openai-php/client#565).
            return oa_error(
                403,
                f"Your organization must be verified to use the model `{self._last_model}`. "
                f"Please go to: {VERIFY_URL} and click on Verify Organization. If you just "
                "verified, it can take up to 15 minutes for access to propagate.",
            )
        return None

    def error_response(self, kind: str) -> Resp:
        msg = self.opt("message")
        if kind == "no_credit":
            return oa_error(
                429,
                msg
                or "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                code="insufficient_quota",
            )
        if kind in ("rate_limited", "rate_limited_once"):
            resp = oa_error(
                429,
                msg
                or "Rate limit exceeded for images per minute in "
                "organization org-fake. Limit: 5/1min. Current: 6/1min.",
                "requests",
                code="rate_limit_exceeded",
            )
            resp.headers.update(self.retry_headers(kind == "rate_limited_once"))
            return resp
        if kind == "content_policy":
            return oa_error(
                400,
                msg
                or "Your request was rejected by the safety system. If "
                "you believe this is an error, contact us at help.openai.com and "
                "include the request ID. safety_violations=[sexual].",
                "image_generation_user_error",
                code="moderation_blocked",
                moderation_details={"moderation_stage": "input", "categories": ["sexual"]},
            )
        if kind == "validation":
            param = self.opt("param", "size")
            return oa_error(
                400, msg or f"Invalid value for '{param}'.", param=param, code="invalid_value"
            )
        status = int(self.opt("status", 500))
        return oa_error(
            status,
            msg or "The server had an error while processing your request. Sorry about that!",
            "server_error",
        )

    # ------------------------------------------------------------------ endpoints
    _last_model = "dall-e-2"
    _key = ""

    def _models(self, req: Req) -> Resp:
        data = [
            {"id": m, "object": "model", "created": 1698785189, "owned_by": "system"}
            for m in self.listed_models(self._key)
        ]
        return Resp(200, {"object": "list", "data": data})

    def _validate(self, body: dict) -> Resp | None:
        unknown = next((k for k in body if k not in IMAGE_FIELDS), None)
        if unknown is not None:
            return oa_error(
                400, f"Unknown parameter: '{unknown}'.", param=unknown, code="unknown_parameter"
            )
        model = body.get("model") or "dall-e-2"  # the documented default
        if model not in GPT_MODELS or model not in self.listed_models(self._key):
            return model_not_found(model)
        for param in DALLE_ONLY_FIELDS:
            if param in body:
                return oa_error(
                    400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
                )
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or prompt == "":
            return oa_error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if len(prompt) > PROMPT_MAX:
            return oa_error(
                400,
                f"Invalid 'prompt': string too long. Expected a string with "
                f"maximum length {PROMPT_MAX}, but got a string with length "
                f"{len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        return self._validate_common(model, body)

    def _validate_common(self, model: str, body: dict) -> Resp | None:
        """The rules generations and edits share: n, size, the enums, transparency,
        output_compression and partial_images."""
        if "n" in body and (bad := _int_range("n", body["n"], 1, 10)):
            return bad
        size = body.get("size", "auto")
        if size not in STANDARD_SIZES and not (model in FREE_SIZE_MODELS and free_size_ok(size)):
            if model in FREE_SIZE_MODELS:
                return oa_error(
                    400,
                    f"Invalid value: '{size}'. Use 'auto' or WIDTHxHEIGHT with both sides "
                    "divisible by 16, an aspect ratio between 1:3 and 3:1, at most 3840 pixels "
                    f"per side and between {MIN_PIXELS} and {MAX_PIXELS} pixels in total.",
                    param="size",
                    code="invalid_value",
                )
            return invalid_value("size", size, STANDARD_SIZES)
        for param, allowed in (
            ("quality", QUALITIES),
            ("background", BACKGROUNDS),
            ("moderation", MODERATIONS),
            ("output_format", OUTPUT_FORMATS),
        ):
            if body.get(param) is not None and body[param] not in allowed:
                return invalid_value(param, body[param], allowed)
        fmt = body.get("output_format") or "png"
        if body.get("background") == "transparent" and model in FREE_SIZE_MODELS:
            # gpt-image-2 makes no transparent output (OpenAI's image skill: "gpt-image-2 does
            # not support transparent output"; use gpt-image-1.5). The wording is ours.
            return oa_error(
                400,
                f"Transparent background is not supported for {model}.",
                param="background",
                code="invalid_value",
            )
        if body.get("background") == "transparent" and fmt not in ("png", "webp"):
            return oa_error(
                400,
                "Transparent background requires output_format png or webp.",
                param="background",
                code="invalid_value",
            )
        if body.get("output_compression") is not None:
            if bad := _int_range("output_compression", body["output_compression"], 0, 100):
                return bad
            if fmt not in ("jpeg", "webp"):
                return oa_error(
                    400,
                    "output_compression is only supported for the jpeg and webp output formats.",
                    param="output_compression",
                    code="invalid_value",
                )
        if body.get("partial_images") is not None and (
            bad := _int_range("partial_images", body["partial_images"], 0, 3)
        ):
            return bad
        return None

    def _images(self, req: Req) -> Resp:
        body = req.json
        invalid = self._validate(body)
        if invalid:
            return invalid
        count = int(self.opt("images", self.opt("n", body.get("n", 1))))
        size = body.get("size", "auto")
        actual = "1024x1024" if size == "auto" else size
        w, h = parse_size(actual)
        return self._images_answer(
            body,
            actual,
            count,
            lambda color, fmt: make_image(w, h, color, fmt),
        )

    # ------------------------------------------------------------------ edits
    def _edit_fields(self, form: list[FormPart]) -> tuple[dict, Resp | None]:
        """The form's text fields as the JSON body would carry them (integers parsed), or the
        error a field gets before the per-field rules run."""
        body: dict = {}
        for part in form:
            if part.name in ("image", "image[]", "mask"):
                continue
            if part.name not in EDIT_FIELDS:
                return body, oa_error(
                    400,
                    f"Unknown parameter: '{part.name}'.",
                    param=part.name,
                    code="unknown_parameter",
                )
            body[part.name] = part.text
        for param in ("n", "output_compression", "partial_images"):
            if param in body:
                if not re.fullmatch(r"-?\d+", body[param].strip()):
                    return body, oa_error(
                        400,
                        f"Invalid type for '{param}': expected an integer, but got a string "
                        "instead.",
                        param=param,
                        code="invalid_type",
                    )
                body[param] = int(body[param])
        return body, None

    def _validate_edit(self, form: list[FormPart]) -> tuple[dict, Resp | None]:
        body, bad = self._edit_fields(form)
        if bad:
            return body, bad
        model = body.get("model") or EDIT_DEFAULT_MODEL
        if model not in GPT_MODELS or model not in self.listed_models(self._key):
            return body, model_not_found(model)
        if "response_format" in body:  # dall-e-2 only, and it is gone
            return body, oa_error(
                400,
                "Unknown parameter: 'response_format'.",
                param="response_format",
                code="unknown_parameter",
            )
        prompt = body.get("prompt", "")
        if prompt == "":
            return body, oa_error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if len(prompt) > PROMPT_MAX:
            return body, oa_error(
                400,
                f"Invalid 'prompt': string too long. Expected a string with maximum length "
                f"{PROMPT_MAX}, but got a string with length {len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        images = [p for p in form if p.name in ("image", "image[]")]
        bad = self._check_images(images) or self._check_mask(form, images)
        if bad:
            return body, bad
        if bad := self._validate_common(model, body):
            return body, bad
        fidelity = body.get("input_fidelity")
        if fidelity is not None:
            if fidelity not in INPUT_FIDELITIES:
                return body, invalid_value("input_fidelity", fidelity, INPUT_FIDELITIES)
            allowed = FIDELITY_BY_MODEL.get(model, INPUT_FIDELITIES)
            if fidelity not in allowed:
                return body, oa_error(
                    400,
                    f"input_fidelity '{fidelity}' is not supported for {model}"
                    + (f"; use {_join(allowed)}." if allowed else "; omit it."),
                    param="input_fidelity",
                    code="invalid_value",
                )
        if body.get("stream", "false").lower() != "false":
            return body, oa_error(
                400, "The fake does not stream edits.", param="stream", code="invalid_value"
            )
        return body, None

    def _check_images(self, images: list[FormPart]) -> Resp | None:
        if not images:
            return oa_error(
                400,
                "Missing required parameter: 'image'.",
                param="image",
                code="missing_required_parameter",
            )
        if len(images) > MAX_EDIT_IMAGES:
            return oa_error(
                400,
                f"Invalid 'image': array too long. Expected an array with maximum length "
                f"{MAX_EDIT_IMAGES}, but got an array with length {len(images)} instead.",
                param="image",
                code="array_above_max_length",
            )
        for number, part in enumerate(images, start=1):
            declared = (part.content_type or "application/octet-stream").split(";")[0].strip()
            if declared not in EDIT_IMAGE_TYPES:
                return oa_error(
                    400,
                    f"Invalid file 'image': unsupported mimetype ('{declared}'). Supported "
                    "file formats are 'image/jpeg', 'image/png', and 'image/webp'.",
                    param="image",
                )
            if len(part.value) >= IMAGE_MAX_BYTES:
                return oa_error(
                    400,
                    f"Invalid file 'image': image {number} is larger than 50 MB.",
                    param="image",
                )
            decoded = _decoded(part.value)
            if decoded is None or decoded.format != EDIT_IMAGE_TYPES[declared]:
                return oa_error(
                    400,
                    f"Invalid image file or mode for image {number}, please check your image "
                    "file. If you believe this is an error, contact us at help.openai.com and "
                    "include the request ID.",
                    param="image",
                    code="invalid_image_file",
                )
        return None

    def _check_mask(self, form: list[FormPart], images: list[FormPart]) -> Resp | None:
        masks = [p for p in form if p.name == "mask"]
        if not masks:
            return None
        if len(masks) > 1:
            return oa_error(400, "Invalid 'mask': expected one file.", param="mask")
        mask = masks[0]
        declared = (mask.content_type or "application/octet-stream").split(";")[0].strip()
        if declared != "image/png":
            return oa_error(
                400,
                f"Invalid file 'mask': unsupported mimetype ('{declared}'). Supported file "
                "formats are 'image/png'.",
                param="mask",
            )
        if len(mask.value) >= MASK_MAX_BYTES:
            return oa_error(
                400, "Invalid mask image format - mask image is 4 MB or larger", param="mask"
            )
        decoded = _decoded(mask.value)
        if decoded is None or decoded.format != "PNG":
            return oa_error(
                400, "Invalid mask image format - mask image is not a valid PNG", param="mask"
            )
        if not _has_alpha(decoded):
            return oa_error(
                400, "Invalid mask image format - mask image missing alpha channel", param="mask"
            )
        first = _decoded(images[0].value)
        if decoded.size != first.size:
            return oa_error(
                400,
                "Invalid mask image format - mask size does not match image size",
                param="mask",
            )
        return None

    def _edit(self, form: list[FormPart]) -> Resp:
        body, invalid = self._validate_edit(form)
        if invalid:
            return invalid
        images = [_decoded(p.value) for p in form if p.name in ("image", "image[]")]
        mask = next((_decoded(p.value) for p in form if p.name == "mask"), None)
        count = int(self.opt("images", self.opt("n", body.get("n", 1))))
        size = body.get("size", "auto")
        if size == "auto":  # the standard size closest to the first image's shape
            shape = math.log(images[0].width / images[0].height)
            size = min(
                STANDARD_SIZES[:3],
                key=lambda s: abs(math.log(parse_size(s)[0] / parse_size(s)[1]) - shape),
            )
        w, h = parse_size(size)
        return self._images_answer(
            body,
            size,
            count,
            lambda color, fmt: self._edited(images[0], mask, (w, h), color, fmt),
            image_tokens=sum(vision_tokens(*image.size) for image in images),
        )

    def _images_answer(self, body, size: str, count: int, picture, image_tokens: int = 0):
        """The 200 of a generation or an edit: ``count`` pictures (``picture(color, fmt)``)
        as b64_json (or URLs, in the result_url scenario) and the ``usage`` the images
        endpoints report, input image tokens included."""
        fmt = body.get("output_format", "png")
        quality = body.get("quality", "auto")
        out: dict = {"created": int(time.time()), "data": []}
        for i in range(count):
            img = picture(tuple(self.opt("color", palette(i))), fmt)
            if self.scenario == "result_url":  # an OpenAI-compatible gateway answering URLs
                url = self.opt("url")
                if url is None:
                    url = self.add_file(f"img-{new_id()}.{fmt}", img, MIME[fmt.upper()])
                out["data"].append({"url": self.absolute(url)})
            else:
                out["data"].append({"b64_json": base64.b64encode(img).decode()})
        q = "medium" if quality == "auto" else quality
        idx = {"1024x1536": 1, "1536x1024": 2}.get(size, 0)
        out_tokens = OUT_TOKENS[q][idx] * count
        text_tokens = max(1, len(body["prompt"].split()))
        out.update(
            background=body.get("background") or "opaque", output_format=fmt, quality=q, size=size
        )
        out["usage"] = {
            "input_tokens": text_tokens + image_tokens,
            "output_tokens": out_tokens,
            "total_tokens": text_tokens + image_tokens + out_tokens,
            "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": image_tokens},
            "output_tokens_details": {"text_tokens": 0, "image_tokens": out_tokens},
        }
        return Resp(200, out)

    @staticmethod
    def _edited(first: Image.Image, mask, size: tuple, color: tuple, fmt: str) -> bytes:
        """The first input at ``size``, painted ``color`` where the mask is transparent (or
        blended half-way with it without a mask)."""
        base = first.convert("RGB").resize(size, Image.Resampling.BILINEAR)
        paint = Image.new("RGB", size, color)
        if mask is None:
            result = Image.blend(base, paint, 0.5)
        else:
            keep = mask.convert("RGBA").getchannel("A").resize(size, Image.Resampling.NEAREST)
            result = Image.composite(base, paint, keep)
        buffer = io.BytesIO()
        result.save(buffer, format={"jpeg": "JPEG", "webp": "WEBP"}.get(fmt, "PNG"))
        return buffer.getvalue()

    def _chat(self, req: Req) -> Resp:
        body = req.json
        if not body.get("model"):
            return oa_error(400, "you must provide a model parameter", param="model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return oa_error(
                400,
                "Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        user = _last_user_text(messages)
        reply = self.opt(
            "reply",
            f"{user.strip()}, highly detailed, cinematic lighting, sharp focus, rich colours",
        )
        prompt_tokens = sum(len(_text(m.get("content")).split()) for m in messages) + 3
        completion_tokens = len(reply.split())
        return Resp(
            200,
            {
                "id": new_id("chatcmpl-"),
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": None,
                "service_tier": "default",
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "message": {
                            "role": "assistant",
                            "content": reply,
                            "refusal": None,
                            "annotations": [],
                        },
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                },
            },
        )


def _text(content) -> str:
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _last_user_text(messages: list) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _text(msg.get("content"))
    return ""
