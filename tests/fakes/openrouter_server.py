"""Fake OpenRouter API (``/api/v1``) for the OpenAI SDK or plain httpx.

Use::

    with FakeOpenRouter() as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/api/v1", api_key="sk-or-v1-test-good",
                               max_retries=0)
        r = client.chat.completions.create(
            model="google/gemini-2.5-flash-image",
            messages=[{"role": "user", "content": "a fox"}],
            extra_body={"modalities": ["image", "text"]})
        r.choices[0].message.images[0]["image_url"]["url"]   # "data:image/png;base64,..."

Constructor: ``FakeOpenRouter(api_keys={"sk-or-v1-test-good"}, models=None, should_retry=None,
scenario="success", options=None, ...)``. ``models`` replaces the catalogue (list of model dicts
in the ``/models`` shape); ``should_retry`` sends ``x-should-retry`` on errors (the real service
does not, so the default is to omit it).

Routes: ``POST /api/v1/chat/completions`` (``modalities`` containing ``image`` -> image generation,
``message.images[].image_url.url`` data URLs sized by ``image_config.aspect_ratio``; otherwise a
plain text completion built from the last user message), ``GET /api/v1/models`` (filter
``output_modalities``, default ``text``; ``all`` for everything), ``GET /api/v1/key`` and
``GET /api/v1/auth/key``. Every completion has ``usage.cost`` (USD). Real checks: unknown model
400 ``... is not a valid model ID``, missing messages 400, modalities the model cannot output 404
``No endpoints found ...``, unknown ``aspect_ratio`` 400. Errors are
``{"error": {"code": <HTTP status>, "message", "metadata"?}, "user_id"}``.

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
"""

from __future__ import annotations

import base64
import time

from .base import FakeServer, Req, Resp, bearer_token, make_png, new_id, palette

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


def _model(mid: str, name: str, inputs: list, outputs: list, pricing: dict) -> dict:
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
        "expiration_date": None,
        "default_parameters": {},
        "supported_parameters": ["max_tokens", "seed", "temperature", "top_p"],
    }


MODELS = [
    _model(
        "google/gemini-2.5-flash-image",
        "Google: Gemini 2.5 Flash Image (Nano Banana)",
        ["image", "text"],
        ["image", "text"],
        {"prompt": "0.0000003", "completion": "0.0000025", "image": "0.001238"},
    ),
    _model(
        "black-forest-labs/flux.2-pro",
        "Black Forest Labs: FLUX.2 Pro",
        ["text", "image"],
        ["image"],
        {"image_output": "0.03"},
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


def or_error(status: int, message: str, metadata: dict | None = None) -> Resp:
    err = {"code": status, "message": message}
    if metadata is not None:
        err["metadata"] = metadata
    return Resp(status, {"error": err, "user_id": "user_fake123"})


class FakeOpenRouter(FakeServer):
    default_stage = "image,text"

    def __init__(self, *, api_keys=None, models=None, should_retry: str | None = None, **kwargs):
        self.api_keys = set(api_keys or {"sk-or-v1-test-good"})
        self.models = list(models or MODELS)
        self.should_retry = should_retry
        super().__init__(**kwargs)

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
        if model is None:
            return or_error(400, f"{body.get('model')} is not a valid model ID")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return or_error(400, 'Input required: specify "prompt" or "messages"')
        outs = model["architecture"]["output_modalities"]
        if any(m not in outs for m in modalities):
            return or_error(
                404,
                "No endpoints found that support the requested output "
                f"modalities: {', '.join(modalities)}",
            )
        aspect = (body.get("image_config") or {}).get("aspect_ratio", "1:1")
        if stage == "image" and aspect not in ASPECTS:
            return or_error(
                400, f"Invalid aspect_ratio '{aspect}': expected one of " + ", ".join(ASPECTS)
            )
        prompt = self._last_prompt
        message = {"role": "assistant", "content": None, "refusal": None, "reasoning": None}
        prompt_tokens = max(1, len(prompt.split())) + 4
        if stage == "text" or self.scenario == "no_image":
            reply = self.opt(
                "reply",
                f"{prompt.strip()}, highly detailed, cinematic lighting, sharp focus"
                if stage == "text"
                else "I can't draw that, sorry.",
            )
            message["content"] = reply
            completion, cost = len(reply.split()), 0.00001
        else:
            count = int(self.opt("images", self.opt("n", 1)))
            message["content"] = "Here is your image." if "text" in modalities else ""
            message["images"] = [
                {"type": "image_url", "image_url": {"url": self._image_url(aspect, i)}, "index": i}
                for i in range(count)
            ]
            completion, cost = 1290 * count, float(self.opt("cost", 0.039)) * count
        return Resp(
            200,
            {
                "id": f"gen-{int(time.time())}-{new_id()[:20]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model["id"],
                "provider": "Google",
                "system_fingerprint": None,
                "choices": [
                    {
                        "index": 0,
                        "logprobs": None,
                        "finish_reason": "stop",
                        "native_finish_reason": "STOP",
                        "message": message,
                    }
                ],
                "usage": {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion,
                    "total_tokens": prompt_tokens + completion,
                    "cost": round(cost, 6),
                    "is_byok": False,
                },
            },
        )

    def _image_url(self, aspect: str, i: int) -> str:
        if self.scenario == "result_url":
            return self.absolute(self.opt("url", "/files/not-an-image.png"))
        w, h = ASPECTS[aspect]
        png = make_png(w, h, tuple(self.opt("color", palette(i))))
        return "data:image/png;base64," + base64.b64encode(png).decode()

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
                "data": {
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
            },
        )


def _last_user_text(messages: list) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            content = msg.get("content")
            if isinstance(content, list):
                return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
            return content or ""
    return ""
