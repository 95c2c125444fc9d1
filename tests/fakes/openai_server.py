"""Fake OpenAI API (images + chat) speaking the real wire protocol.

Use with the official SDK::

    with FakeOpenAI() as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/v1", api_key="sk-test-good",
                               max_retries=0)
        client.images.generate(model="gpt-image-1", prompt="a fox")

Constructor: ``FakeOpenAI(api_keys={"sk-test-good"}, should_retry="false", scenario="success",
options=None, huge_size=..., slow_seconds=...)``. ``should_retry`` is the ``x-should-retry``
header value sent on every error response (``None`` = omit it).

Routes: ``POST /v1/images/generations``, ``GET /v1/models``, ``POST /v1/chat/completions``.
Every response carries ``x-request-id``. Unknown routes answer 404 ``Invalid URL (...)``.

Real validation (always on): model, prompt length, ``n``, ``size``, ``quality``, ``style``,
``response_format`` (400 ``unknown_parameter`` for GPT image models) and ``output_format``.
dall-e models return ``url`` (served from this fake's ``/files/``) unless
``response_format="b64_json"``; dall-e-3 adds ``revised_prompt``; GPT image models always return
``b64_json`` plus ``usage``/``size``/``quality``/``background``/``output_format``.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``images``, ``chat``, ``models``,
default ``stage="images,chat"``:

``success``           options ``images`` (number of images, overrides request ``n``), ``color``,
                      ``reply`` (fixed chat completion text), ``revised_prompt``.
``slow``              ``seconds`` (default 1, max 30) before answering.
``unauthorized``      401 ``invalid_api_key`` (fires on every route, including ``/v1/models``).
``no_credit``         429 ``insufficient_quota``.
``rate_limited_once`` first matching request 429 ``rate_limit_exceeded`` with ``Retry-After: 0``
                      and ``retry-after-ms: 10``; later ones succeed. Pass ``should_retry=True``
                      to send ``x-should-retry: true`` so the SDK's own retry succeeds.
``rate_limited``      always 429 with ``Retry-After`` (``retry_after``, default 1).
``content_policy``    400 ``content_policy_violation`` (dall-e) / ``moderation_blocked`` (GPT
                      image models); default stage ``images``.
``validation``        400 ``invalid_value``; options ``param`` (default ``size``), ``message``.
``server_error``      500 ``server_error`` (``status=503`` for 503).
``malformed``         200 with an invalid JSON body.
``result_url``        option ``url``: the ``data[].url`` returned for dall-e ``url`` responses
                      (relative paths such as ``/files/huge.png`` are made absolute).
"""

from __future__ import annotations

import base64
import re
import time

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

GPT_MODELS = (
    "gpt-image-1",
    "gpt-image-1-mini",
    "gpt-image-1.5",
    "gpt-image-2",
    "chatgpt-image-latest",
)
MODELS = ("dall-e-2", "dall-e-3", *GPT_MODELS)
SIZES = {
    "dall-e-2": ("256x256", "512x512", "1024x1024"),
    "dall-e-3": ("1024x1024", "1792x1024", "1024x1792"),
    "gpt": ("1024x1024", "1536x1024", "1024x1536", "auto"),
}
QUALITIES = {
    "dall-e-2": ("standard",),
    "dall-e-3": ("standard", "hd"),
    "gpt": ("low", "medium", "high", "auto"),
}
PROMPT_MAX = {"dall-e-2": 1000, "dall-e-3": 4000, "gpt": 32000}
# output image tokens for gpt-image-1 by (quality, size)
OUT_TOKENS = {"low": (272, 408, 400), "medium": (1056, 1584, 1568), "high": (4160, 6240, 6208)}
CHAT_MODELS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "gpt-4.1-nano", "gpt-5-mini")


def _family(model: str) -> str:
    return "gpt" if model in GPT_MODELS else model


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


