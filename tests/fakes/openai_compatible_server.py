"""Fake OpenAI-compatible image server (LocalAI-style), as strict as LocalAI.

Use with the official SDK::

    with FakeOpenAICompatible() as fake:
        client = openai.OpenAI(base_url=fake.base_url + "/v1", api_key="anything",
                               max_retries=0)
        client.images.generate(model="sd-1.5", prompt="a fox|blurry", size="256x256",
                               response_format="b64_json")

Constructor: ``FakeOpenAICompatible(models=("sd-1.5", "flux-schnell"), chat_models=("llama",),
api_key=None, edits=True, scenario="success", options=None)``. ``api_key="k"`` requires
``Authorization: Bearer k`` (or ``x-api-key``/``xi-api-key``); ``edits=False`` removes
``/v1/images/edits`` (LocalAI has no such route: 404 like any unknown path).

Sources: mudler/LocalAI at ``82c191a`` (2026-08-22): ``core/http/endpoints/openai/image.go``
(``ImageEndpoint``), ``core/http/middleware/request.go`` (``SetModelAndConfig``,
``BuildFilteredFirstAvailableDefaultModel``, ``mergeOpenAIRequestAndModelConfig``),
``core/http/routes/openai.go`` (routes), ``core/http/app.go`` (``HTTPErrorHandler``),
``core/http/render.go`` (``notFoundHandler``), ``core/http/auth/middleware.go``
(``authError``), ``core/schema/openai.go`` (``APIError``, ``Item``, ``OpenAIResponse``,
``OpenAIUsage``), ``core/http/endpoints/openai/list.go``.

Rules:

* Errors are ``{"error": {"code": <int>, "message": ..., "type": ...}}`` (``type`` has no
  ``omitempty``: ``""`` where LocalAI sets none). An ``echo.HTTPError`` renders its
  ``Error()``: ``"code=400, message=..."``; a plain Go error is 500 with its text.
* ``GET /v1/models`` (and ``/models``): ``{"object": "list", "data": [{"id", "object":
  "model"}]}``, image and chat models alike.
* ``POST /v1/images/generations`` (and ``/images/generations``): the JSON body is bound into
  ``OpenAIRequest``; a value of the wrong JSON type is 400 ``failed parsing request body:
  code=400, message=Unmarshal type error: expected=int, got=string, field=n, offset=N``
  (the offset is approximate); unknown fields are ignored (Go ``encoding/json``).
  ``model`` empty -> the first image model; a model that is not installed (and has no ``/``)
  -> 404 ``model "<m>" not found. To see available models, call GET /v1/models``
  (``invalid_request_error``); a chat model is accepted by the middleware but this fake
  refuses it as its backend would fail: 500 ``"<m>" is not an image model`` (ours).
  ``size`` without ``x`` becomes ``512x512``; non-numeric sides -> 500 ``invalid value for
  'size'``. ``n`` 0 -> 1. ``step`` (default 15; a numeric ``quality`` string sets it too),
  ``seed``; ``prompt`` a string or a list of strings (one set of ``n`` images each), each
  split on ``|`` into positive|negative. No prompt -> 200 with no ``data`` key at all
  (``Data`` is ``omitempty``). ``response_format`` ``"b64_json"`` gives ``b64_json`` items,
  anything else (absent included) ``url`` items at ``<base>/generated-images/b64NNN.png``.
  Items carry ``index`` 0 (never set by LocalAI). ``usage`` is all zeros.
* ``/v1/images/edits`` (when ``edits=True``; ours, modelled on OpenAI's multipart edits,
  which servers such as vLLM-Omni / SD.Next style gateways speak): multipart ``image``
  (required, an image), optional ``mask`` (PNG of the image's size), ``prompt`` (required),
  ``model``, ``n``, ``size``, ``response_format``; errors 400 in the same envelope. The result
  is the image resized to ``size`` with the mask's transparent area painted.
* Auth (``api_key`` set): missing or wrong key -> 401 ``An authentication key is required``
  (``invalid_request_error``) with ``WWW-Authenticate: Bearer``, on every route.

Images are solid PNGs whose colour derives from the seed and the prompt (a random seed when
none is given); ``fake.generations`` records ``{model, prompt, negative, width, height, step,
seed}`` per image.

Scenarios: ``slow`` (``seconds``, default 1), ``server_error`` (500 ``{"error": {"code": 500,
"message": "rpc error: code = Unavailable desc = error reading from server: EOF", "type":
""}}``, option ``message``/``status``). Lifecycle ``die()`` / ``come_back()`` as FakeA1111.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import re
import threading
import time
import uuid
from email.message import Message

from PIL import Image, UnidentifiedImageError

from .base import FakeServer, Req, Resp, bearer_token

# OpenAIRequest fields the image endpoint reads, with their Go types
_GO_TYPES = {
    "model": "string",
    "n": "int",
    "step": "int",
    "size": "string",
    "seed": "int",
    "quality": "string",
    "file": "string",
    "files": "[]string",
    "ref_images": "[]string",
    "mode": "int",
}


def _go_kind(value) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return f"number {json.dumps(value)}" if isinstance(value, float) else "number"
    return {str: "string", list: "array", dict: "object"}.get(type(value), "null")


def _fits(go: str, value) -> bool:
    if value is None:
        return True
    if go == "string":
        return isinstance(value, str)
    if go == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if go == "[]string":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    return True


def err(status: int, message: str, typ: str = "") -> Resp:
    return Resp(status, {"error": {"code": status, "message": message, "type": typ}})


def echo_err(status: int, message: str) -> Resp:
    return err(status, f"code={status}, message={message}")


def _multipart(req: Req) -> tuple[dict, dict] | None:
    ctype = req.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        return None
    msg = Message()
    msg["content-type"] = ctype
    boundary = msg.get_param("boundary")
    if not boundary:
        return None
    fields, files = {}, {}
    for part in req.body.split(b"--" + boundary.encode())[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.partition(b"\r\n\r\n")
        data = data[:-2] if data.endswith(b"\r\n") else data
        disp = re.search(rb'name="([^"]*)"', head)
        if not disp:
            continue
        name = disp.group(1).decode()
        if b"filename=" in head:
            files[name] = data
        else:
            fields[name] = data.decode("utf-8", "replace")
    return fields, files


class FakeOpenAICompatible(FakeServer):
    def __init__(
        self,
        *,
        models=("sd-1.5", "flux-schnell"),
        chat_models=("llama",),
        api_key: str | None = None,
        edits: bool = True,
        **kwargs,
    ):
        self.image_models = list(models)
        self.chat_models = list(chat_models)
        self.api_key = api_key
        self.edits_enabled = edits
        self._port = 0
        self._dead = threading.Event()
        super().__init__(**kwargs)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeOpenAICompatible:
        if self._dead.is_set():
            self._dead = threading.Event()
        super().start()
        return self

    def stop(self) -> None:
        self._dead.set()
        super().stop()

    def die(self) -> None:
        """Stop answering at once (port closed, open connections dropped)."""
        self.stop()

    def come_back(self) -> FakeOpenAICompatible:
        """Listen again on the same port with fresh state."""
        with self._lock:
            self._reset_state()
        return self.start()

    def _reset_state(self) -> None:
        self._generations: list[dict] = []
        self._images: dict[str, bytes] = {}

    generations = property(lambda self: self._snapshot("_generations"), doc="images made")

    # ----------------------------------------------------------------- dispatch
    def handle_api(self, req: Req) -> Resp:
        path = req.path.rstrip("/")
        if self.api_key is not None and not self._authorized(req):
            resp = err(401, "An authentication key is required", "invalid_request_error")
            resp.headers["WWW-Authenticate"] = "Bearer"
            return resp
        if req.method == "GET" and path in ("/v1/models", "/models"):
            data = [{"id": m, "object": "model"} for m in self.image_models + self.chat_models]
            return Resp(200, {"object": "list", "data": data})
        if req.method == "GET" and path.startswith("/generated-images/"):
            with self._lock:
                blob = self._images.get(path.rsplit("/", 1)[-1])
            if blob is not None:
                return Resp(200, blob, content_type="image/png")
        routes = {"/v1/images/generations", "/images/generations"}
        if self.edits_enabled:
            routes |= {"/v1/images/edits", "/images/edits"}
        if path not in routes:
            return err(404, "Resource not found")
        if req.method != "POST":
            return echo_err(405, "Method Not Allowed")
        if self.scenario in ("slow", "server_error"):
            if self.scenario == "slow":
                self._dead.wait(min(float(self.opt("seconds", 1.0)), 30.0))
                if self._dead.is_set():
                    return Resp(0)
            else:
                return err(
                    int(self.opt("status", 500)),
                    str(
                        self.opt(
                            "message",
                            "rpc error: code = Unavailable desc = error reading from server: EOF",
                        )
                    ),
                )
        if path.endswith("/edits"):
            return self._edits(req)
        return self._generations_route(req)

    def _authorized(self, req: Req) -> bool:
        keys = [bearer_token(req), req.headers.get("x-api-key"), req.headers.get("xi-api-key")]
        return self.api_key in keys

    # ----------------------------------------------------------------- generations
    def _resolve_model(self, model: str) -> tuple[str | None, Resp | None]:
        if not model:
            if not self.image_models:
                return None, echo_err(400, "Bad Request")
            return self.image_models[0], None
        known = self.image_models + self.chat_models
        if "/" not in model and model not in known:
            return None, err(
                404,
                f'model "{model}" not found. To see available models, call GET /v1/models',
                "invalid_request_error",
            )
        if model not in self.image_models:
            return None, err(500, f'"{model}" is not an image model')
        return model, None

    def _generations_route(self, req: Req) -> Resp:
        raw = req.body.decode("utf-8", "replace")
        body = req.json
        if req.body and body is None:
            return echo_err(
                400,
                "failed parsing request body: code=400, message=Syntax error: "
                "offset=1, error=invalid character",
            )
        body = body if isinstance(body, dict) else {}
        for key, go in _GO_TYPES.items():
            if key in body and not _fits(go, body[key]):
                value = body[key]
                token = json.dumps(value)
                offset = raw.find(token, max(0, raw.find(f'"{key}"'))) + len(token)
                return echo_err(
                    400,
                    "failed parsing request body: code=400, message=Unmarshal "
                    f"type error: expected={go}, got={_go_kind(value)}, "
                    f"field={key}, offset={offset}",
                )
        model, bad = self._resolve_model(body.get("model") or "")
        if bad:
            return bad
        size = body.get("size") or ""
        if "x" not in size:
            size = "512x512"
        parts = size.split("x")
        if len(parts) != 2 or not all(re.fullmatch(r"[+-]?\d+", p) for p in parts):
            return err(500, "invalid value for 'size'")
        width, height = int(parts[0]), int(parts[1])
        prompt = body.get("prompt")
        prompts = (
            [prompt]
            if isinstance(prompt, str)
            else [p for p in (prompt if isinstance(prompt, list) else []) if isinstance(p, str)]
        )
        n = body.get("n") or 1
        step = body.get("step") or 0
        quality = body.get("quality") or ""
        if re.fullmatch(r"[+-]?\d+", quality):
            step = step or int(quality)
        step = step or 15
        seed = body.get("seed")
        if seed is None:
            seed = random.randrange(2**31)
        b64 = body.get("response_format") == "b64_json"
        items = []
        for text in prompts:
            for _ in range(n):
                positive, _, negative = text.partition("|")
                png = self._picture(seed, positive, max(1, width), max(1, height))
                with self._lock:
                    self._generations.append(
                        {
                            "model": model,
                            "prompt": positive,
                            "negative": negative,
                            "width": width,
                            "height": height,
                            "step": step,
                            "seed": seed,
                        }
                    )
                items.append(self._item(png, b64))
        out = {
            "created": int(time.time()),
            "id": str(uuid.uuid4()),
            "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        }
        if items:
            out["data"] = items
        return Resp(200, out)

    def _picture(
        self,
        seed,
        prompt,
        width,
        height,
        base: Image.Image | None = None,
        mask: Image.Image | None = None,
    ) -> bytes:
        digest = hashlib.sha256(f"{seed}|{prompt}".encode()).digest()
        color = Image.new("RGB", (width, height), tuple(digest[:3]))
        if base is not None:
            out = base.convert("RGB").resize((width, height))
            if mask is None:
                color = Image.blend(out, color, 0.5)
            else:
                alpha = mask.convert("RGBA").split()[-1].resize((width, height))
                out.paste(color, (0, 0), alpha.point(lambda a: 255 if a < 128 else 0))
                color = out
        buf = io.BytesIO()
        color.save(buf, format="PNG")
        return buf.getvalue()

    def _item(self, png: bytes, b64: bool) -> dict:
        if b64:
            return {"index": 0, "b64_json": base64.b64encode(png).decode()}
        name = f"b64{random.randrange(10**9)}.png"
        with self._lock:
            self._images[name] = png
        return {"index": 0, "url": f"{self.base_url}/generated-images/{name}"}

    # ----------------------------------------------------------------- edits
    def _edits(self, req: Req) -> Resp:
        form = _multipart(req)
        if form is None:
            return err(
                400, "Invalid request: expected multipart/form-data", "invalid_request_error"
            )
        fields, files = form
        model, bad = self._resolve_model(fields.get("model", ""))
        if bad:
            return bad
        prompt = fields.get("prompt", "")
        if not prompt:
            return err(400, "Missing required parameter: 'prompt'", "invalid_request_error")
        data = files.get("image") or files.get("image[]")
        if not data:
            return err(400, "Missing required parameter: 'image'", "invalid_request_error")
        try:
            image = Image.open(io.BytesIO(data))
            image.load()
        except (UnidentifiedImageError, OSError):
            return err(400, "Invalid image file", "invalid_request_error")
        mask = None
        if "mask" in files:
            try:
                mask = Image.open(io.BytesIO(files["mask"]))
                mask.load()
            except (UnidentifiedImageError, OSError):
                return err(400, "Invalid mask image file", "invalid_request_error")
            if mask.size != image.size:
                return err(
                    400,
                    "Invalid mask image format - mask size does not match image size",
                    "invalid_request_error",
                )
        size = fields.get("size") or f"{image.width}x{image.height}"
        m = re.fullmatch(r"(\d+)x(\d+)", size)
        if not m:
            return err(400, f"Invalid value for 'size': '{size}'", "invalid_request_error")
        try:
            n = int(fields.get("n") or 1)
        except ValueError:
            return err(400, "Invalid type for 'n': expected an integer", "invalid_request_error")
        width, height = int(m.group(1)), int(m.group(2))
        seed = random.randrange(2**31)
        b64 = fields.get("response_format", "b64_json") == "b64_json"
        items = []
        for _ in range(max(1, n)):
            png = self._picture(seed, prompt, width, height, image, mask)
            with self._lock:
                self._generations.append(
                    {
                        "model": model,
                        "prompt": prompt,
                        "negative": "",
                        "width": width,
                        "height": height,
                        "step": 15,
                        "seed": seed,
                        "edit": True,
                        "mask": mask is not None,
                    }
                )
            items.append(self._item(png, b64))
        return Resp(200, {"created": int(time.time()), "data": items})

    def _write(self, h, resp: Resp) -> None:
        if resp.status == 0:
            h.close_connection = True
            return
        super()._write(h, resp)
