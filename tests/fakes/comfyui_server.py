"""Fake ComfyUI: the HTTP API and the WebSocket of a team's own ComfyUI server, on one port.

Use::

    with FakeComfyUI() as fake:
        info = httpx.get(fake.base_url + "/object_info/CheckpointLoaderSimple").json()
        ws = websockets.sync.client.connect(fake.ws_url("my-client"))
        r = httpx.post(fake.base_url + "/prompt",
                       json={"prompt": txt2img_workflow(), "client_id": "my-client"})
        # ws: status, execution_start, execution_cached, executing..., progress...,
        #     (one binary preview), executed, executing {node: None}, execution_success
        httpx.get(fake.base_url + "/history/" + r.json()["prompt_id"]).json()

Sources (github comfyanonymous/ComfyUI; the store had several versions, cited by commit):

* ``server.py`` (005f3ba4 and d4b50979): the routes and their answers. ``/ws?clientId=``
  sends ``{"type": "status", "data": {"status": {"exec_info": {"queue_remaining": n}},
  "sid": sid}}`` on connect (and ``executing`` with the last node if that client's prompt
  is running); ``send_json`` frames are ``{"type", "data"}``; binary frames are a 4-byte
  big-endian event type (``PREVIEW_IMAGE = 1``) then a 4-byte image type (1 JPEG, 2 PNG)
  then the image; ``queue_updated`` broadcasts ``status`` to every socket. ``/view``
  (annotated ``name [output]``, ``/``-leading or ``..`` filename -> 400, unknown ``type``
  -> 400, ``subfolder`` escaping the directory -> 403, missing file -> 404),
  ``/upload/image`` (``image_upload``: no file or empty filename -> 400, ``subfolder``
  escaping -> 400, ``overwrite`` "true"/"1", otherwise ``name (1).png`` on collision unless
  the bytes are identical, answer ``{"name", "subfolder", "type"}``), ``/upload/mask``
  (``original_ref`` JSON; the original's pixels with the mask's alpha; when the original
  does not exist nothing is written but the answer is the same - upstream's quirk, kept),
  ``/system_stats``, ``/object_info[/{class}]`` (``node_info``: ``input``, ``input_order``,
  ``output``, ``output_is_list``, ``output_name``, ``name``, ``display_name``,
  ``description``, ``python_module``, ``category``, ``output_node``; unknown class ->
  ``{}``), ``/prompt`` GET and POST, ``/queue`` GET (running and pending as
  ``[number, prompt_id, prompt, extra_data, outputs_to_execute]``) and POST (``clear``,
  ``delete``), ``/interrupt``, ``/history`` GET (``max_items``) and POST, ``/history/{id}``
  (unknown id -> ``{}``); every route also under ``/api``. Unknown routes: aiohttp's
  ``404: Not Found``; an unparseable JSON body where aiohttp calls ``request.json()``: 500.
* POST ``/prompt`` as newer server.py has it (seen in the forks that copy it, e.g.
  ``_queue_prompt_json``): no ``prompt`` -> 400 ``{"error": {"type": "no_prompt", ...},
  "node_errors": {}}``; ``prompt_id`` taken from the body or a uuid4; ``number`` =
  ``float(body["number"])`` or the server counter (negated with ``front``);
  ``partial_execution_targets``; ``extra_data`` + ``client_id`` + ``create_time`` (ms).
* ``execution.py`` (312758816 in the store, and the newer ``validate_prompt`` whose
  unknown/missing class_type error is ``missing_node_type`` with ``extra_info {node_id,
  class_type, node_title}``): ``validate_prompt`` (``prompt_no_outputs``,
  ``prompt_outputs_failed_validation`` with ``details`` = "message: details" lines,
  ``node_errors`` {id: {errors, dependent_outputs, class_type}}, ``exception_during_validation``
  / ``exception_during_inner_validation`` when a link names a missing node or slot),
  ``validate_inputs`` (``required_input_missing``, ``bad_linked_input``,
  ``return_type_mismatch``, ``invalid_input_type`` after INT/FLOAT/STRING/BOOLEAN
  conversion, ``value_smaller_than_min``, ``value_bigger_than_max``, ``value_not_in_list``
  with lists over 20 shown as "(list of length N)", ``custom_validation_failed`` from
  ``VALIDATE_INPUTS`` - which, as upstream, replaces the combo check for LoadImage's
  ``image``: "Invalid image file: x.png"); ``PromptExecutor.add_message`` (every status
  message gets ``timestamp`` in ms and is kept for the history's ``status.messages`` as
  ``[event, data]``), ``execution_start``, ``execution_cached``, ``executing``
  ``{node, display_node, prompt_id}``, ``executed`` ``{node, display_node, output,
  prompt_id}``, ``execution_success``, ``execution_error`` (``prompt_id, node_id,
  node_type, executed, exception_message, exception_type, traceback, current_inputs,
  current_outputs``), ``execution_interrupted`` (broadcast); ``PromptQueue`` (a heap on
  ``number``, ``task_done`` history entries ``{"prompt", "outputs", "status": {status_str,
  completed, messages}, "meta"}``, ``get_history``, ``wipe_queue``, ``delete_queue_item``).
* ``main.py`` ``prompt_worker`` / ``hijack_progress``: after each prompt ``executing``
  ``{"node": None, "prompt_id"}``; ``progress`` ``{"value", "max", "prompt_id", "node"}``
  per sampler step. ``comfy_execution/progress.py`` (02a5b118): ``progress_state``
  ``{"prompt_id", "nodes": {id: {value, max, state, node_id, prompt_id, display_node_id,
  parent_node_id, real_node_id}}}`` broadcast to every socket.
* ``/interrupt`` with ``{"prompt_id"}`` (newer server.py, as forks copy it): interrupt only
  if that prompt is the running one; no body or no id: global interrupt; always 200.
* ``nodes.py`` / ``comfy_extras/nodes_upscale_model.py``: INPUT_TYPES, RETURN_TYPES and
  OUTPUT_NODE of the nodes below; ``comfy/samplers.py`` ``KSAMPLER_NAMES`` /
  ``SAMPLER_NAMES`` / ``SCHEDULER_NAMES``; ``folder_paths.get_save_image_path``
  (``{prefix}_{counter:05}_.png``, a ``/`` in the prefix makes a subfolder).

Not in upstream, chosen here (UNVERIFIED): a non-dict ``prompt`` (or a node that is not an
object) makes upstream's ``validate_prompt`` raise, i.e. aiohttp's 500 text page - the fake
answers that 500 (an empty list/string iterates to nothing: ``prompt_no_outputs``, as
upstream). The auth options model a reverse proxy: 401 ``text/plain`` with
``WWW-Authenticate``. Image pixels are solid colours derived from the KSampler seed.

Constructor: ``FakeComfyUI(checkpoints=CHECKPOINTS, upscale_models=UPSCALE_MODELS,
basic_auth=None, bearer=None, scenario="success", options=None)``. ``fake.ws_url(client_id)``.

Scenarios (``set_scenario(name, **options)``); option ``step_seconds`` (default 0.01, capped
at 5) applies to every scenario:

``success``     default.
``slow``        ``step_seconds`` default 0.2.
``node_error``  the first KSampler/KSamplerAdvanced raises after ``at_step`` steps (default 0):
                ``execution_error`` with ``message`` (default a shape mismatch),
                ``exception_type`` (default ``RuntimeError``); history status_str "error".
``no_ws``       ``/ws`` answers 404 (a client must poll ``/history``).

Lifecycle: ``die()`` closes the listening socket and every connection at once, and loses the
queue, the running prompt and the history; ``come_back()`` listens again on the same port
(files under input/output stay, as on a restarted server's disk). Inspection: ``.prompts``
(every POST /prompt body), ``.accepted`` (prompt ids queued), ``.uploads``, ``.interrupts``
(``{"prompt_id", "applied"}``), ``.queue_deletes``, ``.history``, ``.files`` (``{(type,
subfolder, name): bytes}``), ``.ws_clients`` (connected client ids), ``add_input_image``.

Workflow helpers (API format, ComfyUI's default node ids): ``txt2img_workflow(ckpt=, seed=,
steps=, width=, height=, batch_size=, text=, prefix=)`` (SaveImage is node "9", KSampler "3")
and ``img2img_workflow(image, seed=, steps=, scale_by=None, upscale_model=None)``.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import heapq
import io
import json
import posixpath
import random
import re
import socket
import struct
import sys
import threading
import time
import traceback
import uuid
from email import policy
from email.parser import BytesParser

from PIL import Image

from .base import FakeServer, Req, Resp, make_image

CHECKPOINTS = ["sd_xl_base_1.0.safetensors", "v1-5-pruned-emaonly.safetensors"]
UPSCALE_MODELS = ["RealESRGAN_x4plus.pth", "RealESRGAN_x2plus.pth"]
MAX_RESOLUTION = 16384  # nodes.py
SEED_MAX = 0xFFFFFFFFFFFFFFFF
KSAMPLER_NAMES = [
    "euler", "euler_cfg_pp", "euler_ancestral", "euler_ancestral_cfg_pp", "heun", "heunpp2",
    "dpm_2", "dpm_2_ancestral", "lms", "dpm_fast", "dpm_adaptive", "dpmpp_2s_ancestral",
    "dpmpp_2s_ancestral_cfg_pp", "dpmpp_sde", "dpmpp_sde_gpu", "dpmpp_2m", "dpmpp_2m_cfg_pp",
    "dpmpp_2m_sde", "dpmpp_2m_sde_gpu", "dpmpp_3m_sde", "dpmpp_3m_sde_gpu", "ddpm", "lcm",
    "ipndm", "ipndm_v", "deis", "res_multistep", "res_multistep_cfg_pp",
    "res_multistep_ancestral", "res_multistep_ancestral_cfg_pp", "gradient_estimation",
    "gradient_estimation_cfg_pp", "er_sde", "seeds_2", "seeds_3",
]  # fmt: skip
SAMPLER_NAMES = KSAMPLER_NAMES + ["ddim", "uni_pc", "uni_pc_bh2"]
SCHEDULER_NAMES = [
    "simple", "sgm_uniform", "karras", "exponential", "ddim_uniform", "beta", "normal",
    "linear_quadratic", "kl_optimal",
]  # fmt: skip
UPSCALE_METHODS = ["nearest-exact", "bilinear", "area", "bicubic", "lanczos"]
SAMPLERS = ("KSampler", "KSamplerAdvanced")
AIOHTTP_500 = b"500 Internal Server Error\n\nServer got itself in trouble"
PREVIEW_IMAGE = 1  # server.py BinaryEventTypes
DIR_TYPES = ("input", "output", "temp")


def _int(default, lo, hi, step=1, **extra):
    return ("INT", {"default": default, "min": lo, "max": hi, "step": step, **extra})


def _float(default, lo, hi, step, **extra):
    return ("FLOAT", {"default": default, "min": lo, "max": hi, "step": step, **extra})


class Node:
    """One node class as nodes.py declares it (INPUT_TYPES is computed, combos change)."""

    def __init__(self, name, display, category, inputs, outputs, *, output_node=False,
                 output_names=None, validate=None, description=""):  # fmt: skip
        self.name, self.display, self.category = name, display, category
        self._inputs = inputs  # callable(fake) -> {"required": {...}, "optional": ...}
        self.outputs = tuple(outputs)
        self.output_names = tuple(output_names or outputs)
        self.output_node = output_node
        self.validate = validate  # (input name, fn(fake, value) -> True | str)
        self.description = description

    def input_types(self, fake) -> dict:
        return self._inputs(fake)

    def info(self, fake) -> dict:
        inputs = self.input_types(fake)
        return {
            "input": inputs,
            "input_order": {k: list(v) for k, v in inputs.items()},
            "output": list(self.outputs),
            "output_is_list": [False] * len(self.outputs),
            "output_name": list(self.output_names),
            "name": self.name,
            "display_name": self.display,
            "description": self.description,
            "python_module": "comfy_extras.nodes_upscale_model"
            if "Upscale" in self.name and "Model" in self.name
            else "nodes",
            "category": self.category,
            "output_node": self.output_node,
        }


def _image_file_valid(fake, image) -> bool | str:
    """LoadImage.VALIDATE_INPUTS: folder_paths.exists_annotated_filepath(image)."""
    if not fake._input_exists(str(image)):
        return f"Invalid image file: {image}"
    return True


def _node_table() -> dict[str, Node]:
    ckpt = lambda f: {"required": {"ckpt_name": (list(f.checkpoints), {})}}  # noqa: E731
    sampler_common = {
        "cfg": _float(8.0, 0.0, 100.0, 0.1, round=0.01),
        "sampler_name": (SAMPLER_NAMES, {}),
        "scheduler": (SCHEDULER_NAMES, {}),
        "positive": ("CONDITIONING", {}),
        "negative": ("CONDITIONING", {}),
        "latent_image": ("LATENT", {}),
    }
    ksampler = {
        "required": {
            "model": ("MODEL", {}),
            "seed": _int(0, 0, SEED_MAX, control_after_generate=True),
            "steps": _int(20, 1, 10000),
            **sampler_common,
            "denoise": _float(1.0, 0.0, 1.0, 0.01),
        }
    }
    ksampler_adv = {
        "required": {
            "model": ("MODEL", {}),
            "add_noise": (["enable", "disable"], {}),
            "noise_seed": _int(0, 0, SEED_MAX, control_after_generate=True),
            "steps": _int(20, 1, 10000),
            **sampler_common,
            "start_at_step": _int(0, 0, 10000),
            "end_at_step": _int(10000, 0, 10000),
            "return_with_leftover_noise": (["disable", "enable"], {}),
        }
    }
    pad = _int(0, 0, MAX_RESOLUTION, 8)
    nodes = [
        Node("CheckpointLoaderSimple", "Load Checkpoint", "loaders", ckpt,
             ["MODEL", "CLIP", "VAE"]),
        Node("CLIPTextEncode", "CLIP Text Encode (Prompt)", "conditioning",
             lambda f: {"required": {"text": ("STRING", {"multiline": True,
                                                         "dynamicPrompts": True}),
                                     "clip": ("CLIP", {})}},
             ["CONDITIONING"]),
        Node("KSampler", "KSampler", "sampling", lambda f: ksampler, ["LATENT"]),
        Node("KSamplerAdvanced", "KSampler (Advanced)", "sampling", lambda f: ksampler_adv,
             ["LATENT"]),
        Node("EmptyLatentImage", "Empty Latent Image", "latent",
             lambda f: {"required": {"width": _int(512, 16, MAX_RESOLUTION, 8),
                                     "height": _int(512, 16, MAX_RESOLUTION, 8),
                                     "batch_size": _int(1, 1, 4096)}},
             ["LATENT"]),
        Node("VAEDecode", "VAE Decode", "latent",
             lambda f: {"required": {"samples": ("LATENT", {}), "vae": ("VAE", {})}},
             ["IMAGE"]),
        Node("VAEEncode", "VAE Encode", "latent",
             lambda f: {"required": {"pixels": ("IMAGE", {}), "vae": ("VAE", {})}},
             ["LATENT"]),
        Node("VAEEncodeForInpaint", "VAE Encode (for Inpainting)", "latent/inpaint",
             lambda f: {"required": {"pixels": ("IMAGE", {}), "vae": ("VAE", {}),
                                     "mask": ("MASK", {}),
                                     "grow_mask_by": _int(6, 0, 64)}},
             ["LATENT"]),
        Node("SetLatentNoiseMask", "Set Latent Noise Mask", "latent/inpaint",
             lambda f: {"required": {"samples": ("LATENT", {}), "mask": ("MASK", {})}},
             ["LATENT"]),
        Node("SaveImage", "Save Image", "image",
             lambda f: {"required": {"images": ("IMAGE", {}),
                                     "filename_prefix": ("STRING", {"default": "ComfyUI"})},
                        "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}},
             [], output_node=True, description="Saves the input images to your ComfyUI "
             "output directory."),
        Node("PreviewImage", "Preview Image", "image",
             lambda f: {"required": {"images": ("IMAGE", {})},
                        "hidden": {"prompt": "PROMPT", "extra_pnginfo": "EXTRA_PNGINFO"}},
             [], output_node=True),
        Node("LoadImage", "Load Image", "image",
             lambda f: {"required": {"image": (f._input_choices(), {"image_upload": True})}},
             ["IMAGE", "MASK"], validate=("image", _image_file_valid)),
        Node("LoadImageMask", "Load Image (as Mask)", "mask",
             lambda f: {"required": {"image": (f._input_choices(), {"image_upload": True}),
                                     "channel": (["alpha", "red", "green", "blue"], {})}},
             ["MASK"], validate=("image", _image_file_valid)),
        Node("ImageScaleBy", "Upscale Image By", "image/upscaling",
             lambda f: {"required": {"image": ("IMAGE", {}),
                                     "upscale_method": (UPSCALE_METHODS, {}),
                                     "scale_by": _float(1.0, 0.01, 8.0, 0.01)}},
             ["IMAGE"]),
        Node("UpscaleModelLoader", "Load Upscale Model", "loaders",
             lambda f: {"required": {"model_name": (list(f.upscale_models), {})}},
             ["UPSCALE_MODEL"]),
        Node("ImageUpscaleWithModel", "Upscale Image (using Model)", "image/upscaling",
             lambda f: {"required": {"upscale_model": ("UPSCALE_MODEL", {}),
                                     "image": ("IMAGE", {})}},
             ["IMAGE"]),
        Node("ImagePadForOutpaint", "Pad Image for Outpainting", "image",
             lambda f: {"required": {"image": ("IMAGE", {}), "left": pad, "top": pad,
                                     "right": pad, "bottom": pad,
                                     "feathering": _int(40, 0, MAX_RESOLUTION)}},
             ["IMAGE", "MASK"]),
    ]  # fmt: skip
    return {n.name: n for n in nodes}


NODES = _node_table()


def _type_ok(received, wanted) -> bool:
    """comfy_execution/validation.py validate_node_input (strict mode): "*" and unions."""
    if received == wanted or received == "*" or wanted == "*":
        return True
    if not isinstance(received, str) or not isinstance(wanted, str):
        return False
    return bool(set(received.split(",")) & set(wanted.split(",")))


class _Interrupted(Exception):
    pass


class _Lost(Exception):
    """The server died (or was reset) while this prompt ran: nothing more is sent."""


class _SamplerError(Exception):
    pass


class _Socket:
    def __init__(self, sid: str, conn: socket.socket):
        self.sid, self.conn, self.lock = sid, conn, threading.Lock()

    def send(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        if n < 126:
            head = struct.pack(">BB", 0x80 | opcode, n)
        elif n < 65536:
            head = struct.pack(">BBH", 0x80 | opcode, 126, n)
        else:
            head = struct.pack(">BBQ", 0x80 | opcode, 127, n)
        # send_socket_catch_exception: a failed send is logged and ignored upstream
        with self.lock, contextlib.suppress(OSError):
            self.conn.sendall(head + payload)


def _read_exact(rfile, n: int) -> bytes:
    data = rfile.read(n) if n else b""
    if len(data) < n:
        raise ConnectionError("socket closed")
    return data


class FakeComfyUI(FakeServer):
    def __init__(self, *, checkpoints=None, upscale_models=None, basic_auth=None, bearer=None,
                 **kw):  # fmt: skip
        self.checkpoints = list(checkpoints or CHECKPOINTS)
        self.upscale_models = list(upscale_models or UPSCALE_MODELS)
        self.basic_auth = basic_auth
        self.bearer = bearer
        self._cond = threading.Condition(threading.RLock())
        self._gen = 0
        self._worker: threading.Thread | None = None
        self._worker_stop = threading.Event()
        self._interrupt = threading.Event()
        self._port = 0
        self._sockets: dict[str, _Socket] = {}
        self._disk: dict[tuple, bytes] = {}
        super().__init__(**kw)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeComfyUI:
        super().start()
        self._worker_stop = threading.Event()
        self._worker = threading.Thread(
            target=self._work, args=(self._worker_stop,), daemon=True, name="fake-comfy-worker"
        )
        self._worker.start()
        return self

    def stop(self) -> None:
        self._worker_stop.set()
        with self._cond:
            self._gen += 1
            self._cond.notify_all()
        with self._lock:
            self._sockets.clear()
        super().stop()
        if self._worker:
            self._worker.join(timeout=5)
            self._worker = None

    def die(self) -> None:
        """Stop answering at once; the queue, the running prompt and the history are lost."""
        self.stop()
        with self._cond:
            self._queue, self._running, self._history = [], {}, {}
            self._number = 0

    def come_back(self) -> FakeComfyUI:
        """Listen again on the same port: an empty queue and history (a restarted ComfyUI)."""
        return self.start()

    def ws_url(self, client_id: str = "") -> str:
        url = "ws" + self.base_url[len("http") :] + "/ws"
        return f"{url}?clientId={client_id}" if client_id else url

    # ----------------------------------------------------------------- state
    def _reset_state(self) -> None:
        with self._cond:
            self._gen += 1
            self._queue: list[tuple] = []
            self._running: dict[int, tuple] = {}
            self._history: dict[str, dict] = {}
            self._number = 0
            self._task_counter = 0
            self._last_node: tuple | None = None  # (client_id, node_id)
            self._prompts: list = []
            self._accepted: list[str] = []
            self._uploads: list[dict] = []
            self._interrupts: list[dict] = []
            self._queue_deletes: list = []
            self._disk = {}
            self._cond.notify_all()

    def _copy(self, attr):
        with self._cond:
            return copy.deepcopy(getattr(self, attr))

    prompts = property(lambda self: self._copy("_prompts"), doc="every POST /prompt body")
    accepted = property(lambda self: self._copy("_accepted"), doc="prompt ids queued")
    uploads = property(lambda self: self._copy("_uploads"), doc="upload answers + form")
    interrupts = property(lambda self: self._copy("_interrupts"))
    queue_deletes = property(lambda self: self._copy("_queue_deletes"))
    history = property(lambda self: self._copy("_history"))
    files = property(lambda self: self._copy("_disk"), doc="{(type, subfolder, name): bytes}")

    @property
    def ws_clients(self) -> list[str]:
        with self._lock:
            return list(self._sockets)

    def add_input_image(self, name: str, data: bytes, subfolder: str = "") -> None:
        """Put a file in the input directory (as if uploaded earlier)."""
        with self._cond:
            self._disk[("input", subfolder, name)] = data

    # folder_paths: LoadImage lists the input directory's top-level files
    def _input_choices(self) -> list[str]:
        with self._cond:
            return sorted(n for (t, sub, n) in self._disk if t == "input" and sub == "")

    def _input_exists(self, image: str) -> bool:
        name, typ = _annotated(image)
        sub, _, base = name.rpartition("/") if "/" in name else ("", "", name)
        with self._cond:
            return (typ or "input", sub, base) in self._disk

    # ----------------------------------------------------------------- serving
    def _serve(self, h, req: Req) -> None:
        path = req.path[4:] if req.path.startswith("/api/") else req.path
        if not self._authorized(req):
            with self._lock:
                self._requests.append({"method": req.method, "path": req.path,
                                       "query": req.query, "headers": req.headers,
                                       "json": req.json, "body": req.body,
                                       "time": time.time()})  # fmt: skip
            scheme = "Basic" if self.basic_auth else "Bearer"
            self._write(h, Resp(401, b"401 Unauthorized", {"WWW-Authenticate":
                                f'{scheme} realm="ComfyUI"'}, "text/plain"))  # fmt: skip
            return
        if path == "/ws" and req.method == "GET" and self.scenario != "no_ws":
            with self._lock:
                self._requests.append({"method": "GET", "path": req.path, "query": req.query,
                                       "headers": req.headers, "json": None, "body": b"",
                                       "time": time.time()})  # fmt: skip
            self._websocket(h, req)
            return
        super()._serve(h, req)

    def _authorized(self, req: Req) -> bool:
        got = req.headers.get("authorization", "")
        if self.basic_auth:
            want = base64.b64encode(":".join(self.basic_auth).encode()).decode()
            return got == f"Basic {want}"
        if self.bearer:
            return got == f"Bearer {self.bearer}"
        return True

    def handle_api(self, req: Req) -> Resp:
        path = req.path[4:] if req.path.startswith("/api/") else req.path
        parts = [p for p in path.split("/") if p]
        m = req.method
        routes = {
            ("GET", "/system_stats"): self._system_stats,
            ("GET", "/object_info"): lambda r: Resp(200, {n: NODES[n].info(self) for n in NODES}),
            ("GET", "/prompt"): lambda r: Resp(200, self._queue_info()),
            ("POST", "/prompt"): self._post_prompt,
            ("GET", "/queue"): self._get_queue,
            ("POST", "/queue"): self._post_queue,
            ("POST", "/interrupt"): self._post_interrupt,
            ("GET", "/history"): self._get_history,
            ("POST", "/history"): self._post_history,
            ("GET", "/view"): self._view,
            ("POST", "/upload/image"): lambda r: self._upload(r, mask=False),
            ("POST", "/upload/mask"): lambda r: self._upload(r, mask=True),
        }
        if (m, path) in routes:
            return routes[(m, path)](req)
        if m == "GET" and len(parts) == 2 and parts[0] == "object_info":
            node = NODES.get(parts[1])
            return Resp(200, {parts[1]: node.info(self)} if node else {})
        if m == "GET" and len(parts) == 2 and parts[0] == "history":
            return Resp(200, self._history_of(parts[1]))
        if any(path == p for (_, p) in routes):
            return Resp(405, b"405: Method Not Allowed", content_type="text/plain")
        return Resp(404, b"404: Not Found", content_type="text/plain")

    @staticmethod
    def _json_body(req: Req):
        """aiohttp ``await request.json()``: an unparseable body raises -> 500."""
        try:
            return json.loads(req.body or b"")
        except ValueError:
            return _CRASH

    # ----------------------------------------------------------------- simple routes
    def _system_stats(self, req: Req) -> Resp:
        gib = 1024**3
        return Resp(200, {
            "system": {
                "os": "posix", "ram_total": 64 * gib, "ram_free": 48 * gib,
                "comfyui_version": "0.3.60", "python_version": sys.version,
                "pytorch_version": "2.8.0+cu128", "embedded_python": False,
                "argv": ["main.py", "--listen", "127.0.0.1"],
            },
            "devices": [{
                "name": "cuda:0 NVIDIA GeForce RTX 4090 : cudaMallocAsync", "type": "cuda",
                "index": 0, "vram_total": 24 * gib, "vram_free": 22 * gib,
                "torch_vram_total": 2 * gib, "torch_vram_free": gib,
            }],
        })  # fmt: skip

    def _queue_info(self) -> dict:
        with self._cond:
            return {"exec_info": {"queue_remaining": len(self._queue) + len(self._running)}}

    def _get_queue(self, req: Req) -> Resp:
        with self._cond:
            running = [list(x[:5]) for x in self._running.values()]
            pending = [list(x[:5]) for x in self._queue]
            return Resp(200, copy.deepcopy({"queue_running": running, "queue_pending": pending}))

    def _post_queue(self, req: Req) -> Resp:
        data = self._json_body(req)
        if data is _CRASH or not isinstance(data, dict):
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        with self._cond:
            if data.get("clear"):
                self._queue = []
                self._queue_deletes.append({"clear": True})
            for pid in data.get("delete", []) if "delete" in data else []:
                # delete_queue_item: the first pending item with that id (never the running one)
                hit = next((i for i, x in enumerate(self._queue) if x[1] == pid), None)
                if hit is not None:
                    self._queue.pop(hit)
                    heapq.heapify(self._queue)
                self._queue_deletes.append({"delete": pid, "removed": hit is not None})
        self._queue_updated()
        return Resp(200, b"", content_type="application/octet-stream")

    def _post_interrupt(self, req: Req) -> Resp:
        data = self._json_body(req)
        data = data if isinstance(data, dict) else {}
        pid = data.get("prompt_id")
        with self._cond:
            running = [x[1] for x in self._running.values()]
            applied = (pid in running) if pid else True
            self._interrupts.append({"prompt_id": pid, "applied": applied})
        if applied:
            self._interrupt.set()
        return Resp(200, b"", content_type="application/octet-stream")

    def _get_history(self, req: Req) -> Resp:
        max_items = req.query.get("max_items")
        try:
            max_items = int(max_items) if max_items is not None else None
        except ValueError:
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        with self._cond:
            items = list(self._history.items())
            if max_items is not None:
                items = items[max(0, len(items) - max_items) :][:max_items]
            return Resp(200, copy.deepcopy(dict(items)))

    def _history_of(self, prompt_id: str) -> dict:
        with self._cond:
            entry = self._history.get(prompt_id)
            return {prompt_id: copy.deepcopy(entry)} if entry is not None else {}

    def _post_history(self, req: Req) -> Resp:
        data = self._json_body(req)
        if data is _CRASH or not isinstance(data, dict):
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        with self._cond:
            if data.get("clear"):
                self._history = {}
            for pid in data.get("delete", []):
                self._history.pop(pid, None)
        return Resp(200, b"", content_type="application/octet-stream")

    # ----------------------------------------------------------------- files
    def _view(self, req: Req) -> Resp:
        q = req.query
        if "filename" not in q:
            return Resp(404, b"404: Not Found", content_type="text/plain")
        filename, typ = _annotated(q["filename"])
        if not filename:
            return Resp(500, AIOHTTP_500, content_type="text/plain")  # filename[0] IndexError
        if filename[0] == "/" or ".." in filename:
            return Resp(400, b"", content_type="application/octet-stream")
        typ = typ or q.get("type", "output")
        if typ not in DIR_TYPES:
            return Resp(400, b"", content_type="application/octet-stream")
        sub = ""
        if "subfolder" in q:
            sub = _inside(q["subfolder"])
            if sub is None:
                return Resp(403, b"", content_type="application/octet-stream")
        base = posixpath.basename(filename)  # upstream keeps only the basename
        with self._cond:
            data = self._disk.get((typ, sub, base))
        if data is None:
            return Resp(404, b"404: Not Found", content_type="text/plain")
        return Resp(200, data, {"Content-Disposition": f'filename="{base}"'}, _mime(base))

    def _upload(self, req: Req, mask: bool) -> Resp:
        form = _multipart(req)
        if form is None:
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        image = form.get("image")
        typ = form.get("type", (None, None))[1]
        typ = (typ.decode() if isinstance(typ, bytes) else typ) or "input"
        if typ not in DIR_TYPES:
            return Resp(500, AIOHTTP_500, content_type="text/plain")  # get_dir_by_type
        if not image or image[0] is None:
            return Resp(400, b"", content_type="application/octet-stream")
        filename, data = image
        if not filename:
            return Resp(400, b"", content_type="application/octet-stream")
        sub_raw = _text(form, "subfolder", "")
        sub = _inside(sub_raw)
        if sub is None or "/" in filename or filename in (".", ".."):
            # the commonpath check refuses an escape; a "/" in the name is refused here too
            return Resp(400, b"", content_type="application/octet-stream")
        overwrite = _text(form, "overwrite", None)
        stem, dot, ext = filename.rpartition(".")
        stem, ext = (stem, dot + ext) if dot else (filename, "")
        with self._cond:
            duplicate = False
            if overwrite not in ("true", "1"):
                i = 1
                while (typ, sub, filename) in self._disk:
                    if hashlib.sha256(self._disk[(typ, sub, filename)]).digest() == \
                            hashlib.sha256(data).digest():  # fmt: skip
                        duplicate = True
                        break
                    filename = f"{stem} ({i}){ext}"
                    i += 1
            if not duplicate:
                if mask:
                    merged = self._merge_mask(form, data)
                    if merged is _CRASH:
                        return Resp(500, AIOHTTP_500, content_type="text/plain")
                    if merged is not None:
                        self._disk[(typ, sub, filename)] = merged
                else:
                    self._disk[(typ, sub, filename)] = data
            answer = {"name": filename, "subfolder": sub_raw, "type": typ}
            self._uploads.append({**answer, "mask": mask, "duplicate": duplicate,
                                  "size": len(data)})  # fmt: skip
        return Resp(200, answer)

    def _merge_mask(self, form, mask_data: bytes):
        """server.py upload_mask image_save_function: the original with the mask's alpha."""
        try:
            ref = json.loads(_text(form, "original_ref", None))
            filename, typ = _annotated(ref["filename"])
        except (TypeError, ValueError, KeyError):
            return _CRASH
        if filename[:1] == "/" or ".." in filename:
            return None  # its `return web.Response(400)` is ignored upstream: nothing written
        typ = typ or ref.get("type", "output")
        if typ not in DIR_TYPES:
            return None
        sub = _inside(ref.get("subfolder", "")) if ref.get("subfolder", "") != "" else ""
        if sub is None:
            return None
        original = self._disk.get((typ, sub, filename))
        if original is None:
            return None
        try:
            with Image.open(io.BytesIO(original)) as orig:
                rgba = orig.convert("RGBA")
            alpha = Image.open(io.BytesIO(mask_data)).convert("RGBA").getchannel("A")
            rgba.putalpha(alpha)
        except (ValueError, OSError):
            return _CRASH
        buf = io.BytesIO()
        rgba.save(buf, format="PNG", compress_level=4)
        return buf.getvalue()

    # ----------------------------------------------------------------- /prompt
    def _post_prompt(self, req: Req) -> Resp:
        body = self._json_body(req)
        with self._cond:
            self._prompts.append(copy.deepcopy(body) if body is not _CRASH else None)
        if body is _CRASH or not isinstance(body, dict):
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        with self._cond:
            if "number" in body:
                try:
                    number = float(body["number"])
                except (TypeError, ValueError):
                    return Resp(500, AIOHTTP_500, content_type="text/plain")
            else:
                number = -self._number if body.get("front") else self._number
                self._number += 1
        if "prompt" not in body:
            error = {"type": "no_prompt", "message": "No prompt provided",
                     "details": "No prompt provided", "extra_info": {}}  # fmt: skip
            return Resp(400, {"error": error, "node_errors": {}})
        prompt = body["prompt"]
        prompt_id = str(body.get("prompt_id", uuid.uuid4()))
        if not isinstance(prompt, dict):
            if prompt in ([], ""):  # iterates to nothing: no outputs
                return Resp(400, {"error": _no_outputs(), "node_errors": {}})
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        if any(not isinstance(n, dict) for n in prompt.values()):
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        ok, error, outputs, node_errors = self.validate_prompt(
            prompt, body.get("partial_execution_targets")
        )
        if not ok:
            return Resp(400, {"error": error, "node_errors": node_errors})
        extra = body.get("extra_data", {})
        if not isinstance(extra, dict):
            return Resp(500, AIOHTTP_500, content_type="text/plain")
        extra = dict(extra)
        if "client_id" in body:
            extra["client_id"] = body["client_id"]
        sensitive = {k: extra.pop(k) for k in ("auth_token_comfy_org", "api_key_comfy_org")
                     if k in extra}  # fmt: skip
        extra["create_time"] = int(time.time() * 1000)
        item = (number, prompt_id, copy.deepcopy(prompt), extra, outputs, sensitive)
        with self._cond:
            heapq.heappush(self._queue, item)
            self._accepted.append(prompt_id)
            self._cond.notify_all()
        self._queue_updated()
        return Resp(200, {"prompt_id": prompt_id, "number": number, "node_errors": node_errors})

    def validate_prompt(self, prompt: dict, partial=None):
        """execution.validate_prompt: (ok, error, good_outputs, node_errors)."""
        outputs = []
        for x, node in prompt.items():
            title = (node.get("_meta") or {}).get("title") if isinstance(
                node.get("_meta"), dict) else None  # fmt: skip
            if "class_type" not in node:
                return (False, {
                    "type": "missing_node_type",
                    "message": f"Node '{title or f'ID #{x}'}' has no class_type. The workflow "
                    "may be corrupted or a custom node is missing.",
                    "details": f"Node ID '#{x}'",
                    "extra_info": {"node_id": x, "class_type": None, "node_title": title},
                }, [], {})  # fmt: skip
            cls = NODES.get(node["class_type"]) if isinstance(node["class_type"], str) else None
            if cls is None:
                title = title or node["class_type"]
                return (False, {
                    "type": "missing_node_type",
                    "message": f"Node '{title}' not found. The custom node may not be installed.",
                    "details": f"Node ID '#{x}'",
                    "extra_info": {"node_id": x, "class_type": node["class_type"],
                                   "node_title": title},
                }, [], {})  # fmt: skip
            if cls.output_node and (partial is None or x in partial):
                outputs.append(x)
        if not outputs:
            return (False, _no_outputs(), [], {})
        good, errors, node_errors, validated = [], [], {}, {}
        for o in sorted(outputs):
            try:
                valid, reasons = self._validate_inputs(prompt, o, validated)[:2]
            except Exception as ex:  # noqa: BLE001 - validate_prompt catches everything
                valid = False
                reasons = [
                    {
                        "type": "exception_during_validation",
                        "message": "Exception when validating node",
                        "details": str(ex),
                        "extra_info": {
                            "exception_type": _type_name(ex),
                            "traceback": traceback.format_tb(ex.__traceback__),
                        },
                    }
                ]
                validated[o] = (False, reasons, o)  # fmt: skip
            if valid is True:
                good.append(o)
                continue
            errors.append((o, reasons))
            for node_id, result in validated.items():
                if result[0] is not True and result[1]:
                    node_errors.setdefault(
                        node_id,
                        {
                            "errors": result[1],
                            "dependent_outputs": [],
                            "class_type": prompt[node_id]["class_type"],
                        },
                    )
                    node_errors[node_id]["dependent_outputs"].append(o)  # fmt: skip
        if not good:
            lines = [f"{e['message']}: {e['details']}" for _, rs in errors for e in rs]
            return (
                False,
                {
                    "type": "prompt_outputs_failed_validation",
                    "message": "Prompt outputs failed validation",
                    "details": "\n".join(lines),
                    "extra_info": {},
                },
                [],
                node_errors,
            )
        return (True, None, good, node_errors)

    def _validate_inputs(self, prompt, unique_id, validated):
        """execution.validate_inputs for one node (recursing into its links)."""
        if unique_id in validated:
            return validated[unique_id]
        inputs = prompt[unique_id]["inputs"]
        cls = NODES[prompt[unique_id]["class_type"]]
        types = cls.input_types(self)
        specs = {**types.get("required", {}), **types.get("optional", {})}
        required = types.get("required", {})
        vname, vfn = cls.validate or (None, None)
        errors, valid = [], True
        for x, (input_type, extra) in specs.items():
            if x not in inputs:
                if x in required:
                    errors.append({"type": "required_input_missing",
                                   "message": "Required input is missing", "details": f"{x}",
                                   "extra_info": {"input_name": x}})  # fmt: skip
                continue
            val = inputs[x]
            info = [input_type, extra]
            if isinstance(val, list):
                if len(val) != 2:
                    errors.append({"type": "bad_linked_input", "message": "Bad linked input, "
                                   "must be a length-2 list of [node_id, slot_index]",
                                   "details": f"{x}", "extra_info": {"input_name": x,
                                   "input_config": info, "received_value": val}})  # fmt: skip
                    continue
                o_id = val[0]
                received = NODES[prompt[o_id]["class_type"]].outputs[val[1]]
                if not _type_ok(received, input_type):
                    errors.append({
                        "type": "return_type_mismatch",
                        "message": "Return type mismatch between linked nodes",
                        "details": f"{x}, received_type({received}) mismatch "
                        f"input_type({input_type})",
                        "extra_info": {"input_name": x, "input_config": info,
                                       "received_type": received, "linked_node": val},
                    })  # fmt: skip
                    continue
                try:
                    if self._validate_inputs(prompt, o_id, validated)[0] is False:
                        valid = False
                        continue
                except Exception as ex:  # noqa: BLE001 - as upstream
                    valid = False
                    validated[o_id] = (False, [{
                        "type": "exception_during_inner_validation",
                        "message": "Exception when validating inner node", "details": str(ex),
                        "extra_info": {"input_name": x, "input_config": info,
                                       "exception_message": str(ex),
                                       "exception_type": _type_name(ex),
                                       "traceback": traceback.format_tb(ex.__traceback__),
                                       "linked_node": val},
                    }], o_id)  # fmt: skip
                    continue
                continue
            if isinstance(val, dict) and "__value__" in val:
                val = val["__value__"]
            try:
                conv = {"INT": int, "FLOAT": float, "STRING": str, "BOOLEAN": bool}
                if isinstance(input_type, str) and input_type in conv:
                    val = conv[input_type](val)
            except Exception as ex:  # noqa: BLE001 - as upstream
                errors.append({"type": "invalid_input_type",
                               "message": f"Failed to convert an input value to a {input_type} "
                               "value", "details": f"{x}, {val}, {ex}",
                               "extra_info": {"input_name": x, "input_config": info,
                                              "received_value": val,
                                              "exception_message": str(ex)}})  # fmt: skip
                continue
            inputs[x] = val
            if x == vname:
                continue  # VALIDATE_INPUTS takes this input: no min/max/combo check
            if "min" in extra and val < extra["min"]:
                errors.append({"type": "value_smaller_than_min",
                               "message": f"Value {val} smaller than min of {extra['min']}",
                               "details": f"{x}", "extra_info": {"input_name": x,
                               "input_config": info, "received_value": val}})  # fmt: skip
                continue
            if "max" in extra and val > extra["max"]:
                errors.append({"type": "value_bigger_than_max",
                               "message": f"Value {val} bigger than max of {extra['max']}",
                               "details": f"{x}", "extra_info": {"input_name": x,
                               "input_config": info, "received_value": val}})  # fmt: skip
                continue
            if isinstance(input_type, list) and val not in input_type:
                big = len(input_type) > 20
                listed = f"(list of length {len(input_type)})" if big else str(input_type)
                errors.append({"type": "value_not_in_list", "message": "Value not in list",
                               "details": f"{x}: '{val}' not in {listed}",
                               "extra_info": {"input_name": x,
                                              "input_config": None if big else info,
                                              "received_value": val}})  # fmt: skip
                continue
        if vname and vname in inputs and not isinstance(inputs[vname], list):
            r = vfn(self, inputs[vname])
            if r is not True:
                details = vname + ("" if r is False else f" - {r}")
                errors.append(
                    {
                        "type": "custom_validation_failed",
                        "message": "Custom validation failed for node",
                        "details": details,
                        "extra_info": {"input_name": vname},
                    }
                )
        ret = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
        validated[unique_id] = ret
        return ret

    # ----------------------------------------------------------------- websocket
    def _websocket(self, h, req: Req) -> None:
        key = req.headers.get("sec-websocket-key", "")
        if (
            req.headers.get("upgrade", "").lower() != "websocket"
            or "upgrade" not in req.headers.get("connection", "").lower()
            or not key
            or req.headers.get("sec-websocket-version") != "13"
        ):
            msg = b'No WebSocket UPGRADE hdr: None\n Can "Upgrade" only to "WebSocket".'
            self._write(h, Resp(400, msg, content_type="text/plain"))
            return
        accept = base64.b64encode(
            hashlib.sha1((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()
        ).decode()
        h.send_response(101)
        h.send_header("Upgrade", "websocket")
        h.send_header("Connection", "upgrade")
        h.send_header("Sec-WebSocket-Accept", accept)
        h.end_headers()
        h.wfile.flush()
        h.close_connection = True
        sid = req.query.get("clientId", "") or uuid.uuid4().hex
        sock = _Socket(sid, h.connection)
        with self._lock:
            self._sockets[sid] = sock
        try:
            self._send_to(sock, "status", {"status": self._queue_info(), "sid": sid})
            with self._cond:
                last = self._last_node
            if last and last[0] == sid:
                self._send_to(sock, "executing", {"node": last[1]})
            self._ws_read_loop(h, sock)
        finally:
            with self._lock:
                if self._sockets.get(sid) is sock:
                    del self._sockets[sid]

    def _ws_read_loop(self, h, sock: _Socket) -> None:
        try:
            while not self._stopping.is_set():
                b1, b2 = _read_exact(h.rfile, 2)
                opcode, masked, n = b1 & 0x0F, b2 & 0x80, b2 & 0x7F
                if n == 126:
                    n = struct.unpack(">H", _read_exact(h.rfile, 2))[0]
                elif n == 127:
                    n = struct.unpack(">Q", _read_exact(h.rfile, 8))[0]
                if not masked:  # RFC 6455 5.1: a server closes on an unmasked client frame
                    sock.send(0x8, struct.pack(">H", 1002))
                    return
                mask = _read_exact(h.rfile, 4)
                data = bytes(c ^ mask[i % 4] for i, c in enumerate(_read_exact(h.rfile, n)))
                if opcode == 0x8:
                    sock.send(0x8, data[:2] if len(data) >= 2 else b"")
                    return
                if opcode == 0x9:
                    sock.send(0xA, data)
        except (ConnectionError, OSError, ValueError):
            return

    def _send_to(self, sock: _Socket, event, data) -> None:
        sock.send(0x1, json.dumps({"type": event, "data": data}).encode())

    def send(self, event, data, sid=None) -> None:
        """PromptServer.send_json / send_bytes: to ``sid`` if connected, or to everyone."""
        with self._lock:
            targets = list(self._sockets.values()) if sid is None else (
                [self._sockets[sid]] if sid in self._sockets else [])  # fmt: skip
        for s in targets:
            if isinstance(data, (bytes, bytearray)):
                s.send(0x2, struct.pack(">I", event) + bytes(data))
            else:
                self._send_to(s, event, data)

    def _queue_updated(self) -> None:
        self.send("status", {"status": self._queue_info()})

    # ----------------------------------------------------------------- worker
    def _work(self, stop: threading.Event) -> None:
        while not stop.is_set():
            with self._cond:
                while not self._queue and not stop.is_set():
                    self._cond.wait(0.2)
                if stop.is_set():
                    return
                item = heapq.heappop(self._queue)
                item_id = self._task_counter
                self._task_counter += 1
                self._running[item_id] = copy.deepcopy(item)
                gen = self._gen
            self._queue_updated()
            try:
                self._execute(item, item_id, gen, stop)
            except _Lost:
                pass
            except Exception:  # noqa: BLE001 - a bug in the fake: make the test see it
                self.server_errors.append(traceback.format_exc())

    def _alive(self, gen, stop) -> None:
        if stop.is_set() or gen != self._gen:
            raise _Lost

    def _execute(self, item, item_id, gen, stop) -> None:
        number, prompt_id, prompt, extra, outputs, _sensitive = item
        client = extra.get("client_id")
        messages: list = []
        step_seconds = min(float(self.opt("step_seconds", 0.2 if self.scenario == "slow"
                                          else 0.01)), 5.0)  # fmt: skip
        fail = self.scenario == "node_error"

        def add_message(event, data, broadcast=False):
            self._alive(gen, stop)
            data = {**data, "timestamp": int(time.time() * 1000)}
            messages.append([event, data])
            if client is not None or broadcast:
                self.send(event, data, client)

        def send(event, data, sid=client):
            self._alive(gen, stop)
            if sid is not None or event == "progress_state":
                self.send(event, data, sid)

        self._interrupt.clear()
        add_message("execution_start", {"prompt_id": prompt_id})
        add_message("execution_cached", {"nodes": [], "prompt_id": prompt_id})
        order = _execution_order(prompt, outputs)
        values: dict[str, tuple] = {}
        ui_outputs, meta, executed = {}, {}, []
        success = True
        for node_id in order:
            node = prompt[node_id]
            cls = node["class_type"]
            try:
                if self._interrupt.is_set():
                    raise _Interrupted
                with self._cond:
                    self._last_node = (client, node_id)
                send("executing", {"node": node_id, "display_node": node_id,
                                   "prompt_id": prompt_id})  # fmt: skip
                args = {k: (values[v[0]][v[1]] if isinstance(v, list) else v)
                        for k, v in node["inputs"].items()}  # fmt: skip
                if cls in SAMPLERS:
                    self._sample(args, node_id, prompt_id, send, step_seconds, gen, stop, fail)
                    fail = False
                values[node_id], ui = self._run_node(cls, args)
                if ui:
                    ui_outputs[node_id] = ui
                    meta[node_id] = {"node_id": node_id, "display_node": node_id,
                                     "parent_node": None, "real_node_id": node_id}  # fmt: skip
                    send("executed", {"node": node_id, "display_node": node_id, "output": ui,
                                      "prompt_id": prompt_id})  # fmt: skip
                executed.append(node_id)
            except _Interrupted:
                success = False
                add_message("execution_interrupted", {"prompt_id": prompt_id,
                            "node_id": node_id, "node_type": cls, "executed": executed},
                            broadcast=True)  # fmt: skip
                break
            except _SamplerError as ex:
                success = False
                add_message("execution_error", {
                    "prompt_id": prompt_id, "node_id": node_id, "node_type": cls,
                    "executed": executed, "exception_message": str(ex),
                    "exception_type": self.opt("exception_type", "RuntimeError"),
                    "traceback": [
                        '  File "/ComfyUI/execution.py", line 496, in execute\n'
                        "    output_data, output_ui, has_subgraph, has_pending_tasks = await "
                        "get_output_data(...)\n",
                        '  File "/ComfyUI/comfy/samplers.py", line 1050, in sample\n'
                        "    return self.inner_sample(...)\n",
                    ],
                    "current_inputs": {k: [v if isinstance(v, (int, float, str, bool))
                                           else str(v)] for k, v in node["inputs"].items()},
                    "current_outputs": [],
                })  # fmt: skip
                break
        if success:
            add_message("execution_success", {"prompt_id": prompt_id})
        with self._cond:
            self._alive(gen, stop)
            self._running.pop(item_id, None)
            self._last_node = None
            self._history[prompt_id] = {
                "prompt": [number, prompt_id, prompt, extra, outputs],
                "outputs": ui_outputs,
                "status": {"status_str": "success" if success else "error",
                           "completed": success, "messages": messages},
                "meta": meta,
            }  # fmt: skip
        self._queue_updated()
        if client is not None:
            send("executing", {"node": None, "prompt_id": prompt_id})

    def _sample(self, args, node_id, prompt_id, send, step_seconds, gen, stop, fail) -> None:
        steps = int(args["steps"])
        if args.get("end_at_step") is not None:  # KSamplerAdvanced samples start..end
            steps = max(0, min(steps, int(args["end_at_step"])) - int(args["start_at_step"]))
        at = int(self.opt("at_step", 0)) if fail else None
        for value in range(1, steps + 1):
            if at is not None and value > at:
                break
            if self._interrupt.is_set():
                raise _Interrupted
            if stop.wait(step_seconds):
                raise _Lost
            if self._interrupt.is_set():
                raise _Interrupted
            send("progress", {"value": value, "max": steps, "prompt_id": prompt_id,
                              "node": node_id})  # fmt: skip
            send("progress_state", {"prompt_id": prompt_id, "nodes": {node_id: {
                "value": value, "max": steps, "state": "running", "node_id": node_id,
                "prompt_id": prompt_id, "display_node_id": node_id, "parent_node_id": None,
                "real_node_id": node_id}}}, sid=None)  # fmt: skip
            if value == 1:
                preview = make_image(64, 64, (90, 90, 90), "JPEG")
                send(PREVIEW_IMAGE, struct.pack(">I", 1) + preview)
        if at is not None:
            raise _SamplerError(
                self.opt(
                    "message", "mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)\n"
                )
            )

    def _run_node(self, cls: str, a: dict):
        """What each node produces: ``(outputs tuple, ui dict or None)``; images are specs."""
        if cls == "CheckpointLoaderSimple":
            return (f"model:{a['ckpt_name']}", "clip", "vae"), None
        if cls == "CLIPTextEncode":
            return ({"text": a["text"]},), None
        if cls == "EmptyLatentImage":  # latent is width // 8: decoded back as (w // 8) * 8
            return ({"w": a["width"] // 8 * 8, "h": a["height"] // 8 * 8,
                     "n": a["batch_size"], "key": "empty"},), None  # fmt: skip
        if cls in SAMPLERS:
            seed = a.get("seed", a.get("noise_seed"))
            return ({**a["latent_image"], "key": f"seed:{seed}"},), None
        if cls in ("VAEDecode", "SetLatentNoiseMask"):
            return ({**(a.get("samples") or {})},), None
        if cls in ("VAEEncode", "VAEEncodeForInpaint"):  # vae_encode_crop_pixels: multiple of 8
            img = a["pixels"]
            return ({**img, "w": img["w"] // 8 * 8, "h": img["h"] // 8 * 8},), None
        if cls in ("LoadImage", "LoadImageMask"):
            name, typ = _annotated(str(a["image"]))
            sub, _, base = name.rpartition("/")
            with self._cond:
                data = self._disk[(typ or "input", sub, base)]
            with Image.open(io.BytesIO(data)) as im:
                w, h = im.size
            img = {"w": w, "h": h, "n": 1, "key": hashlib.sha256(data).hexdigest()}
            return ((img, {**img, "mask": True}) if cls == "LoadImage" else (img,)), None
        if cls == "ImageScaleBy":
            img, s = a["image"], float(a["scale_by"])
            return ({**img, "w": round(img["w"] * s), "h": round(img["h"] * s)},), None
        if cls == "UpscaleModelLoader":
            m = re.search(r"(\d+)x|x(\d+)", a["model_name"])
            return ({"scale": int(m.group(1) or m.group(2)) if m else 4},), None
        if cls == "ImageUpscaleWithModel":
            img, s = a["image"], a["upscale_model"]["scale"]
            return ({**img, "w": img["w"] * s, "h": img["h"] * s},), None
        if cls == "ImagePadForOutpaint":
            img = a["image"]
            out = {**img, "w": img["w"] + a["left"] + a["right"],
                   "h": img["h"] + a["top"] + a["bottom"]}  # fmt: skip
            return (out, {**out, "mask": True}), None
        if cls in ("SaveImage", "PreviewImage"):
            return (), {"images": self._save(a["images"], cls, a.get("filename_prefix"))}
        raise AssertionError(f"fake cannot run {cls}")

    def _save(self, img: dict, cls: str, prefix) -> list[dict]:
        """SaveImage.save_images via folder_paths.get_save_image_path."""
        if cls == "PreviewImage":
            typ, sub = "temp", ""
            prefix = "ComfyUI_temp_" + "".join(random.choice("abcdefghijklmnopqrstupvxyz")
                                              for _ in range(5))  # fmt: skip
        else:
            typ = "output"
            sub, _, prefix = str(prefix).rpartition("/")
        out = []
        with self._cond:
            taken = [n for (t, s, n) in self._disk if t == typ and s == sub]
            counter = 1 + max([int(m.group(1)) for n in taken if (m := re.fullmatch(
                re.escape(prefix) + r"_(\d{5,})_\.png", n))] or [0])  # fmt: skip
            for i in range(img["n"]):
                rnd = random.Random(f"{img['key']}:{i}")
                color = (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256))
                name = f"{prefix}_{counter:05}_.png"
                counter += 1
                self._disk[(typ, sub, name)] = make_image(img["w"], img["h"], color, "PNG")
                out.append({"filename": name, "subfolder": sub, "type": typ})
        return out


_CRASH = object()


def _no_outputs() -> dict:
    return {"type": "prompt_no_outputs", "message": "Prompt has no outputs", "details": "",
            "extra_info": {}}  # fmt: skip


def _type_name(ex: BaseException) -> str:
    t = type(ex)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _annotated(name: str) -> tuple[str, str | None]:
    """folder_paths.annotated_filepath: ``x.png [output]`` -> ("x.png", "output")."""
    for typ in DIR_TYPES:
        if name.endswith(f" [{typ}]"):
            return name[: -len(typ) - 3], typ
    return name, None


def _inside(sub: str) -> str | None:
    """A subfolder normalised inside its directory, or ``None`` when it escapes it."""
    if sub.startswith("/"):
        return None
    norm = posixpath.normpath(sub or ".")
    if norm == ".":
        return ""
    if norm == ".." or norm.startswith("../"):
        return None
    return norm


def _mime(name: str) -> str:
    ext = name.rsplit(".", 1)[-1].lower()
    return {"png": "image/png", "jpg": "image/jpeg", "jpeg": "image/jpeg",
            "webp": "image/webp"}.get(ext, "application/octet-stream")  # fmt: skip


def _multipart(req: Req) -> dict | None:
    """aiohttp ``request.post()``: ``{field: (filename or None, bytes)}``."""
    ctype = req.headers.get("content-type", "")
    if "multipart/form-data" not in ctype:
        return {}
    msg = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + req.body
    )
    if not msg.is_multipart():
        return None
    form = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            form[name] = (part.get_filename(), part.get_payload(decode=True) or b"")
    return form


def _text(form: dict, key: str, default):
    if key not in form:
        return default
    value = form[key][1]
    return value.decode() if isinstance(value, bytes) else value


def _execution_order(prompt: dict, outputs: list[str]) -> list[str]:
    """Each output's inputs before it (a depth-first post-order, like ExecutionList)."""
    order, seen = [], set()

    def visit(node_id):
        if node_id in seen:
            return
        seen.add(node_id)
        for v in prompt[node_id]["inputs"].values():
            if isinstance(v, list):
                visit(v[0])
        order.append(node_id)

    for o in sorted(outputs):
        visit(o)
    return order


def txt2img_workflow(
    *, ckpt=CHECKPOINTS[0], seed=42, steps=4, width=512, height=512, batch_size=1,
    text="a red fox", prefix="ComfyUI",
) -> dict:  # fmt: skip
    """The API-format default text-to-image workflow (ComfyUI's own node ids)."""
    return {
        "3": {"class_type": "KSampler", "inputs": {
            "seed": seed, "steps": steps, "cfg": 7.0, "sampler_name": "euler",
            "scheduler": "normal", "denoise": 1.0, "model": ["4", 0], "positive": ["6", 0],
            "negative": ["7", 0], "latent_image": ["5", 0]}},
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": ckpt}},
        "5": {"class_type": "EmptyLatentImage", "inputs": {
            "width": width, "height": height, "batch_size": batch_size}},
        "6": {"class_type": "CLIPTextEncode", "inputs": {"text": text, "clip": ["4", 1]}},
        "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
        "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
        "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": prefix,
                                                    "images": ["8", 0]}},
    }  # fmt: skip


def img2img_workflow(image: str, *, seed=7, steps=3, scale_by=None, upscale_model=None) -> dict:
    """LoadImage -> VAEEncode -> KSampler -> VAEDecode [-> ImageScaleBy / model] -> SaveImage."""
    wf = txt2img_workflow(seed=seed, steps=steps)
    del wf["5"]
    wf["10"] = {"class_type": "LoadImage", "inputs": {"image": image}}
    wf["11"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}
    wf["3"]["inputs"].update(latent_image=["11", 0], denoise=0.6)
    last = ["8", 0]
    if scale_by is not None:
        wf["12"] = {"class_type": "ImageScaleBy", "inputs": {
            "image": last, "upscale_method": "lanczos", "scale_by": scale_by}}  # fmt: skip
        last = ["12", 0]
    if upscale_model is not None:
        wf["13"] = {"class_type": "UpscaleModelLoader", "inputs": {"model_name": upscale_model}}
        wf["14"] = {"class_type": "ImageUpscaleWithModel", "inputs": {
            "upscale_model": ["13", 0], "image": last}}  # fmt: skip
        last = ["14", 0]
    wf["9"]["inputs"]["images"] = last
    return wf
