"""Fake OpenRouter API (``/api/v1``) for the OpenAI SDK or plain httpx.

Use::

    with FakeOpenRouter() as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/api/v1", api_key="sk-or-v1-test-good",
                               max_retries=0)
        r = client.chat.completions.create(
            model="google/gemini-3.1-flash-image",
            messages=[{"role": "user", "content": "a fox"}],
            extra_body={"modalities": ["image", "text"]})
        r.choices[0].message.images[0]["image_url"]["url"]   # "data:image/png;base64,..."

Constructor: ``FakeOpenRouter(api_keys={"sk-or-v1-test-good"}, models=None, should_retry=None,
scenario="success", options=None, ...)``. ``models`` replaces the catalogue (list of model dicts
in the ``/models`` shape); ``should_retry`` sends ``x-should-retry`` on errors (the real service
does not, so the default is to omit it).

Sources (read 2026-12-05): ``OpenRouterTeam/docs`` at ``c26125a`` (2026-08-22):
``openapi/openapi.yaml`` (``ChatRequest``, ``ChatFinishReasonEnum``, ``Model`` with
``expiration_date``, ``PublicPricing.image_output``, ``GET /models`` whose ``output_modalities``
filter defaults to ``text``), ``api_reference/overview.mdx`` (``native_finish_reason``) and the
image-generation guide as of ``1c9b462`` (``image_config.aspect_ratio``, the extended ratios
1:4, 4:1, 1:8, 8:1 and ``image_size`` 0.5K of Gemini 3.1 Flash Image only); answers quoted in
public issue threads for the error bodies (cited where used).

Routes: ``POST /api/v1/chat/completions`` (``modalities`` containing ``image`` -> image generation,
``message.images[].image_url.url`` data URLs sized by ``image_config.aspect_ratio``; otherwise a
plain text completion built from the last user message), ``GET /api/v1/models`` (filter
``output_modalities``, default ``text``; ``all`` for everything), ``GET /api/v1/key`` and
``GET /api/v1/auth/key``. Every completion has ``usage.cost`` (USD). Real checks: a model id
it does not list 400 ``<id> is not a valid model ID``, missing messages 400, a ``modalities``
value other than text/image/audio 400, modalities the model cannot output 404 ``No endpoints
found that support the requested output modalities``, an ``image_config.aspect_ratio`` or
``image_size`` the model does not take 400. Unknown top-level fields are ignored, as OpenRouter
does (``KNOWN_CHAT_FIELDS`` lists the documented ones for tests to check against).

Image inputs (an edit), from ``ChatContentItems`` / ``ChatContentImage`` in openapi.yaml and
the image-inputs guide (``guides/overview/multimodal/image-understanding.mdx``: "The
``image_url`` can either be a URL or a base64-encoded image"; image/png, image/jpeg,
image/webp, image/gif): every list ``content`` part must have a known ``type`` (text,
image_url, input_audio, input_video, video_url, file), a text part a string ``text``, an
image part an ``image_url`` object with a ``url`` that is https or a base64 data URL whose
bytes really are an image of the declared type; otherwise 400 naming the part (the shape is
OpenRouter's ``BadRequestResponse``; the wording, after zod's, is ours). A model whose
``input_modalities`` lack ``image`` is 404 ``No endpoints found that support image input``.
Google's own limits (Vertex model cards: Gemini 3.1 Flash Image takes at most 14 images per
prompt, Gemini 2.5 Flash Image 3; 7 MB per inline image) come back as OpenRouter passes an
upstream refusal on: 400 ``Provider returned error`` with ``metadata.raw`` (Google's body;
its wording is ours). An image answer to an edit is the first input image (data URLs only)
at the output size, blended half-way with the scenario colour, so a test can tell the input
arrived; ``usage`` counts ``IMAGE_INPUT_TOKENS`` prompt tokens per input image, charged at
the model's ``pricing.prompt``.

Listing control: ``fake.add_listed_model(model_dict_or_id)``, ``fake.remove_listed_model(id)``
(it is then neither listed nor served) and ``fake.set_model_shutdown(id, "YYYY-MM-DD")``
(``expiration_date``). ``fake.key_info`` overrides fields of the ``/key`` answer (e.g.
``limit_remaining=0``).

Errors are ``{"error": {"code": <HTTP status>, "message", "metadata"?}, "user_id"}``.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``image`` (image generation),
``text`` (text completion), ``models``, ``key``; default ``stage="image,text"``:

``success``           options ``images`` / ``n`` (images per response, default 1), ``cost``
                      (per image, default 0.039), ``reply`` (fixed text), ``color``.
``slow``              ``seconds`` (default 1, max 30).
``unauthorized``      401 ``User not found.`` on every route.
``no_credit``         402 ``Insufficient credits...``.
``rate_limited_once`` first request 429 (``Retry-After: 0``, ``retry-after-ms: 10``), then OK.
``rate_limited``      always 429 with ``Retry-After`` and ``X-RateLimit-*`` headers.
``content_policy``    403 moderation error with ``metadata.reasons/flagged_input/provider_name/
                      model_slug`` (``status=400`` -> typed ``content_policy_violation``).
``validation``        400; option ``message``.
``server_error``      502 ``Provider returned error`` with ``metadata.provider_name/raw``
                      (``status=500``/``503`` also accepted).
``malformed``         200 with an invalid JSON body.
``error_in_200``      HTTP 200 whose body is ``{"error": {...}}`` (``with_choices=True`` adds a
                      choice with ``finish_reason: "error"``); option ``code`` (default 502).
``no_image``          image request answered with text only (no ``images`` key).
``result_url``        option ``url``: the ``image_url.url`` returned (relative -> absolute).
``safety_refusal``    HTTP 200, no images: ``choices[0].native_finish_reason`` is option
                      ``reason`` (default ``IMAGE_SAFETY``; also ``IMAGE_PROHIBITED_CONTENT``,
                      ``IMAGE_RECITATION``, ``IMAGE_OTHER``, ``NO_IMAGE``, ``SAFETY``…), and
                      ``finish_reason`` option ``finish_reason`` (default ``content_filter``,
                      ``stop`` for ``NO_IMAGE``), as Google's refusals reach OpenRouter users.
"""

