"""ComfyUI on the team's own GPU, over ComfyUI's own HTTP and WebSocket API (its server.py).

One job: upload the input image and mask (``POST /upload/image``, ``POST /upload/mask``),
open the WebSocket (``/ws?clientId=…``) first so no message is missed, submit the workflow
(``POST /prompt`` with the graph in API format and our ``client_id``), follow its messages
(``progress`` {value, max} → the generation's progress; ``executing`` with no node or
``execution_success`` → done; ``execution_error`` → a failure naming the node and ComfyUI's
own exception message; ``execution_interrupted``), and fall back to polling
``GET /history/{prompt_id}`` when there is no WebSocket or it drops. The results are the
output nodes' images in the history, downloaded with ``GET /view`` from the same backend
(never from a URL the backend returned); GPU time is the history's ``execution_start`` →
``execution_success`` timestamps. Cancel: ``POST /interrupt`` with the prompt id when it runs,
``POST /queue`` ``{"delete": [id]}`` while it waits. Health: ``GET /system_stats``.

Models are the admins' workflows (``Workflow`` rows, providers/comfyui_workflows.py); every
enabled ComfyUI backend may run every enabled workflow.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import httpx
from django.conf import settings
from PIL import Image

from imagegen.core.lazy_import import lazy_module
from imagegen.providers import comfyui_workflows as workflows
from imagegen.providers.backends import Backend, BackendKind, BackendTarget, Workflow
from imagegen.providers.base import (
    BackendUnreachable,
    GeneratedImage,
    GenerationCanceled,
    GenerationRequest,
    GenerationTimedOut,
    InputImage,
    ModelSpec,
    ProviderError,
    ProviderResult,
    RunContext,
)
from imagegen.providers.inputs import mask_pixels
from imagegen.providers.selfhosted import Health, SelfHostedProvider, poll_interval

# Imported on first use: see imagegen/core/lazy_import.py.
ws_client = lazy_module("websockets.sync.client")
ws_exceptions = lazy_module("websockets.exceptions")

logger = logging.getLogger(__name__)
_CANCEL_LOCK = threading.Lock()

UPLOAD_SUBFOLDER = "imagegen"
# Reads of a finished job's history before it counts as lost (ComfyUI writes it just after
# the job's last message), one poll interval apart.
HISTORY_TRIES = 10
WS_MAX_MESSAGE = 32 * 1024 * 1024  # preview frames are JPEGs of the latent: small


class ComfyUIProvider(SelfHostedProvider):
    name = "comfyui"
    label = "ComfyUI"
    reports_progress = True
    kind = BackendKind.COMFYUI

    # --- Models: the admins' workflows ---------------------------------------------------

    def workflow_specs(self) -> list[ModelSpec]:
        specs = []
        for row in Workflow.objects.filter(enabled=True):
            try:
                workflows.check(row.workflow, row.fields, row.operation)
                spec = workflows.spec_for(
                    row.model_id, row.label, row.operation, row.workflow, row.fields
                )
            except workflows.WorkflowInvalid:
                continue  # the admin form refuses these; a row edited elsewhere stays out
            except (TypeError, ValueError, KeyError, AttributeError):
                # One odd row (loaded from a fixture, say) must not take every model down.
                logger.exception("ComfyUI workflow %s is not offered", row.model_id)
                continue
            specs.append(spec)
        return specs

    def specs(self, backends) -> list[ModelSpec]:
        return self.workflow_specs() if list(backends) else []

    def backend_specs(self, backend: Backend) -> list[ModelSpec]:
        return self.workflow_specs()

    def serves(self, backend: Backend, model_id: str) -> bool:
        return Workflow.objects.filter(model_id=model_id, enabled=True).exists()

    def capable(self, backends, model_id: str) -> list[Backend]:
        # Every ComfyUI backend runs every enabled workflow: one query, not one per backend.
        backends = list(backends)
        return backends if backends and self.serves(backends[0], model_id) else []

    def prepare(self, ctx: RunContext, request: GenerationRequest) -> None:
        row = Workflow.objects.filter(model_id=request.model, enabled=True).first()
        if row is None:
            raise ProviderError(f"The ComfyUI workflow {request.model!r} is no longer offered.")
        ctx.model_data = {"workflow": row.workflow, "fields": row.fields}

    # --- Health ------------------------------------------------------------------------

    def check_health(self, target: BackendTarget) -> Health:
        try:
            with self.client(target, settings.BACKEND_CHECK_TIMEOUT) as http:
                response = http.get("/system_stats")
        except httpx.HTTPError as exc:
            return Health(ok=False, error=f"no answer ({type(exc).__name__})")
        if response.status_code != 200:
            return Health(ok=False, error=f"GET /system_stats answered HTTP {response.status_code}")
        try:
            stats = response.json()
        except ValueError:
            return Health(ok=False, error="GET /system_stats did not answer JSON")
        if not isinstance(stats, dict) or "system" not in stats:
            return Health(ok=False, error="GET /system_stats does not look like ComfyUI")
        return Health(ok=True)

    def node_types(self, target: BackendTarget) -> set[str] | None:
        """The node types the backend has (``GET /object_info``), or None when it does not
        answer: a workflow that needs a custom node it lacks fails there."""
        try:
            with self.client(target, settings.BACKEND_CHECK_TIMEOUT) as http:
                response = http.get("/object_info")
            info = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError):
            return None
        return set(info) if isinstance(info, dict) else None

    # --- The run -------------------------------------------------------------------------

    def generate(self, request: GenerationRequest, ctx: RunContext) -> ProviderResult:
        target = self.target(ctx)
        with self.understood(target):
            return self._generate(request, ctx, target)

    def _generate(self, request, ctx: RunContext, target: BackendTarget) -> ProviderResult:
        workflow, fields = ctx.model_data["workflow"], ctx.model_data["fields"]
        client_id = uuid.uuid4().hex
        with self.client(target, self.timeout(ctx, 60)) as http:
            image_name, mask_name = self._upload_inputs(http, target, ctx, request, fields)
            built = workflows.build(
                workflow, fields, request, image_name=image_name, mask_name=mask_name
            )
            with contextlib.ExitStack() as stack:
                socket = self._open_socket(stack, target, client_id, ctx)
                with self.talking_to(target, ctx):
                    response = http.post(
                        "/prompt", json={"prompt": built.graph, "client_id": client_id}
                    )
                answer = self.json_object(target, response, "the workflow")
                prompt_id = str(answer.get("prompt_id") or "")
                if not prompt_id:
                    raise ProviderError(f"{self.name_of(target)} did not name the queued job.")
                ctx.remote_handle = (target, prompt_id)
                try:
                    self._follow(socket, http, target, ctx, prompt_id)
                except (GenerationCanceled, GenerationTimedOut):
                    # A cancel that came while the workflow was being sent found no job to
                    # stop: stop it now rather than let it run on the GPU.
                    self.quietly_cancel(ctx)
                    raise
            entry = self._finished_entry(http, target, ctx, prompt_id)
            images = self._outputs(http, target, ctx, entry)
        if not images:
            raise ProviderError(f"{self.name_of(target)} finished the workflow without an image.")
        return ProviderResult(
            images=[GeneratedImage(data=data, seed=built.seed) for data in images],
            request_id=prompt_id,
            seed=built.seed,
            gpu_seconds=gpu_seconds(entry),
            metadata={"backend": target.name, "prompt_id": prompt_id},
        )

    def _upload_inputs(self, http, target, ctx, request, fields):
        if not request.input_images or "image" not in fields:
            return None, None
        source = request.input_images[0]
        stem = uuid.uuid4().hex[:12]
        uploaded = self._upload(http, target, ctx, "/upload/image", f"{stem}.png", png(source))
        image_name, mask_name = load_path(uploaded), None
        if request.mask is not None and "mask" in fields:
            if workflows.mask_in_alpha(fields):
                # /upload/mask puts the upload's alpha into the original's; LoadImage reads
                # mask = 1 - alpha, so transparent is where the image may change.
                ref = {"filename": uploaded["name"], "subfolder": uploaded["subfolder"]}
                ref["type"] = "input"
                image_name = self._upload(
                    http,
                    target,
                    ctx,
                    "/upload/mask",
                    f"{stem}-masked.png",
                    alpha_mask(request.mask),
                    extra={"original_ref": json.dumps(ref)},
                )
                image_name = load_path(image_name)
            else:
                mask_name = load_path(
                    self._upload(
                        http, target, ctx, "/upload/image", f"{stem}-mask.png", png(request.mask)
                    )
                )
        return image_name, mask_name

    def _upload(self, http, target, ctx, path, filename, data, extra=None) -> dict:
        """Upload one input; ComfyUI's answer: its name and subfolder there."""
        ctx.check()
        form = {"type": "input", "subfolder": UPLOAD_SUBFOLDER, "overwrite": "true"}
        form.update(extra or {})
        with self.talking_to(target, ctx):
            response = http.post(path, data=form, files={"image": (filename, data, "image/png")})
        answer = self.json(target, response, "the input image")
        name = answer.get("name") if isinstance(answer, dict) else None
        if not isinstance(name, str) or not name:
            raise ProviderError(f"{self.name_of(target)} did not name the uploaded image.")
        return {"name": name, "subfolder": str(answer.get("subfolder") or "")}

    def _open_socket(self, stack, target: BackendTarget, client_id: str, ctx: RunContext):
        """The WebSocket for this job's messages (closed with ``stack``), or None: then the
        history is polled."""
        try:
            return stack.enter_context(
                ws_client.connect(
                    ws_url(target.base_url, client_id),
                    additional_headers=target.headers,
                    open_timeout=min(10.0, max(0.5, ctx.remaining())),
                    close_timeout=1,
                    max_size=WS_MAX_MESSAGE,
                )
            )
        except Exception:  # a proxy without WebSockets, a 404: polling still works
            return None

    def _follow(self, socket, http, target, ctx: RunContext, prompt_id: str) -> None:
        """Wait for the job to end, reporting progress; raise on failure or cancel."""
        passes = Passes(samplers_in(ctx.model_data["workflow"]))
        while socket is not None:
            ctx.check()
            try:
                message = socket.recv(timeout=min(1.0, max(0.05, ctx.remaining())))
            except TimeoutError:
                continue
            except Exception:  # the socket dropped: the history still knows
                break
            if isinstance(message, bytes):
                continue  # a preview frame
            try:
                event = json.loads(message)
            except ValueError:
                continue
            data = event.get("data") if isinstance(event, dict) else None
            if not isinstance(data, dict) or data.get("prompt_id") != prompt_id:
                continue  # another client's job, or the queue status
            kind = event.get("type")
            value, top = data.get("value"), data.get("max")
            if (
                kind == "progress"
                and isinstance(value, int | float)
                and isinstance(top, int | float)
            ):
                if top > 0:
                    passes.step(data.get("node"), value / top)
                    ctx.report_progress(passes.overall)
            elif kind == "execution_error":
                raise node_failed(self.name_of(target), data)
            elif kind == "execution_interrupted":
                if ctx.cancel_event.is_set():
                    raise GenerationCanceled()
                raise ProviderError(f"{self.name_of(target)}: the job was interrupted there.")
            elif kind == "executing" and data.get("node") is None:
                # Sent after the history entry is written (ComfyUI's prompt_worker:
                # task_done, then executing None); execution_success comes before it.
                return
        # No (more) WebSocket: poll the history until the job has an outcome.
        while True:
            entry = self._history(http, target, ctx, prompt_id, wait=False)
            status = entry.get("status") if isinstance(entry, dict) else None
            if isinstance(status, dict) and status.get("completed") is not None:
                if status.get("status_str") == "error" or not status.get("completed"):
                    raise history_failure(self.name_of(target), status)
                return
            if entry is None and not self._queued(http, target, ctx, prompt_id):
                # In neither the history nor the queue: a restart lost it (a last look at
                # the history first, in case it finished between the two reads).
                if self._history(http, target, ctx, prompt_id, wait=False) is None:
                    raise lost(self.name_of(target), target)
                continue
            ctx.sleep(poll_interval())

    def _queued(self, http, target, ctx, prompt_id: str) -> bool:
        """Whether the job is running or waiting in the backend's queue."""
        with self.talking_to(target, ctx):
            response = http.get("/queue")
        queue = self.json_object(target, response, "the queue request")
        rows = [*(queue.get("queue_running") or []), *(queue.get("queue_pending") or [])]
        return any(isinstance(row, list) and len(row) > 1 and row[1] == prompt_id for row in rows)

    def _finished_entry(self, http, target, ctx, prompt_id: str) -> dict:
        """The finished job's history entry; a moment's grace for it to be written."""
        for _ in range(HISTORY_TRIES):
            entry = self._history(http, target, ctx, prompt_id, wait=False)
            if entry is not None:
                status = entry.get("status") if isinstance(entry.get("status"), dict) else {}
                if status.get("status_str") == "error":
                    raise history_failure(self.name_of(target), status)
                return entry
            ctx.sleep(poll_interval())
        raise lost(self.name_of(target), target)

    def _history(self, http, target, ctx, prompt_id, wait=False):
        """The job's history entry, or None while there is none."""
        with self.talking_to(target, ctx):
            response = http.get(f"/history/{prompt_id}")
        answer = self.json_object(target, response, "the history request")
        entry = answer.get(prompt_id)
        return entry if isinstance(entry, dict) else None

    def _outputs(self, http, target, ctx, entry) -> list[bytes]:
        """The images of the output nodes (SaveImage: type "output"); a workflow that only
        previews (PreviewImage: type "temp") gives those."""
        items = result_items(entry)
        saved = [item for item in items if item["type"] == "output"]
        images = []
        for item in saved or items:
            ctx.check()
            with self.talking_to(target, ctx):
                response = http.get("/view", params=item)
            if response.status_code != 200:
                raise self.refused(target, response, "the result download")
            if len(response.content) > settings.MAX_IMAGE_SIZE:
                raise ProviderError(f"{self.name_of(target)} returned an image too large.")
            images.append(response.content)
        return images

    def cancel(self, ctx: RunContext) -> None:
        # The pipeline and the provider's own thread may both ask (a cancel that came while
        # the workflow was being sent): the job is stopped once.
        with _CANCEL_LOCK:
            handle, ctx.remote_handle = ctx.remote_handle, None
        if not handle:
            return
        target, prompt_id = handle
        with self.client(target, 10) as http:
            queue = http.get("/queue").json()
            rows = {
                key: {row[1] for row in queue.get(key) or [] if isinstance(row, list) and row[1:]}
                for key in ("queue_running", "queue_pending")
            }
            running, pending = rows["queue_running"], rows["queue_pending"]
            if prompt_id in pending:
                http.post("/queue", json={"delete": [prompt_id]})
            elif prompt_id in running:
                http.post("/interrupt", json={"prompt_id": prompt_id})


