"""Fake fal.ai queue API (plus the platform pricing endpoint) for plain-httpx clients.

Use::

    with FakeFal() as fake:
        h = {"Authorization": "Key fal-key-id:fal-key-secret"}
        sub = httpx.post(fake.base_url + "/fal-ai/flux/dev", json={"prompt": "x"}, headers=h).json()
        httpx.get(sub["status_url"], headers=h).json()   # {"status": "COMPLETED", ...}
        httpx.get(sub["response_url"], headers=h).json()  # {"images": [...], ...}

(Untested with ``fal_client``: per the spec it would need
``fal_client.client.QUEUE_URL_FORMAT = fake.base_url + "/"`` since its scheme is hard-coded https.)

Constructor: ``FakeFal(api_keys={"fal-key-id:fal-key-secret"}, prices=None, scenario="success",
options=None, ...)``; ``prices`` maps endpoint id -> ``(unit_price, unit)``.

Routes:
``POST /{owner}/{app}[/{subpath}]`` submit -> 200 ``{request_id, response_url, status_url,
cancel_url, status: "IN_QUEUE", queue_position}`` with absolute URLs *without* the subpath;
``GET /{owner}/{app}/requests/{id}/status[?logs=1]``; ``GET /{owner}/{app}/requests/{id}`` (400
``Request is still in progress`` until COMPLETED); ``PUT /{owner}/{app}/requests/{id}/cancel``
(202 ``CANCELLATION_REQUESTED``, or 400 ``ALREADY_COMPLETED``; recorded in ``.cancels`` as
``{"request_id", "endpoint"}``); ``GET /v1/models/pricing?endpoint_id=...`` (repeatable; lives on
``api.fal.ai`` in reality). ``.jobs`` maps request id -> job state (endpoint, input, polls...).
Auth ``Authorization: Key <id>:<secret>``; wrong key 401 ``No user found for Key ID and Secret``.

Status progression with ``polls=N``: status polls 1..N-1 are ``IN_QUEUE`` (first half, with a
decreasing ``queue_position``) then ``IN_PROGRESS`` (with ``logs``); poll N is ``COMPLETED``
(``logs``, ``metrics.inference_time``). ``logs`` is ``null`` unless ``?logs=1``/``true``.
Input checks happen when the result is fetched (422 ``detail`` list): ``prompt`` required,
``num_images`` 1-4, ``image_size`` preset or ``{width, height}``.

Scenarios (``fake.set_scenario(name, **options)``); stages are ``submit``, ``status``,
``result``, ``cancel``, ``pricing``; default ``stage="submit"``:

``success``           options ``images`` / ``n`` (default input ``num_images`` or 1), ``seed``,
                      ``polls`` (default 1), ``inference_time``; ``sync_mode`` input -> data URIs.
``queue_polls``       ``polls`` (default 3).
``slow``              ``seconds`` (default 1, max 30).
``unauthorized``      401 on every route.
``no_credit``         403 ``User is locked. Reason: Exhausted balance...``.
``rate_limited_once`` first submit 429 (``Retry-After: 0``, ``retry-after-ms: 10``), then success.
``rate_limited``      always 429 ``{"detail": "Rate limit exceeded"}`` with ``Retry-After``.
``content_policy``    default stage ``result``: COMPLETED status carries ``error``/``error_type``
                      and the result is 422 with a ``content_policy_violation`` detail list
                      (``stage="submit"`` makes the submit itself answer 422).
``validation``        like ``content_policy`` but a ``value_error`` detail; options ``field``
                      (default ``num_images``), ``message``.
``model_failed``      COMPLETED with ``error``; result 500 ``{"detail", "error_type":
                      "runner_server_error"}`` + ``X-Fal-Error-Type``; options ``error``,
                      ``error_type``, ``status``.
``server_error``      500 ``internal_error`` (``status=503`` -> ``runner_scheduling_failure``,
                      502 -> ``runner_incomplete_response``, 504 -> ``request_timeout``).
``malformed``         200 with an invalid JSON body.
``result_url``        option ``url``: every ``images[].url`` (relative paths made absolute).
"""