class FakeOpenAI(FakeServer):
    default_stage = "images,chat"

    def __init__(self, *, api_keys=None, should_retry: str | None = "false", **kwargs):
        self.api_keys = set(api_keys or {"sk-test-good"})
        self.should_retry = should_retry
        super().__init__(**kwargs)

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
        if req.method == "POST" and not isinstance(req.json, dict):
            return oa_error(400, "We could not parse the JSON body of your request.")
        if stage == "images":
            self._last_model = req.json.get("model") or "dall-e-2"
        return self.scenario_error(stage) or fn(req)

    def stage_for(self, scenario: str) -> str | None:
        return "images" if scenario == "content_policy" else None

    def error_response(self, kind: str) -> Resp:
        msg = self.opt("message")
        if kind == "unauthorized":  # handled in _route; kept for completeness
            return oa_error(401, msg or "Incorrect API key provided.", code="invalid_api_key")
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
            if self.opt("model", self._last_model) in GPT_MODELS:
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
            return oa_error(
                400,
                msg
                or "Your request was rejected as a result of our safety "
                "system. Your prompt may contain text that is not allowed by our "
                "safety system.",
                code="content_policy_violation",
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

    def _models(self, req: Req) -> Resp:
        data = [
            {"id": m, "object": "model", "created": 1698785189, "owned_by": "system"}
            for m in (*MODELS, *CHAT_MODELS)
        ]
        return Resp(200, {"object": "list", "data": data})

    def _validate(self, body: dict) -> Resp | None:
        model = body.get("model") or "dall-e-2"
        if model not in MODELS:
            return oa_error(
                400,
                f"Invalid value: '{model}'. Supported values are: {_join(MODELS)}.",
                param="model",
                code="invalid_value",
            )
        fam = _family(model)
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or prompt == "":
            return oa_error(
                400,
                "Missing required parameter: 'prompt'.",
                param="prompt",
                code="missing_required_parameter",
            )
        if len(prompt) > PROMPT_MAX[fam]:
            return oa_error(
                400,
                f"Invalid 'prompt': string too long. Expected a string with "
                f"maximum length {PROMPT_MAX[fam]}, but got a string with length "
                f"{len(prompt)} instead.",
                param="prompt",
                code="string_above_max_length",
            )
        n = body.get("n", 1)
        if not isinstance(n, int) or n < 1:
            return oa_error(
                400,
                f"Invalid 'n': integer below minimum value. Expected a value "
                f">= 1, but got {n} instead.",
                param="n",
                code="integer_below_min_value",
            )
        if n > 10:
            return oa_error(
                400,
                f"Invalid 'n': integer above maximum value. Expected a value "
                f"<= 10, but got {n} instead.",
                param="n",
                code="integer_above_max_value",
            )
        if model == "dall-e-3" and n != 1:
            return oa_error(400, "You must provide n=1 for this model.")
        size = body.get("size", "1024x1024" if fam != "gpt" else "auto")
        if size not in SIZES[fam] and not (model == "gpt-image-2" and _custom_ok(size)):
            return oa_error(
                400,
                f"Invalid value: '{size}'. Supported values are: {_join(SIZES[fam])}.",
                param="size",
                code="invalid_value",
            )
        quality = body.get("quality")
        if quality is not None and quality not in QUALITIES[fam]:
            return oa_error(
                400,
                f"Invalid value: '{quality}'. Supported values are: {_join(QUALITIES[fam])}.",
                param="quality",
                code="invalid_value",
            )
        if fam == "gpt":
            for param in ("response_format", "style"):
                if param in body:
                    return oa_error(
                        400, f"Unknown parameter: '{param}'.", param=param, code="unknown_parameter"
                    )
            fmt = body.get("output_format", "png")
            if fmt not in ("png", "jpeg", "webp"):
                return oa_error(
                    400,
                    f"Invalid value: '{fmt}'. Supported values are: 'png', 'jpeg', and 'webp'.",
                    param="output_format",
                    code="invalid_value",
                )
            if body.get("background") == "transparent" and fmt == "jpeg":
                return oa_error(
                    400,
                    "Transparent background requires output_format png or webp.",
                    param="background",
                    code="invalid_value",
                )
        else:
            rf = body.get("response_format", "url")
            if rf not in ("url", "b64_json"):
                return oa_error(
                    400,
                    f"Invalid value: '{rf}'. Supported values are: 'url' and 'b64_json'.",
                    param="response_format",
                    code="invalid_value",
                )
            style = body.get("style")
            if style is not None and (model != "dall-e-3" or style not in ("vivid", "natural")):
                return oa_error(
                    400,
                    f"Invalid value: '{style}'. Supported values are: 'vivid' and 'natural'.",
                    param="style",
                    code="invalid_value",
                )
        return None

    def _images(self, req: Req) -> Resp:
        body = req.json
        invalid = self._validate(body)
        if invalid:
            return invalid
        model = self._last_model
        fam = _family(model)
        count = int(self.opt("images", self.opt("n", body.get("n", 1))))
        size = body.get("size", "auto" if fam == "gpt" else "1024x1024")
        w, h = parse_size(size)
        out = {"created": int(time.time()), "data": []}
        if fam == "gpt":
            fmt = body.get("output_format", "png")
            quality = body.get("quality", "auto")
            for i in range(count):
                img = make_image(w, h, tuple(self.opt("color", palette(i))), fmt)
                out["data"].append({"b64_json": base64.b64encode(img).decode()})
            q = "medium" if quality == "auto" else quality
            idx = {"1024x1536": 1, "1536x1024": 2}.get(size, 0)
            out_tokens = OUT_TOKENS[q][idx] * count
            text_tokens = max(1, len(body["prompt"].split()))
            out.update(
                background=body.get("background", "opaque"),
                output_format=fmt,
                quality=q,
                size=size if size != "auto" else "1024x1024",
            )
            out["usage"] = {
                "input_tokens": text_tokens,
                "output_tokens": out_tokens,
                "total_tokens": text_tokens + out_tokens,
                "input_tokens_details": {"text_tokens": text_tokens, "image_tokens": 0},
                "output_tokens_details": {"text_tokens": 0, "image_tokens": out_tokens},
            }
            return Resp(200, out)
        as_b64 = body.get("response_format", "url") == "b64_json"
        for i in range(count):
            img = make_image(w, h, tuple(self.opt("color", palette(i))), "PNG")
            if as_b64:
                item = {"b64_json": base64.b64encode(img).decode()}
            elif self.scenario == "result_url":
                item = {"url": self.absolute(self.opt("url", "/files/not-an-image.png"))}
            else:
                name = f"img-{new_id()}.png"
                item = {"url": self.add_file(name, img, MIME["PNG"]) + "?st=fake&se=60min&sig=x"}
            if model == "dall-e-3":
                item["revised_prompt"] = self.opt(
                    "revised_prompt", f"A detailed, vivid rendering of {body['prompt']}"
                )
            out["data"].append(item)
        return Resp(200, out)

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


def _custom_ok(size: str) -> bool:
    m = re.fullmatch(r"(\d+)x(\d+)", str(size))
    if not m:
        return False
    w, h = int(m[1]), int(m[2])
    return (
        w % 16 == 0
        and h % 16 == 0
        and w > 0
        and h > 0
        and max(w, h) <= 3840
        and w * h <= 3840 * 2160
        and max(w, h) / min(w, h) <= 3
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