from __future__ import annotations

import base64
import binascii
import copy
import io
import re
import time

from PIL import Image, UnidentifiedImageError

from .base import FakeServer, Req, Resp, bearer_token, make_png, new_id, palette

# Gemini 2.5 Flash Image's ratios and 1K pixel sizes (the image-generation guide's table).
ASPECTS = {
    "1:1": (1024, 1024),
    "2:3": (832, 1248),
    "3:2": (1248, 832),
    "3:4": (864, 1184),
    "4:3": (1184, 864),
    "4:5": (896, 1152),
    "5:4": (1152, 896),
    "9:16": (768, 1344),
    "16:9": (1344, 768),
    "21:9": (1536, 672),
}
# Gemini 3.1 Flash Image at 1K (Google's table, ai.google.dev image-generation
# #aspect_ratios_and_image_size), including the extended ratios only it takes.
ASPECTS_31 = {
    "1:1": (1024, 1024),
    "2:3": (848, 1264),
    "3:2": (1264, 848),
    "3:4": (896, 1200),
    "4:3": (1200, 896),
    "4:5": (928, 1152),
    "5:4": (1152, 928),
    "9:16": (768, 1376),
    "16:9": (1376, 768),
    "21:9": (1584, 672),
    "1:4": (512, 2048),
    "4:1": (2048, 512),
    "1:8": (384, 3072),
    "8:1": (3072, 384),
}
IMAGE_SIZE_SCALE = {"0.5K": 0.5, "1K": 1, "2K": 2, "4K": 4}
# What each image model takes in ``image_config`` (absent: the model takes no image_config).
IMAGE_CONFIG = {
    "google/gemini-2.5-flash-image": {"aspect_ratio": ASPECTS, "image_size": ()},
    "google/gemini-3.1-flash-image": {
        "aspect_ratio": ASPECTS_31,
        "image_size": tuple(IMAGE_SIZE_SCALE),
    },
    "black-forest-labs/flux.2-pro": {"aspect_ratio": ASPECTS, "image_size": ()},
}
MODALITIES = ("text", "image", "audio")  # ChatRequest.modalities items enum
# ChatContentItems' discriminator values (openapi.yaml) and the object each one requires.
CONTENT_PARTS = {
    "text": "text",
    "image_url": "image_url",
    "input_audio": "input_audio",
    "input_video": "video_url",
    "video_url": "video_url",
    "file": "file",
}
# The image types OpenRouter's image-inputs guide lists, by the format PIL reads.
INPUT_IMAGE_TYPES = {
    "image/png": "PNG",
    "image/jpeg": "JPEG",
    "image/webp": "WEBP",
    "image/gif": "GIF",
}
DATA_URL = re.compile(r"data:(?P<mime>[\w.+-]+/[\w.+-]+);base64,(?P<data>.*)", re.DOTALL)
# Google's per-prompt image limits (Vertex AI model cards, "Maximum images per prompt") and
# its inline size limit ("Maximum file size per file for inline data": 7 MB).
MAX_INPUT_IMAGES = {"google/gemini-3.1-flash-image": 14, "google/gemini-2.5-flash-image": 3}
INLINE_MAX_BYTES = 7 * 1024 * 1024
# Prompt tokens an input image costs (Gemini 3's default image resolution tokens).
IMAGE_INPUT_TOKENS = 1120
# ChatRequest properties (openapi.yaml): the top-level fields OpenRouter documents.
KNOWN_CHAT_FIELDS = frozenset(
    {
        "cache_control",
        "debug",
        "frequency_penalty",
        "image_config",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "messages",
        "metadata",
        "min_p",
        "modalities",
        "model",
        "models",
        "parallel_tool_calls",
        "plugins",
        "prediction",
        "presence_penalty",
        "prompt_cache_key",
        "prompt_cache_options",
        "provider",
        "reasoning",
        "reasoning_effort",
        "repetition_penalty",
        "response_format",
        "route",
        "seed",
        "service_tier",
        "session_id",
        "stop",
        "stop_server_tools_when",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_a",
        "top_k",
        "top_logprobs",
        "top_p",
        "trace",
        "user",
    }
)
# Gemini's image refusals (FinishReason in Google's GenerateContentResponse) and the
# normalised finish_reason OpenRouter reports with them.
SAFETY_REASONS = (
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "IMAGE_RECITATION",
    "IMAGE_OTHER",
    "NO_IMAGE",
    "SAFETY",
    "PROHIBITED_CONTENT",
    "BLOCKLIST",
    "SPII",
    "RECITATION",
)