from __future__ import annotations

import base64
import random
import threading
import time
import uuid

from .base import MIME, FakeServer, Req, Resp, make_image, palette

PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
PRICES = {
    "fal-ai/flux/schnell": (0.003, "megapixels"),
    "fal-ai/flux/dev": (0.025, "megapixels"),
    "fal-ai/flux-pro/v1.1": (0.04, "images"),
    "fal-ai/flux-pro/v1.1-ultra": (0.06, "images"),
    "fal-ai/fast-sdxl": (0.0025, "images"),
}
ERROR_TYPES = {
    500: "internal_error",
    502: "runner_incomplete_response",
    503: "runner_scheduling_failure",
    504: "request_timeout",
}
DOCS = "https://docs.fal.ai/errors"


def detail(status: int, text, error_type: str | None = None) -> Resp:
    body = {"detail": text}
    headers = {}
    if error_type:
        body["error_type"] = error_type
        headers["X-Fal-Error-Type"] = error_type
    return Resp(status, body, headers)


def _loc_error(field: str, msg: str, type_: str, value=None, **extra) -> dict:
    return {
        "loc": ["body", field],
        "msg": msg,
        "type": type_,
        "url": f"{DOCS}#{type_}",
        "input": value,
        **extra,
    }


class FakeFal(FakeServer):
    default_stage = "submit"

    def __init__(self, *, api_keys=None, prices=None, **kwargs):
        self.api_keys = set(api_keys or {"fal-key-id:fal-key-secret"})
        self.prices = dict(prices or PRICES)
        self._jlock = threading.Lock()
        super().__init__(**kwargs)

    def _reset_state(self) -> None:
        self._jobs: dict[str, dict] = {}

    @property
    def jobs(self) -> dict[str, dict]:
        with self._jlock:
            return {k: dict(v) for k, v in self._jobs.items()}

    def stage_for(self, scenario: str) -> str | None:
        return "result" if scenario in ("content_policy", "validation") else None

    def scenario_error(self, stage: str) -> Resp | None:
        if stage == "result" and self.scenario in ("content_policy", "validation"):
            return None  # _result() answers once the job is COMPLETED
        return super().scenario_error(stage)

    # ------------------------------------------------------------------ routing
    def handle_api(self, req: Req) -> Resp:
        p, m = req.parts, req.method
        auth = req.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        if scheme.lower() != "key" or ":" not in key:
            return detail(
                401, "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."
            )
        if key.strip() not in self.api_keys or self.scenario == "unauthorized":
            return detail(401, "No user found for Key ID and Secret")
        if m == "GET" and p == ["v1", "models", "pricing"]:
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
            return [
                _loc_error(
                    "prompt",
                    self.opt("message", "The content was flagged by a content checker."),
                    "content_policy_violation",
                    inp.get("prompt"),
                    categories=["sexual"],
                )
            ]
        field = self.opt("field", "num_images")
        return [
            _loc_error(
                field,
                self.opt("message", "ensure this value is less than or equal to 4"),
                "value_error.number.not_le",
                inp.get(field),
                ctx={"limit_value": 4},
            )
        ]

    # ------------------------------------------------------------------ queue
    def _submit(self, req: Req, p: list[str]) -> Resp:
        endpoint, app = "/".join(p), f"{p[0]}/{p[1]}"
        if not isinstance(req.json, dict):
            return Resp(
                422,
                {
                    "detail": [
                        {
                            "loc": ["body"],
                            "msg": "value is not a valid dict",
                            "type": "type_error.dict",
                        }
                    ]
                },
            )
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
            "submitted_at": time.time(),
        }
        with self._jlock:
            self._jobs[rid] = job
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
        )

    def _failure(self, job: dict) -> tuple[str, str] | None:
        """(error text, error_type) when the job ends in an error, else ``None``."""
        if job["canceled"]:
            return "Request was cancelled by the client", "client_cancelled"
        if job["scenario"] == "model_failed":
            return (
                self.opt("error", "Unexpected error in model: CUDA out of memory"),
                self.opt("error_type", "runner_server_error"),
            )
        if job["scenario"] in ("content_policy", "validation") and self.stage_matches(
            "result", "result"
        ):
            first = self._policy_detail(job["scenario"])[0]
            return first["msg"], first["type"]
        checked = self._check_input(job["input"])
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

    def _check_input(self, inp: dict) -> list:
        errors = []
        if not isinstance(inp.get("prompt"), str):
            errors.append(_loc_error("prompt", "field required", "value_error.missing"))
        n = inp.get("num_images", 1)
        if not isinstance(n, int) or n < 1:
            errors.append(
                _loc_error(
                    "num_images",
                    "ensure this value is greater than or equal to 1",
                    "value_error.number.not_ge",
                    n,
                    ctx={"limit_value": 1},
                )
            )
        elif n > 4:
            errors.append(
                _loc_error(
                    "num_images",
                    "ensure this value is less than or equal to 4",
                    "value_error.number.not_le",
                    n,
                    ctx={"limit_value": 4},
                )
            )
        size = inp.get("image_size", "landscape_4_3")
        if not (
            (isinstance(size, str) and size in PRESETS)
            or (isinstance(size, dict) and {"width", "height"} <= set(size))
        ):
            errors.append(
                _loc_error(
                    "image_size", "value is not a valid enumeration member", "type_error.enum", size
                )
            )
        return errors

    def _result(self, rid: str) -> Resp:
        with self._jlock:
            job = self._jobs.get(rid)
            job = dict(job) if job else None
        if job is None:
            return detail(404, f"Request {rid} not found")
        if job["state"] != "COMPLETED":
            return detail(400, "Request is still in progress")
        if job["canceled"]:
            return detail(499, "Request was cancelled by the client", "client_cancelled")
        if job["scenario"] in ("content_policy", "validation") and self.stage_matches(
            "result", "result"
        ):
            return Resp(422, {"detail": self._policy_detail(job["scenario"], job["input"])})
        if job["scenario"] == "model_failed":
            err, etype = self._failure(job)
            return detail(int(self.opt("status", 500)), err, etype)
        errors = self._check_input(job["input"])
        if errors:
            return Resp(422, {"detail": errors})
        return Resp(200, self._output(job), {"x-fal-request-id": rid})

    def _output(self, job: dict) -> dict:
        inp = job["input"]
        size = inp.get("image_size", "square_hd" if "sdxl" in job["endpoint"] else "landscape_4_3")
        w, h = (size["width"], size["height"]) if isinstance(size, dict) else PRESETS[size]
        ext = str(inp.get("output_format", inp.get("format", "jpeg"))).lower()
        fmt = "PNG" if ext == "png" else "JPEG"
        count = int(self.opt("images", self.opt("n", inp.get("num_images", 1))))
        images = []
        for i in range(count):
            if job["scenario"] == "result_url":
                url = self.absolute(self.opt("url", "/files/not-an-image.png"))
            else:
                img = make_image(w, h, tuple(self.opt("color", palette(i))), fmt)
                if inp.get("sync_mode"):
                    url = f"data:{MIME[fmt]};base64,{base64.b64encode(img).decode()}"
                else:
                    url = self.add_file(f"{job['request_id']}-{i}.{ext}", img, MIME[fmt])
            images.append({"url": url, "width": w, "height": h, "content_type": MIME[fmt]})
        seed = inp.get("seed", self.opt("seed", random.randint(0, 2**31 - 1)))
        return {
            "images": images,
            "timings": {"inference": float(self.opt("inference_time", 1.43))},
            "seed": seed,
            "has_nsfw_concepts": [False] * count,
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

    # ------------------------------------------------------------------ pricing
    def _pricing(self, req: Req) -> Resp:
        ids = req.query_multi.get("endpoint_id") or list(self.prices)
        ids = [i for raw in ids for i in raw.split(",") if i]
        missing = [i for i in ids if i not in self.prices]
        if missing:
            return Resp(
                404,
                {"error": {"type": "not_found", "message": f"Endpoint not found: {missing[0]}"}},
            )
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