class Passes:
    """One progress for a whole workflow: ComfyUI reports each sampling node's steps from 0
    to max on its own, so a workflow with a base and a refiner pass (or an upscale pass) would
    run its bar twice. Each node that reports is one pass of ``total``; the bar never goes
    back."""

    def __init__(self, total: int):
        self.total = max(1, total)
        self.done: list = []  # nodes whose pass is over, in order
        self.node = None
        self.fraction = 0.0
        self.overall = 0.0

    def step(self, node, fraction: float) -> None:
        if node != self.node:
            if self.node is not None:
                self.done.append(self.node)
            self.node, self.fraction = node, 0.0
        self.fraction = max(self.fraction, min(1.0, fraction))
        total = max(self.total, len(self.done) + 1)
        self.overall = max(self.overall, (len(self.done) + self.fraction) / total)


def samplers_in(workflow: dict) -> int:
    """How many nodes of the graph sample (KSampler, KSamplerAdvanced, SamplerCustom,
    SamplerCustomAdvanced; not KSamplerSelect or the sampler objects like
    SamplerDPMPP_2M_SDE, which only configure one)."""
    return sum(
        1
        for node in workflow.values()
        if isinstance(node, dict)
        and "Sampler" in str(node.get("class_type", ""))
        and not str(node.get("class_type", "")).endswith(("Select", "Select_"))
    )