def _model(
    mid: str,
    name: str,
    inputs: list,
    outputs: list,
    pricing: dict,
    parameters: tuple = ("max_tokens", "seed", "temperature", "top_p"),
    expiration_date: str | None = None,
) -> dict:
    return {
        "id": mid,
        "canonical_slug": mid,
        "name": name,
        "created": 1759870431,
        "description": f"{name} (fake)",
        "context_length": 32768,
        "architecture": {
            "modality": f"{'+'.join(inputs)}->{'+'.join(outputs)}",
            "input_modalities": inputs,
            "output_modalities": outputs,
            "tokenizer": "Other",
            "instruct_type": None,
        },
        "pricing": {
            "prompt": "0",
            "completion": "0",
            "request": "0",
            "image": "0",
            "web_search": "0",
            "internal_reasoning": "0",
            **pricing,
        },
        "top_provider": {
            "context_length": 32768,
            "max_completion_tokens": 32768,
            "is_moderated": False,
        },
        "per_request_limits": None,
        "expiration_date": expiration_date,
        "default_parameters": {},
        "supported_parameters": list(parameters),
    }


MODELS = [
    _model(
        "google/gemini-3.1-flash-image",
        "Google: Nano Banana 2 (Gemini 3.1 Flash Image)",
        ["image", "text"],
        ["image", "text"],
        {"prompt": "0.0000005", "completion": "0.000003"},
    ),
    _model(
        "google/gemini-2.5-flash-image",
        "Google: Gemini 2.5 Flash Image (Nano Banana)",
        ["image", "text"],
        ["image", "text"],
        {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.001238"},
        expiration_date="2026-10-02",  # Google's shutdown date for gemini-2.5-flash-image
    ),
    _model(
        "black-forest-labs/flux.2-pro",
        "Black Forest Labs: FLUX.2 Pro",
        ["text", "image"],
        ["image"],
        {"image_output": "0.03"},
        parameters=("seed",),
    ),
    _model(
        "openai/gpt-4o-mini",
        "OpenAI: GPT-4o-mini",
        ["text", "image"],
        ["text"],
        {"prompt": "0.00000015", "completion": "0.0000006"},
    ),
    _model(
        "google/gemini-2.5-flash",
        "Google: Gemini 2.5 Flash",
        ["text", "image"],
        ["text"],
        {"prompt": "0.0000003", "completion": "0.0000025"},
    ),
]


def image_model(mid: str, name: str = "", image_only: bool = False, **kwargs) -> dict:
    """A listing entry for a new image model (for ``add_listed_model``)."""
    outputs = ["image"] if image_only else ["image", "text"]
    return _model(mid, name or mid, ["text", "image"], outputs, kwargs.pop("pricing", {}), **kwargs)


def or_error(status: int, message: str, metadata: dict | None = None) -> Resp:
    err = {"code": status, "message": message}
    if metadata is not None:
        err["metadata"] = metadata
    return Resp(status, {"error": err, "user_id": "user_fake123"})


def completion(model_id, message, finish, native, prompt_tokens, completion_tokens, cost) -> Resp:
    """A ``ChatResult`` (openapi.yaml: id, choices, created, model, object,
    system_fingerprint required) with one choice and OpenRouter's usage (``cost`` in USD)."""
    return Resp(
        200,
        {
            "id": f"gen-{int(time.time())}-{new_id()[:20]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model_id,
            "provider": "Google",
            "system_fingerprint": None,
            "choices": [
                {
                    "index": 0,
                    "logprobs": None,
                    "finish_reason": finish,
                    "native_finish_reason": native,
                    "message": message,
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": round(cost, 6),
                "is_byok": False,
            },
        },
    )


def _decoded_data_url(url: str) -> tuple[Image.Image | None, int, str]:
    """The image a ``data:`` URL holds, its byte size and a reason when it holds none."""
    match = DATA_URL.fullmatch(url)
    if not match:
        return None, 0, "not a base64 data URL"
    mime = match["mime"].lower()
    if mime not in INPUT_IMAGE_TYPES:
        return None, 0, f"unsupported image type {mime}"
    try:
        data = base64.b64decode(match["data"], validate=True)
    except (binascii.Error, ValueError):
        return None, 0, "the base64 data is not valid"
    try:
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None, len(data), f"the data is not a valid {mime} image"
    if image.format != INPUT_IMAGE_TYPES[mime]:
        return None, len(data), f"the data is not a valid {mime} image"
    return image, len(data), ""


def upstream_refusal(message: str) -> Resp:
    """Google's 400 as OpenRouter passes it on (``Provider returned error`` + raw body)."""
    raw = '{"error": {"code": 400, "message": "' + message + '", "status": "INVALID_ARGUMENT"}}'
    return or_error(400, "Provider returned error", {"provider_name": "Google", "raw": raw})


class FakeOpenRouter(FakeServer):
    default_stage = "image,text"

    def __init__(self, *, api_keys=None, models=None, should_retry: str | None = None, **kwargs):
        self.api_keys = set(api_keys or {"sk-or-v1-test-good"})
        self._initial_models = copy.deepcopy(list(models or MODELS))
        self.should_retry = should_retry
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self.models = copy.deepcopy(self._initial_models)
        self.key_info: dict = {}

    # ------------------------------------------------------------------ listing control
    def add_listed_model(self, model) -> None:
        """List (and serve) a model: a ``/models`` entry dict, or an id (a new image model
        that outputs image and text)."""
        entry = model if isinstance(model, dict) else image_model(model)
        with self._lock:
            self.models = [m for m in self.models if m["id"] != entry["id"]] + [entry]

    def remove_listed_model(self, model_id: str) -> None:
        """Stop listing and serving ``model_id`` (400 ``… is not a valid model ID``)."""
        with self._lock:
            self.models = [m for m in self.models if m["id"] != model_id]

    def set_model_shutdown(self, model_id: str, day: str | None) -> None:
        """Set the model's ``expiration_date`` (ISO date, or None to clear it)."""
        with self._lock:
            for m in self.models:
                if m["id"] == model_id:
                    m["expiration_date"] = day

    def handle_api(self, req: Req) -> Resp:
        resp = self._route(req)
        retry = self.opt("should_retry", self.should_retry)
        if resp.status >= 400 and retry is not None:
            resp.headers["x-should-retry"] = str(retry).lower()
        return resp

    def _route(self, req: Req) -> Resp:
        path = req.path.rstrip("/")
        if not path.startswith("/api/v1/"):
            return or_error(404, "Not Found")
        key = bearer_token(req)
        if key is None:
            return or_error(401, "Missing Authentication header")
        if key not in self.api_keys or self.scenario == "unauthorized":
            return or_error(401, "User not found.")
        route = (req.method, path[len("/api/v1") :])
        if route == ("POST", "/chat/completions"):
            return self._chat(req)
        if route == ("GET", "/models"):
            return self.scenario_error("models") or self._list_models(req)
        if route in (("GET", "/key"), ("GET", "/auth/key")):
            return self.scenario_error("key") or self._key(key)
        return or_error(404, "Not Found")

    def error_response(self, kind: str) -> Resp | None:
        msg = self.opt("message")
        if kind == "no_credit":
            return or_error(
                402,
                msg
                or "Insufficient credits. Add more using https://openrouter.ai/settings/credits",
            )
        if kind in ("rate_limited", "rate_limited_once"):
            resp = or_error(
                429,
                msg or "Rate limit exceeded",
                {"error_type": "rate_limit_exceeded", "provider_code": "rate_limited"},
            )
            resp.headers.update(self.retry_headers(kind == "rate_limited_once"))
            resp.headers.update(
                {
                    "X-RateLimit-Limit": "20",
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": str(int(time.time() * 1000) + 60000),
                }
            )
            return resp
        if kind == "content_policy":
            status = int(self.opt("status", 403))
            model = self._last_model
            meta = {
                "reasons": ["sexual"],
                "flagged_input": self._last_prompt[:100],
                "provider_name": "Google",
                "model_slug": model,
            }
            if status == 400:
                meta.update(error_type="content_policy_violation", provider_code="SAFETY")
            return or_error(
                status,
                msg
                or f"{model} requires moderation on Google. Your input "
                'was flagged for "sexual". No credits were charged.',
                meta,
            )
        if kind == "validation":
            return or_error(
                400,
                msg or "Invalid image_config.aspect_ratio: expected one of " + ", ".join(ASPECTS),
            )
        status = int(self.opt("status", 502))
        if status == 502:
            return or_error(
                502,
                msg or "Provider returned error",
                {"provider_name": "Google", "raw": "upstream 500 INTERNAL"},
            )
        if status == 503:
            return or_error(
                503,
                msg or "No available providers for this request",
                {"error_type": "provider_overloaded"},
            )
        return or_error(status, msg or "Internal Server Error", {"error_type": "server"})

    # ------------------------------------------------------------------ endpoints
    _last_model = "google/gemini-2.5-flash-image"
    _last_prompt = ""

    def _chat(self, req: Req) -> Resp:
        body = req.json if isinstance(req.json, dict) else {}
        modalities = body.get("modalities") or ["text"]
        stage = "image" if "image" in modalities else "text"
        self._last_model = body.get("model") or self._last_model
        self._last_prompt = _last_user_text(body.get("messages") or [])
        err = self.scenario_error(stage)
        if err:
            return err
        if self.scenario == "error_in_200" and self.stage_matches(stage):
            return self._error_in_200(body)
        model = next((m for m in self.models if m["id"] == body.get("model")), None)
        if model is None:  # 400 with this message: OpenRouter's answer (see e.g.
            # OpenRouterTeam/openrouter-examples#74)
            return or_error(400, f"{body.get('model')} is not a valid model ID")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return or_error(400, 'Input required: specify "prompt" or "messages"')
        inputs, bad = self._content_images(messages)
        if bad:
            return bad
        if not isinstance(modalities, list) or any(m not in MODALITIES for m in modalities):
            return or_error(400, f"Invalid modalities: expected a list of {', '.join(MODALITIES)}")
        outs = model["architecture"]["output_modalities"]
        if any(m not in outs for m in modalities):
            return or_error(
                404,
                "No endpoints found that support the requested output "
                f"modalities: {', '.join(modalities)}",
            )
        if inputs and "image" not in model["architecture"]["input_modalities"]:
            return or_error(404, "No endpoints found that support image input")
        if inputs and (bad := self._input_limits(model["id"], inputs)):
            return bad
        image_config = body.get("image_config") or {}
        # A model without its own entry takes the ratios the image guide lists for all.
        takes = IMAGE_CONFIG.get(model["id"], {"aspect_ratio": ASPECTS, "image_size": ()})
        aspect = image_config.get("aspect_ratio", "1:1")
        if stage == "image" and aspect not in takes["aspect_ratio"]:
            return or_error(
                400,
                f"Invalid aspect_ratio '{aspect}' for {model['id']}: expected one of "
                + ", ".join(takes["aspect_ratio"]),
            )
        size = image_config.get("image_size")
        if stage == "image" and size is not None and size not in takes["image_size"]:
            allowed = ", ".join(takes["image_size"]) or "none (the model has one size)"
            return or_error(
                400, f"Invalid image_size '{size}' for {model['id']}: expected one of {allowed}"
            )
        if stage == "image" and self.scenario == "safety_refusal":
            return self._safety_refusal(model)
        prompt = self._last_prompt
        message = {"role": "assistant", "content": None, "refusal": None, "reasoning": None}
        prompt_tokens = max(1, len(prompt.split())) + 4
        input_tokens = IMAGE_INPUT_TOKENS * len(inputs)
        input_cost = input_tokens * float(model["pricing"].get("prompt") or 0)
        prompt_tokens += input_tokens
        if stage == "text" or self.scenario == "no_image":
            reply = self.opt(
                "reply",
                f"{prompt.strip()}, highly detailed, cinematic lighting, sharp focus"
                if stage == "text"
                else "I can't draw that, sorry.",
            )
            message["content"] = reply
            completion_tokens, cost = len(reply.split()), 0.00001 + input_cost
        else:
            count = int(self.opt("images", self.opt("n", 1)))
            message["content"] = "Here is your image." if "text" in modalities else ""
            message["images"] = [
                {
                    "type": "image_url",
                    "image_url": {"url": self._image_url(model["id"], image_config, i, inputs)},
                    "index": i,
                }
                for i in range(count)
            ]
            completion_tokens = 1290 * count
            cost = float(self.opt("cost", 0.039)) * count + input_cost
        return completion(
            model["id"], message, "stop", "STOP", prompt_tokens, completion_tokens, cost
        )

    def _image_url(self, model: str, image_config: dict, i: int, inputs: list) -> str:
        if self.scenario == "result_url":
            return self.absolute(self.opt("url", "/files/not-an-image.png"))
        takes = IMAGE_CONFIG.get(model, {"aspect_ratio": ASPECTS})
        first = next((image for image, _ in inputs if image is not None), None)
        ratio = image_config.get("aspect_ratio")
        if ratio is None and first is not None:  # no ratio asked: the input's own shape
            w, h = first.size
        else:
            w, h = takes["aspect_ratio"].get(ratio or "1:1", (1024, 1024))
        scale = IMAGE_SIZE_SCALE.get(image_config.get("image_size", "1K"), 1)
        w, h = int(w * scale), int(h * scale)
        color = tuple(self.opt("color", palette(i)))
        if first is None:
            png = make_png(w, h, color)
        else:  # made from the first input, so a test can tell it arrived
            base = first.convert("RGB").resize((w, h), Image.Resampling.BILINEAR)
            out = io.BytesIO()
            Image.blend(base, Image.new("RGB", (w, h), color), 0.5).save(out, format="PNG")
            png = out.getvalue()
        return "data:image/png;base64," + base64.b64encode(png).decode()

    def _content_images(self, messages: list) -> tuple[list, Resp | None]:
        """Check every content part of every message; the input images as (decoded image,
        bytes) for a data URL, (None, 0) for an https URL; or a 400 naming the first bad
        part."""
        images: list = []
        for m, message in enumerate(messages):
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, list):
                continue
            for j, part in enumerate(content):
                where = f"messages[{m}].content[{j}]"
                kind = part.get("type") if isinstance(part, dict) else None
                if kind not in CONTENT_PARTS:
                    expected = " | ".join(f"'{t}'" for t in CONTENT_PARTS)
                    return images, or_error(
                        400, f"{where}.type: Invalid discriminator value. Expected {expected}"
                    )
                if kind == "text":
                    if not isinstance(part.get("text"), str):
                        return images, or_error(400, f"{where}.text: Expected string")
                    continue
                if not isinstance(part.get(CONTENT_PARTS[kind]), dict):
                    return images, or_error(400, f"{where}.{CONTENT_PARTS[kind]}: Required")
                if kind != "image_url":
                    continue
                url = part["image_url"].get("url")
                if not isinstance(url, str) or not url:
                    return images, or_error(400, f"{where}.image_url.url: Required")
                if url.startswith("https://"):
                    images.append((None, 0))  # not fetched by the fake
                    continue
                image, size, reason = _decoded_data_url(url)
                if image is None:
                    return images, or_error(
                        400,
                        f"{where}.image_url.url: expected an https URL or a base64 data URL of "
                        f"an image (image/png, image/jpeg, image/webp, image/gif): {reason}",
                    )
                images.append((image, size))
        return images, None

    def _input_limits(self, model_id: str, inputs: list) -> Resp | None:
        limit = MAX_INPUT_IMAGES.get(model_id)
        if limit is not None and len(inputs) > limit:
            return upstream_refusal(
                f"Too many images: {len(inputs)} were sent and {model_id.split('/')[-1]} "
                f"takes at most {limit} per prompt."
            )
        for number, (_, size) in enumerate(inputs, start=1):
            if size > INLINE_MAX_BYTES:
                return upstream_refusal(
                    f"Image {number} is {size} bytes; inline images may be at most "
                    f"{INLINE_MAX_BYTES} bytes."
                )
        return None

    def _safety_refusal(self, model: dict) -> Resp:
        """HTTP 200 without images: Google refused, and OpenRouter passes its reason on in
        ``native_finish_reason`` (``finish_reason`` normalised per ChatFinishReasonEnum)."""
        reason = self.opt("reason", "IMAGE_SAFETY")
        finish = self.opt("finish_reason", "stop" if reason == "NO_IMAGE" else "content_filter")
        message = {"role": "assistant", "content": self.opt("text", ""), "refusal": None}
        return completion(model["id"], message, finish, reason, 12, 0, 0)

    def _error_in_200(self, body: dict) -> Resp:
        code = int(self.opt("code", 502))
        err = {
            "code": code,
            "message": self.opt("message", "Provider returned error"),
            "metadata": {"provider_name": "Google", "raw": "finish_reason: IMAGE_SAFETY"},
        }
        out: dict = {"error": err, "user_id": "user_fake123"}
        if self.opt("with_choices"):
            out.update(
                id=f"gen-{new_id()[:20]}",
                object="chat.completion",
                created=int(time.time()),
                model=body.get("model"),
                provider="Google",
                system_fingerprint=None,
                choices=[
                    {
                        "index": 0,
                        "finish_reason": "error",
                        "native_finish_reason": "error",
                        "message": {"role": "assistant", "content": ""},
                    }
                ],
            )
        return Resp(200, out)

    def _list_models(self, req: Req) -> Resp:
        wanted = [w.strip() for w in req.query.get("output_modalities", "text").split(",")]
        data = [
            m
            for m in self.models
            if "all" in wanted or any(w in m["architecture"]["output_modalities"] for w in wanted)
        ]
        return Resp(200, {"data": data, "total_count": len(data), "links": {"next": None}})

    def _key(self, key: str) -> Resp:
        return Resp(
            200,
            {
                "data": {**self._key_data(key), **self.key_info},
            },
        )

    def _key_data(self, key: str) -> dict:
        return {
            "label": f"{key[:11]}...{key[-3:]}",
            "limit": 100,
            "limit_remaining": 74.5,
            "limit_reset": "monthly",
            "include_byok_in_limit": False,
            "usage": 25.5,
            "usage_daily": 25.5,
            "usage_weekly": 25.5,
            "usage_monthly": 25.5,
            "byok_usage": 0,
            "byok_usage_daily": 0,
            "byok_usage_weekly": 0,
            "byok_usage_monthly": 0,
            "is_free_tier": False,
            "is_management_key": False,
            "is_provisioning_key": False,
            "creator_user_id": "user_fake123",
            "expires_at": None,
            "rate_limit": {
                "requests": 1000,
                "interval": "1h",
                "note": "This field is deprecated and safe to ignore.",
            },
        }


def _last_user_text(messages: list) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                texts = (p.get("text") for p in content if isinstance(p, dict))
                return " ".join(t for t in texts if isinstance(t, str))
            return content if isinstance(content, str) else ""
    return ""
