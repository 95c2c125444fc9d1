"""AUTOMATIC1111 / Forge on the team's own GPU, over its API (modules/api/api.py; the server
must be started with ``--api``).

Generate is ``POST /sdapi/v1/txt2img``; edit, inpaint and outpaint are
``POST /sdapi/v1/img2img`` (``init_images``, ``denoising_strength``, and for inpaint a
``mask`` in the app's own convention: white is repainted); upscale is
``POST /sdapi/v1/extra-single-image``. The checkpoint is chosen per request with
``override_settings.sd_model_checkpoint`` (restored afterwards), the sampler from the listing.
While the call runs, ``GET /sdapi/v1/progress`` is polled for progress; the seed is read back
from the answer's ``info``. Cancel: ``POST /sdapi/v1/interrupt`` (the server runs one job at a
time, so with one job per backend the running job is ours). Health and models:
``GET /sdapi/v1/sd-models`` and ``GET /sdapi/v1/samplers``. GPU time is the call's run time
(A1111 reports none).
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
import time

import httpx
from django.conf import settings

from imagegen.providers.backends import Backend, BackendKind, BackendTarget
from imagegen.providers.base import (
    GeneratedImage,
    GenerationRequest,
    ModelSpec,
    Operation,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.selfhosted import Health, SelfHostedProvider, poll_interval

# What every checkpoint takes (the API's request model: width/height are free, in multiples
# of 8; batch_size images per call).
BASE_SPEC = {
    "min_size": 64,
    "max_size": 2048,
    "size_multiple": 8,
    "max_images": 4,
    "steps": (1, 150),
    "cfg_scale": (1.0, 30.0),
    "strength": (0.0, 1.0),
}
# Outpaint too: the runner pads the canvas and masks the margins, img2img inpaints them.
OPERATIONS = (
    Operation.GENERATE,
    Operation.EDIT,
    Operation.INPAINT,
    Operation.OUTPAINT,
    Operation.UPSCALE,
)
# Upscalers to prefer for ``upscale`` when the server has them (its listing decides).
PREFERRED_UPSCALERS = ("R-ESRGAN 4x+", "ESRGAN_4x", "SwinIR_4x", "LDSR", "Lanczos")
INPAINT_FILL_ORIGINAL = 1  # inpainting_fill: start from the original pixels under the mask


class A1111Provider(SelfHostedProvider):
    name = "a1111"
    label = "AUTOMATIC1111"
    reports_progress = True
    kind = BackendKind.A1111

    # --- Models: the checkpoints the backends list ----------------------------------------

    def backend_specs(self, backend: Backend) -> list[ModelSpec]:
        samplers = [
            s for s in (backend.listed_extra or {}).get("samplers", []) if isinstance(s, str)
        ]
        specs = []
        for item in backend.listed_models:
            if not isinstance(item, dict) or not item.get("id") or not backend.offers(item["id"]):
                continue
            specs.append(
                ModelSpec(
                    id=item["id"],
                    label=item.get("label") or item["id"],
                    min_size=BASE_SPEC["min_size"],
                    max_size=BASE_SPEC["max_size"],
                    size_multiple=BASE_SPEC["size_multiple"],
                    max_images=BASE_SPEC["max_images"],
                    steps=BASE_SPEC["steps"],
                    default_steps=20,
                    cfg_scale=BASE_SPEC["cfg_scale"],
                    default_cfg_scale=7.0,
                    options={"sampler": samplers} if samplers else {},
                    operations=OPERATIONS,
                    max_input_images=1,
                    strength=BASE_SPEC["strength"],
                    scales=(2, 4),
                    price_unit="second",
                )
            )
        return specs

    def prepare(self, ctx: RunContext, request: GenerationRequest) -> None:
        """The checkpoint's full title on the chosen backend (hashes differ per server)."""
        backend = Backend.objects.filter(pk=ctx.backend.id).first() if ctx.backend else None
        listed = backend.listed_models if backend else []
        item = next(
            (m for m in listed if isinstance(m, dict) and m.get("id") == request.model), None
        )
        if item is None:
            raise ProviderError(
                f"{self.label} ({ctx.backend.name}) no longer lists {request.model}."
            )
        ctx.model_data = {
            "checkpoint": item.get("title") or item["id"],
            # The names ``info.sd_model_name`` may give this checkpoint after a run.
            "names": {item["id"], item.get("name") or item["id"]},
            "upscaler": backend_upscaler(backend),
        }

    # --- Health --------------------------------------------------------------------------

    def check_health(self, target: BackendTarget) -> Health:
        try:
            with self.client(target, settings.BACKEND_CHECK_TIMEOUT) as http:
                models = http.get("/sdapi/v1/sd-models")
                samplers = http.get("/sdapi/v1/samplers") if models.status_code == 200 else None
                upscalers = http.get("/sdapi/v1/upscalers") if models.status_code == 200 else None
        except httpx.HTTPError as exc:
            return Health(ok=False, error=f"no answer ({type(exc).__name__})")
        if models.status_code in (401, 403):
            return Health(ok=False, error=f"refused the credentials (HTTP {models.status_code})")
        if models.status_code == 404:
            return Health(ok=False, error="no API: start it with --api")
        if models.status_code != 200:
            return Health(
                ok=False, error=f"GET /sdapi/v1/sd-models answered HTTP {models.status_code}"
            )
        try:
            listed = [
                {
                    "id": m["model_name"],
                    "title": m.get("title") or m["model_name"],
                    # What ``info.sd_model_name`` says after a run: the file's base name
                    # (``model_name`` also carries its subfolder: SDXL/x → SDXL_x).
                    "name": checkpoint_name(m.get("filename") or "", m["model_name"]),
                }
                for m in models.json()
                if isinstance(m, dict) and m.get("model_name")
            ]
            names = [s["name"] for s in samplers.json() if isinstance(s, dict) and s.get("name")]
            ups = (
                [u["name"] for u in upscalers.json() if isinstance(u, dict) and u.get("name")]
                if upscalers is not None and upscalers.status_code == 200
                else []
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            return Health(ok=False, error="its model listing is not A1111's")
        if not listed:
            return Health(ok=False, error="it lists no checkpoint")
        return Health(ok=True, models=listed, extra={"samplers": names, "upscalers": ups})

    # --- The run ---------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        target = self.target(ctx)
        with self.understood(target):
            return self._generate(request, ctx, target)

    def _generate(self, request, ctx: RunContext, target: BackendTarget) -> ProviderResult:
        if request.operation == Operation.UPSCALE:
            return self._upscale(request, ctx, target)
        path, body = self._body(request, ctx)
        started = time.monotonic()
        done = threading.Event()
        poller = threading.Thread(target=self._poll_progress, args=(target, ctx, done), daemon=True)
        with self.client(target, self.timeout(ctx)) as http:
            poller.start()
            try:
                with self.talking_to(target, ctx):
                    response = http.post(path, json=body)
            finally:
                done.set()
        answer = self.json_object(target, response, "the job")
        seconds = round(time.monotonic() - started, 3)
        images = decode_images(answer.get("images"), self.name_of(target))
        expected = request.num_images
        if len(images) == expected + 1:
            images = images[1:]  # a grid in front (the server's "return grid" option)
        info = parse_info(answer.get("info"))
        ran = info.get("sd_model_name")
        if isinstance(ran, str) and ran and ran not in ctx.model_data["names"]:
            # A1111 drops a checkpoint it does not know and runs the loaded one.
            raise ProviderError(
                f"{self.name_of(target)} ran {ran} instead of the checkpoint asked for "
                f"({ctx.model_data['checkpoint']}): is it still on that server? The list of "
                "checkpoints is read again within a minute."
            )
        seeds = info.get("all_seeds") or []
        seed = info.get("seed") if isinstance(info.get("seed"), int) else None
        return ProviderResult(
            images=[
                GeneratedImage(data=data, seed=seeds[i] if i < len(seeds) else seed)
                for i, data in enumerate(images)
            ],
            seed=seed,
            gpu_seconds=seconds,
            metadata={"backend": target.name, "sampler": info.get("sampler_name")},
        )

    def _body(self, request: GenerationRequest, ctx: RunContext) -> tuple[str, dict]:
        body = {
            "prompt": request.prompt,
            "negative_prompt": request.negative_prompt,
            "seed": request.seed if request.seed is not None else -1,
            "steps": request.steps or 20,
            "cfg_scale": request.cfg_scale if request.cfg_scale is not None else 7.0,
            "width": request.width,
            "height": request.height,
            "batch_size": request.num_images,
            "n_iter": 1,
            "override_settings": {"sd_model_checkpoint": ctx.model_data["checkpoint"]},
            "override_settings_restore_afterwards": True,
            "send_images": True,
            "save_images": False,
        }
        if request.params.get("sampler"):
            body["sampler_name"] = request.params["sampler"]
        if request.operation == Operation.GENERATE:
            return "/sdapi/v1/txt2img", body
        source = request.input_images[0]
        body["init_images"] = [base64.b64encode(source.data).decode("ascii")]
        body["denoising_strength"] = request.strength if request.strength is not None else 0.75
        body["resize_mode"] = 0
        if request.mask is not None:
            body["mask"] = base64.b64encode(request.mask.data).decode("ascii")
            body["inpainting_fill"] = INPAINT_FILL_ORIGINAL
            body["inpaint_full_res"] = False
            body["inpainting_mask_invert"] = 0
            body["mask_blur"] = 4
            if request.operation in (Operation.INPAINT, Operation.OUTPAINT):
                body["denoising_strength"] = (
                    request.strength if request.strength is not None else 1.0
                )
        return "/sdapi/v1/img2img", body

    def _upscale(self, request, ctx, target) -> ProviderResult:
        source = request.input_images[0]
        body = {
            "image": base64.b64encode(source.data).decode("ascii"),
            "resize_mode": 0,
            "upscaling_resize": request.scale or 2,
            "upscaler_1": ctx.model_data.get("upscaler") or "Lanczos",
        }
        started = time.monotonic()
        with self.client(target, self.timeout(ctx)) as http, self.talking_to(target, ctx):
            response = http.post("/sdapi/v1/extra-single-image", json=body)
        answer = self.json_object(target, response, "the upscale")
        images = decode_images([answer.get("image")], self.name_of(target))
        return ProviderResult(
            images=[GeneratedImage(data=images[0])],
            gpu_seconds=round(time.monotonic() - started, 3),
            metadata={"backend": target.name, "upscaler": body["upscaler_1"]},
        )

    def _poll_progress(self, target: BackendTarget, ctx: RunContext, done: threading.Event):
        """Progress while the job runs (its own connection; failures here are not the job's)."""
        try:
            with self.client(target, 5) as http:
                while not done.wait(poll_interval()):
                    response = http.get("/sdapi/v1/progress", params={"skip_current_image": "true"})
                    if response.status_code != 200:
                        continue
                    value = response.json().get("progress")
                    # Before the job starts the server may still report the last one's end
                    # (1.0); progress never goes back.
                    fresh = isinstance(value, int | float) and 0 < value < 1
                    if fresh and (ctx.progress is None or value > ctx.progress):
                        ctx.report_progress(value)
        except (httpx.HTTPError, ValueError, AttributeError):
            return

    def cancel(self, ctx: RunContext) -> None:
        if ctx.backend is None:
            return
        with self.client(ctx.backend, 10) as http:
            http.post("/sdapi/v1/interrupt")


def backend_upscaler(backend: Backend | None) -> str:
    listed = (backend.listed_extra or {}).get("upscalers", []) if backend else []
    for name in PREFERRED_UPSCALERS:
        if name in listed:
            return name
    usable = [name for name in listed if name not in ("None", "Nearest")]
    return usable[0] if usable else "Lanczos"


def checkpoint_name(filename: str, model_name: str) -> str:
    """A checkpoint's file name without folders and extension (A1111's ``name_for_extra``)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    stem = base.rsplit(".", 1)[0] if "." in base else base
    return stem or model_name


def decode_images(items, name: str) -> list[bytes]:
    if not isinstance(items, list) or not items:
        raise ProviderError(f"{name} returned no images.")
    images = []
    for item in items:
        if not isinstance(item, str):
            raise ProviderError(f"{name} returned an image that is not base64.")
        payload = item.split(",", 1)[1] if item.startswith("data:") else item
        try:
            images.append(base64.b64decode(payload, validate=True))
        except (binascii.Error, ValueError):
            raise ProviderError(f"{name} returned an image that is not base64.") from None
    return images


def parse_info(info) -> dict:
    """``info`` is a JSON string (processing.Processed.js()); tolerate a dict or garbage."""
    if isinstance(info, dict):
        return info
    try:
        value = json.loads(info) if isinstance(info, str) else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