def load_path(uploaded: dict) -> str:
    """How LoadImage names an uploaded input: ``subfolder/name``."""
    name, subfolder = uploaded["name"], uploaded["subfolder"]
    return f"{subfolder}/{name}" if subfolder else name


def result_items(entry: dict) -> list[dict]:
    """The ``/view`` parameters of every image in a history entry's outputs."""
    items = []
    outputs = entry.get("outputs")
    for output in outputs.values() if isinstance(outputs, dict) else []:
        images = output.get("images") if isinstance(output, dict) else None
        for item in images if isinstance(images, list) else []:
            if isinstance(item, dict) and item.get("filename"):
                items.append(
                    {
                        "filename": str(item["filename"]),
                        "subfolder": str(item.get("subfolder") or ""),
                        "type": str(item.get("type") or "output"),
                    }
                )
    return items


def lost(name: str, target: BackendTarget) -> BackendUnreachable:
    return BackendUnreachable(
        f"{name} lost the job (it is in neither its queue nor its history: was it restarted?).",
        target.id,
    )


def ws_url(base_url: str, client_id: str) -> str:
    parts = urlsplit(base_url)
    scheme = "wss" if parts.scheme == "https" else "ws"
    path = parts.path.rstrip("/") + "/ws"
    return urlunsplit((scheme, parts.netloc, path, f"clientId={client_id}", ""))


