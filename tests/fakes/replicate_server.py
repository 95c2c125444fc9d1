"""Fake Replicate HTTP API (the paths used by ``replicate`` 1.x, all under ``/v1``).

Use with the official SDK (base URL *without* ``/v1``)::

    with FakeReplicate() as fake:
        client = replicate.Client(api_token="r8_test_good", base_url=fake.base_url)
        p = client.predictions.create(model="black-forest-labs/flux-schnell",
                                      input={"prompt": "a fox"})

Constructor: ``FakeReplicate(api_keys={"r8_test_good"}, versions=None, single_output_models=None,
scenario="success", options=None, ...)``. ``versions`` maps 64-hex version ids to
``"owner/name"`` (default: the SDXL version used in Replicate's own SDK tests).
``single_output_models`` are models whose ``output`` is one URL string instead of a list
(default: flux-1.1-pro, flux-1.1-pro-ultra, flux-2-dev, flux-pro).

Routes: ``POST /v1/predictions`` (``version`` = 64-hex id, ``owner/name:id`` or ``owner/name``),
``POST /v1/models/{owner}/{name}/predictions``, ``GET /v1/predictions``,
``GET /v1/predictions/{id}``, ``POST /v1/predictions/{id}/cancel``, ``GET /v1/account``,
``GET /v1/models/{owner}/{name}``, ``GET /v1/models/{owner}/{name}/versions/{id}``.
Auth: ``Authorization: Bearer <key>`` or ``Token <key>``.

Lifecycle: create answers 201. With ``Prefer: wait`` (and no polling asked for) the prediction is
already terminal (header ``Preference-Applied: wait``); otherwise it is ``starting``, GETs before
the last one return ``processing`` (with logs) and GET number ``polls`` returns the terminal state
(``succeeded`` with ``output`` and ``metrics.predict_time``). Real input checks: ``input.prompt``
required, ``num_outputs`` 1-4, flux-schnell ``num_inference_steps`` <= 4 (422 with
``invalid_fields``). Cancel calls are recorded in ``.cancels`` as ``{"id": ...}``;
``.predictions`` maps id -> current prediction JSON.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``create``, ``get``, ``cancel``,
``account``, ``models``; default ``stage="create"``:

``success``           options ``images`` / ``n`` (number of outputs, default input
                      ``num_outputs`` or 1), ``predict_time`` (default 0.72), ``data_urls=True``
                      (outputs as ``data:`` URLs so ``replicate.run`` returns ``FileOutput``).
``queue_polls``       ``polls`` (default 2): create returns ``starting`` even with
                      ``Prefer: wait``; the ``polls``-th GET is terminal. Works with the options
                      of ``success``; ``polls`` also applies to ``content_policy``/``model_failed``.
``slow``              ``seconds`` (default 1, max 30).
``unauthorized``      401 ``Unauthenticated`` on every route.
``no_credit``         402 ``Insufficient credit``.
``rate_limited_once`` first create 429 (``Retry-After: 0``, ``retry-after-ms: 10``), then success.
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
import math
import re
import threading
from datetime import UTC, datetime, timedelta

from .base import MIME, FakeServer, Req, Resp, bearer_token, make_image, new_id, palette

SDXL_VERSION = "39ed52f2a78e934b3ba6e2a89f5b1c712de7dfea535525255b1aa35c5565e08b"
SINGLE_OUTPUT = {
    "black-forest-labs/flux-1.1-pro",
    "black-forest-labs/flux-1.1-pro-ultra",
    "black-forest-labs/flux-2-dev",
    "black-forest-labs/flux-pro",
}
NSFW = "NSFW content detected. Try running it again, or try a different prompt."
HEX64 = re.compile(r"[0-9a-f]{64}")


def problem(status: int, title: str, detail: str, **extra) -> Resp:
    return Resp(status, {"title": title, "detail": detail, "status": status, **extra})


def _iso(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _dims(inp: dict) -> tuple[int, int]:
    if inp.get("width") and inp.get("height"):
        return int(inp["width"]), int(inp["height"])
    try:
        a, b = (float(x) for x in str(inp.get("aspect_ratio", "1:1")).split(":"))
    except ValueError:
        a = b = 1.0
    w = round(math.sqrt(1024 * 1024 * a / b) / 16) * 16
    return w, round(1024 * 1024 / w / 16) * 16


class FakeReplicate(FakeServer):
    default_stage = "create"

    def __init__(self, *, api_keys=None, versions=None, single_output_models=None, **kwargs):
        self.api_keys = set(api_keys or {"r8_test_good"})
        self.versions = dict(versions or {SDXL_VERSION: "stability-ai/sdxl"})
        self.single_output_models = set(single_output_models or SINGLE_OUTPUT)
        self._plock = threading.Lock()
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self._preds: dict[str, dict] = {}

    @property
    def predictions(self) -> dict[str, dict]:
        with self._plock:
            return {k: dict(v["obj"]) for k, v in self._preds.items()}

    # ------------------------------------------------------------------ routing
    def handle_api(self, req: Req) -> Resp:
        p, m = req.parts, req.method
        if len(p) < 2 or p[0] != "v1":
            return problem(404, "Not found", "Not found")
        if (
            bearer_token(req, ("bearer", "token")) not in self.api_keys
            or self.scenario == "unauthorized"
        ):
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
        return problem(404, "Not found", "Not found")

    def _guard(self, stage: str) -> Resp | None:
        return self.scenario_error(stage)

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
            resp = problem(
                429,
                "Request was throttled",
                msg or "Request was throttled. Your rate limit resets in ~30s.",
            )
            resp.headers.update(self.retry_headers(kind == "rate_limited_once"))
            return resp
        if kind == "validation":
            return self._invalid(self.opt("field", "input.prompt"), msg or "Invalid value")
        if kind == "server_error":
            status = int(self.opt("status", 500))
            return problem(status, "Internal Server Error", msg or "An unexpected error occurred.")
        return None  # content_policy is a failed prediction, not an HTTP error

    def _invalid(self, field: str, description: str) -> Resp:
        return problem(
            422,
            "Input validation failed",
            f"- {field}: {description}\n",
            invalid_fields=[{"type": "invalid", "field": field, "description": description}],
        )

    # ------------------------------------------------------------------ predictions
    def _create(self, req: Req, model: str | None) -> Resp:
        body = req.json if isinstance(req.json, dict) else {}
        version = "hidden"
        if model is None:
            ref = body.get("version")
            if not isinstance(ref, str) or not ref:
                return problem(
                    422,
                    "Input validation failed",
                    "- version: version is required\n",
                    invalid_fields=[
                        {
                            "type": "required",
                            "field": "version",
                            "description": "version is required",
                        }
                    ],
                )
            if ":" in ref:
                model, version = ref.split(":", 1)
            elif HEX64.fullmatch(ref) and ref in self.versions:
                model, version = self.versions[ref], ref
            elif re.fullmatch(r"[\w.-]+/[\w.-]+", ref):
                model = ref
            else:
                return problem(
                    422,
                    "Invalid version or not permitted",
                    "The specified version "
                    "does not exist (or perhaps you don't have permission to use it?)",
                )
        inp = body.get("input")
        if not isinstance(inp, dict):
            return self._invalid("input", "Invalid type. Expected: object, given: null")
        invalid = self._check_input(model, inp)
        if invalid:
            return invalid
        wait = req.headers.get("prefer", "").strip().startswith("wait")
        polls = int(self.opt("polls", 2 if self.scenario == "queue_polls" else (0 if wait else 1)))
        if self.scenario == "queue_polls":
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
        rec = {"obj": obj, "polls": polls, "seen": 0}
        with self._plock:
            self._preds[pid] = rec
            if polls == 0:
                self._finish(rec)
            obj = dict(rec["obj"])
        headers = {"Preference-Applied": "wait"} if wait else {}
        return Resp(201, obj, headers)

    def _check_input(self, model: str, inp: dict) -> Resp | None:
        if not inp.get("prompt") and "prompt" not in inp:
            return self._invalid("input", "prompt is required")
        n = inp.get("num_outputs", 1)
        if not isinstance(n, int) or n < 1:
            return self._invalid("input.num_outputs", "Must be greater than or equal to 1")
        if n > 4:
            return self._invalid("input.num_outputs", "Must be less than or equal to 4")
        steps = inp.get("num_inference_steps", 4)
        if model.endswith("flux-schnell") and isinstance(steps, int) and steps > 4:
            return self._invalid("input.num_inference_steps", "Must be less than or equal to 4")
        return None

    def _finish(self, rec: dict) -> None:
        """Move a prediction to its terminal state (call with ``_plock`` held)."""
        obj = rec["obj"]
        now = datetime.now(UTC)
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
        obj["status"] = "succeeded"
        obj["logs"] += "Using seed: 1234\n100%|##########| 4/4 [00:00<00:00]\n"
        obj["output"] = self._output(obj)

    def _output(self, obj: dict):
        inp, model = obj["input"], obj["model"]
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
        return urls[0] if model in self.single_output_models and urls else urls

    def _get(self, pid: str) -> Resp:
        with self._plock:
            rec = self._preds.get(pid)
            if rec is None:
                return problem(404, "Not found", "Not found.")
            obj = rec["obj"]
            if obj["status"] in ("starting", "processing"):
                rec["seen"] += 1
                if rec["seen"] >= rec["polls"]:
                    self._finish(rec)
                else:
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
                return problem(404, "Not found", "Not found.")
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

    def _model(self, p: list[str]) -> Resp:
        name = f"{p[2]}/{p[3]}"
        vid = (
            p[5]
            if len(p) == 6
            else next((v for v, n in self.versions.items() if n == name), "0" * 64)
        )
        item = {"type": "string", "format": "uri"}
        out = item if name in self.single_output_models else {"type": "array", "items": item}
        version = {
            "id": vid,
            "created_at": "2024-01-01T00:00:00.000000Z",
            "cog_version": "0.9.4",
            "openapi_schema": {
                "components": {
                    "schemas": {
                        "Input": {
                            "type": "object",
                            "required": ["prompt"],
                            "properties": {"prompt": {"type": "string"}},
                        },
                        "Output": {"title": "Output", **out},
                    }
                }
            },
        }
        if len(p) == 6:
            return Resp(200, version)
        return Resp(
            200,
            {
                "url": f"https://replicate.com/{name}",
                "owner": p[2],
                "name": p[3],
                "description": "fake model",
                "visibility": "public",
                "run_count": 1,
                "latest_version": version,
            },
        )