def png(image: InputImage) -> bytes:
    if image.format == "PNG":
        return image.data
    with Image.open(io.BytesIO(image.data)) as source:
        out = io.BytesIO()
        source.convert("RGBA" if "A" in source.getbands() else "RGB").save(out, "PNG")
        return out.getvalue()


def alpha_mask(mask: InputImage) -> bytes:
    """The app's mask (white = change) as ComfyUI's: transparent where it may change."""
    grey = mask_pixels(mask)
    rgba = Image.new("RGBA", grey.size, (0, 0, 0, 255))
    rgba.putalpha(grey.point(lambda value: 255 - value))
    out = io.BytesIO()
    rgba.save(out, "PNG")
    return out.getvalue()


def node_failed(name: str, data: dict) -> ProviderError:
    node = data.get("node_type") or "a node"
    node_id = data.get("node_id")
    where = f"{node} (node {node_id})" if node_id is not None else node
    reason = str(data.get("exception_message") or data.get("exception_type") or "").strip()
    reason = reason.splitlines()[0][:400] if reason else "no reason given"
    return ProviderError(f"{name}: {where} failed: {reason}")


def history_failure(name: str, status: dict) -> ProviderError:
    for message in status.get("messages") or []:
        if isinstance(message, list) and len(message) == 2:
            if message[0] == "execution_error" and isinstance(message[1], dict):
                return node_failed(name, message[1])
            if message[0] == "execution_interrupted":
                return ProviderError(f"{name}: the job was interrupted there.")
    return ProviderError(f"{name}: the workflow failed ({status.get('status_str') or 'error'}).")


def gpu_seconds(entry: dict) -> float | None:
    """Execution time from ComfyUI's own timestamps (ms), when the history has them."""
    stamps = {}
    for message in (entry.get("status") or {}).get("messages") or []:
        if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
            stamp = message[1].get("timestamp")
            if isinstance(stamp, int | float):
                stamps[message[0]] = stamp
    start, end = stamps.get("execution_start"), stamps.get("execution_success")
    if start is None or end is None or end < start:
        return None
    return round((end - start) / 1000.0, 3)
