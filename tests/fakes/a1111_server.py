"""Fake AUTOMATIC1111 stable-diffusion-webui API (and Forge), as strict as the real one.

Use with any HTTP client::

    with FakeA1111() as fake:
        r = httpx.post(fake.base_url + "/sdapi/v1/txt2img", json={"prompt": "a fox"})
        r.json()["images"][0]  # base64 PNG (no data: prefix), info is a JSON *string*

Constructor: ``FakeA1111(basic_auth=None, flavor="a1111", models=None, upscalers=None,
nowebui=False, scenario="success", options=None)``. ``basic_auth=("user", "pass")`` (or a list
of pairs) behaves like ``--api-auth user:pass``; ``flavor="forge"`` switches the error bodies to
Forge's (below); ``models`` are checkpoint file names (default two SD files); ``nowebui=True``
drops ``/internal/ping`` as ``--nowebui`` does.

Sources (read 2026-12):

* AUTOMATIC1111 ``modules/api/api.py`` and ``models.py`` as they are in webui 1.10 (the
  1.10 file carrying ``/sdapi/v1/schedulers`` and ``status_code=400, detail="Sampler not
  found"``; the 1.7 files are in lllyasviel/stable-diffusion-webui-forge's history at
  ``19c95de8`` (an A1111 merge of 2024-01-23), 1.10 arrived there with ``e26abf87``);
* ``modules/processing.py``, ``shared_state.py``, ``sd_samplers.py``, ``sd_schedulers.py``,
  ``upscaler.py``, ``scripts/postprocessing_upscale.py`` and ``modules/ui.py`` of Forge at
  ``dfdcbab`` (2025-06-26), which keep A1111 1.10's code for everything used here;
* Forge ``webui.py`` at ``878c056`` ("Any exception is translated in http response").

Rules (all from those files):

* Routes: ``POST /sdapi/v1/txt2img``, ``/img2img``, ``/extra-single-image``, ``/interrupt``,
  ``/skip``, ``/options``; ``GET /sdapi/v1/progress`` (``?skip_current_image``), ``/sd-models``,
  ``/samplers``, ``/schedulers``, ``/upscalers``, ``/options``; ``GET /internal/ping`` (``{}``,
  registered by ``ui.py`` ``setup_ui_api``, so absent with ``--nowebui`` and never behind
  ``--api-auth``). Other paths: 404 ``{"detail": "Not Found"}``, wrong method 405
  ``{"detail": "Method Not Allowed"}`` (Starlette's own handlers, untouched by A1111).
* Errors. A1111's ``api_middleware`` turns every exception, ``HTTPException`` included, into
  ``{"error": type name, "detail": e.detail or "", "body": "", "errors": str(e)}`` with the
  exception's ``status_code`` (else 500); ``str(HTTPException)`` is ``"<status>: <detail>"``;
  the response carries no ``WWW-Authenticate`` header (the handler drops ``headers``). Forge
  comments ``api_middleware`` out: an ``HTTPException`` gets FastAPI's ``{"detail": ...}`` (with
  its headers) and any other exception ``{"error", "detail", "body", "message"}`` (500).
  Validation errors are FastAPI's 422 ``{"detail": [...]}`` in both; A1111 1.10 runs pydantic
  v1 (``{"loc", "msg", "type"[, "ctx"]}``, "value is not a valid integer"), Forge pydantic v2
  (``{"type", "loc", "msg", "input"[, "ctx"]}``, "Input should be a valid integer, ...").
* Request models are ``create_model`` of the processing dataclasses' ``__init__`` fields, each
  ``Optional[annotation]``, plus the API's extra keys; pydantic's default ``extra`` is *ignore*:
  **unknown fields are accepted and dropped**, as the real server does. Types coerce the
  pydantic way (v1: ``"20"`` -> 20, ``7.9`` -> 7 for an int, 5 -> ``"5"`` for a str; v2 refuses
  ``7.9`` and ``5`` for a str). A body that is not JSON is 422 before authentication (FastAPI
  reads the body first); a missing body is 422 ``field required`` at ``["body"]``.
* ``--api-auth``: HTTP basic on every ``/sdapi`` route; no credentials 401 ``Not
  authenticated`` (``HTTPBasic``), wrong ones 401 ``Incorrect username or password``.
* Samplers: ``get_sampler_and_scheduler`` splits a scheduler label off the end ("DPM++ 2M
  Karras") and falls back to the first sampler (``DPM++ 2M``) for a name it does not know, so
  an unknown ``sampler_name`` is **not refused**: the job runs with ``DPM++ 2M`` and ``info``
  says so (``validate_sampler_name``'s 400 cannot fire any more). Without ``sampler_name`` the
  API's ``sampler_index`` default ``"Euler"`` is used (``sampler_name or sampler_index``).
  Unknown schedulers fall back to ``Automatic`` the same way.
* Checkpoints: ``process_images`` drops an ``override_settings.sd_model_checkpoint`` that is not
  one of ``checkpoint_aliases`` (title, file name, model name, short hash, sha256...) and runs
  the loaded model: **not refused**; ``info.sd_model_name`` shows which model ran.
  ``POST /sdapi/v1/options`` with an unknown ``sd_model_checkpoint`` raises ``RuntimeError(
  "model '<name>' not found")`` -> 500.
* Images in: ``decode_base64_to_image`` takes base64 with or without a ``data:image/...;base64,``
  prefix; undecodable -> ``HTTPException(500, "Invalid encoded image")``; http(s) URLs are
  refused as ``"Request to local resource not allowed"`` (500; ``api_forbid_local_requests``
  is on by default and the fake has no global address to reach). ``init_images`` null -> 404
  ``Init image not found``; an empty list -> 500 ``IndexError``. The mask is decoded before
  the job queue, init images inside it.
* Jobs hold one ``queue_lock``: a second generation waits for the first. ``state.begin()``
  clears ``interrupted``/``skipped``, so an interrupt sent before a job starts is lost.
  ``/interrupt`` answers ``{}``, ``/skip`` answers ``null``. An interrupt stops sampling at the
  next step; the sampler returns its last latent, so the current iteration still yields its
  images and later ``n_iter`` iterations are not run: the request answers **200** with the
  images made so far (``all_seeds`` keeps every planned seed). ``skip`` ends only the current
  iteration.
* Progress: ``job_count == 0`` -> ``{"progress": 0, "eta_relative": 0, ...}``; else
  ``progress = 0.01 + job_no/job_count + sampling_step/sampling_steps/job_count`` (at most 1),
  ``eta_relative = elapsed/progress - elapsed``, ``state`` = ``State.dict()`` (``skipped``,
  ``interrupted``, ``stopping_generation``, ``job``, ``job_count``, ``job_timestamp``,
  ``job_no``, ``sampling_step``, ``sampling_steps``), ``current_image`` a base64 preview every
  ``show_progress_every_n_steps`` (10) steps unless ``skip_current_image``, ``textinfo`` null.
* Output: ``batch_size * n_iter`` base64 PNGs (plus a grid first when ``save_images`` is true
  and there are 2 or more, as ``return_grid`` does), each a solid colour derived from its seed
  with the infotext in a ``parameters`` PNG text chunk; the decoded size is the latent size
  ``(w // 8 * 8, h // 8 * 8)``; ``enable_hr`` scales by ``hr_scale`` or to
  ``hr_resize_x/y``. ``seed`` -1 (or null) draws ``random.randrange(4294967294)``;
  ``all_seeds = [seed + i]``. ``info`` is ``Processed.js()`` (a JSON string: prompt,
  all_prompts, negative_prompt, seed, all_seeds, subseed, all_subseeds, width, height,
  sampler_name, cfg_scale, steps, batch_size, sd_model_name, sd_model_hash, denoising_strength,
  extra_generation_params, index_of_first_image, infotexts, job_timestamp, clip_skip,
  version ...); ``parameters`` echoes the request model (defaults filled; img2img drops
  ``init_images``/``mask`` unless ``include_init_images``).
* img2img: the init image is resized to the requested size (``resize_mode``); with a mask
  (alpha channel if it has transparency, else luminance, thresholded at 128, inverted by
  ``inpainting_mask_invert``) the masked area is painted with the seed colour; with
  ``inpaint_full_res`` (the default) and a non-blank mask the result is pasted back on the
  **init image at its own size**, as ``apply_overlay`` does; without a mask the init image is
  blended with the seed colour by ``denoising_strength``.
* extra-single-image: ``ExtrasBaseRequest`` (``resize_mode`` Literal 0/1, ``upscaling_resize``
  > 0, ``upscaling_resize_w/h`` >= 1, visibilities in [0, 1]); ``upscaler_1`` must be a listed
  upscaler name (``AssertionError("could not find upscaler named X")`` -> 500); ``"None"`` leaves
  the image as it is; mode 0 gives ``(w*s)//8*8`` x ``(h*s)//8*8`` (``Upscaler.upscale``), mode 1
  ``upscaling_resize_w x _h`` when ``upscaling_crop``. Answers ``{"image", "html_info"}``.

Approximations (ours): widths/heights under 8 raise a 500 ``RuntimeError``; no scripts,
alwayson scripts, styles or hires second-pass sampler.

Scenarios (``fake.set_scenario(name, **options)``):

``success``  option ``step_seconds`` (default 0.002 per sampling step).
``slow``     same, ``step_seconds`` default 0.05 (use it to watch progress / interrupt).
``fail``     an exception inside processing: options ``error`` (default
             ``"OutOfMemoryError"``), ``message``, ``at_step`` (default 1) -> 500 body as above.

Lifecycle: ``fake.die()`` stops listening at once, drops open connections and loses the running
job; ``fake.come_back()`` listens again on the same port with fresh state (the model list and
auth stay). ``fake.jobs`` lists finished jobs (``kind``, ``images``, ``interrupted``, ``seed``).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import io
import json
import random
import threading
import time
from datetime import datetime

from PIL import Image, PngImagePlugin, UnidentifiedImageError

from .base import FakeServer, Req, Resp

MISSING = object()

SAMPLERS = [  # name, aliases, options (SamplerItem.options is dict[str, str]: True -> "True")
    ("DPM++ 2M", ["k_dpmpp_2m"], {"scheduler": "karras"}),
    (
        "DPM++ SDE",
        ["k_dpmpp_sde"],
        {"scheduler": "karras", "second_order": "True", "brownian_noise": "True"},
    ),
    ("DPM++ 2M SDE", ["k_dpmpp_2m_sde"], {"scheduler": "exponential", "brownian_noise": "True"}),
    (
        "DPM++ 2M SDE Heun",
        ["k_dpmpp_2m_sde_heun"],
        {"scheduler": "exponential", "brownian_noise": "True", "solver_type": "heun"},
    ),
    (
        "DPM++ 2S a",
        ["k_dpmpp_2s_a"],
        {"scheduler": "karras", "uses_ensd": "True", "second_order": "True"},
    ),
    (
        "DPM++ 3M SDE",
        ["k_dpmpp_3m_sde"],
        {
            "scheduler": "exponential",
            "discard_next_to_last_sigma": "True",
            "brownian_noise": "True",
        },
    ),
    ("Euler a", ["k_euler_a", "k_euler_ancestral"], {"uses_ensd": "True"}),
    ("Euler", ["k_euler"], {}),
    ("LMS", ["k_lms"], {}),
    ("Heun", ["k_heun"], {"second_order": "True"}),
    (
        "DPM2",
        ["k_dpm_2"],
        {"scheduler": "karras", "discard_next_to_last_sigma": "True", "second_order": "True"},
    ),
    (
        "DPM2 a",
        ["k_dpm_2_a"],
        {
            "scheduler": "karras",
            "discard_next_to_last_sigma": "True",
            "uses_ensd": "True",
            "second_order": "True",
        },
    ),
    ("DPM fast", ["k_dpm_fast"], {"uses_ensd": "True"}),
    ("DPM adaptive", ["k_dpm_ad"], {"uses_ensd": "True"}),
    ("Restart", ["restart"], {"scheduler": "karras", "second_order": "True"}),
    ("DDIM", ["ddim"], {}),
    ("DDIM CFG++", ["ddim_cfgpp"], {}),
    ("PLMS", ["plms"], {}),
    ("UniPC", ["unipc"], {}),
    ("LCM", ["k_lcm"], {}),
]

SCHEDULERS = [  # name, label, aliases, default_rho, need_inner_model
    ("automatic", "Automatic", None, -1, False),
    ("uniform", "Uniform", None, -1, True),
    ("karras", "Karras", None, 7.0, False),
    ("exponential", "Exponential", None, -1, False),
    ("polyexponential", "Polyexponential", None, 1.0, False),
    ("sgm_uniform", "SGM Uniform", ["SGMUniform"], -1, True),
    ("kl_optimal", "KL Optimal", None, -1, False),
    ("align_your_steps", "Align Your Steps", None, -1, False),
    ("simple", "Simple", None, -1, True),
    ("normal", "Normal", None, -1, True),
    ("ddim", "DDIM", None, -1, True),
    ("beta", "Beta", None, -1, True),
]

DEFAULT_UPSCALERS = [  # name, model_name, model_path, scale
    ("None", None, None, 4),
    ("Lanczos", None, None, 4),
    ("Nearest", None, None, 4),
    (
        "R-ESRGAN 4x+",
        "R-ESRGAN 4x+",
        "https://github.com/xinntao/Real-ESRGAN/releases/download/v0.1.0/RealESRGAN_x4plus.pth",
        4,
    ),
    ("SwinIR 4x", "SwinIR 4x", None, 4),
]

DEFAULT_MODELS = ["v1-5-pruned-emaonly.safetensors", "sd_xl_base_1.0.safetensors"]

# The request models: (field, kind, default, nullable). Kinds: int float str bool list dict
# any list_str. Processing fields are Optional[...] (nullable); the API's extra keys with a
# non-None default are not (pydantic v1 makes a None default Optional).
_COMMON = [
    ("prompt", "str", ""),
    ("negative_prompt", "str", ""),
    ("styles", "list_str", None),
    ("seed", "int", -1),
    ("subseed", "int", -1),
    ("subseed_strength", "float", 0),
    ("seed_resize_from_h", "int", -1),
    ("seed_resize_from_w", "int", -1),
    ("sampler_name", "str", None),
    ("scheduler", "str", None),
    ("batch_size", "int", 1),
    ("n_iter", "int", 1),
    ("steps", "int", 50),
    ("cfg_scale", "float", 7.0),
    ("width", "int", 512),
    ("height", "int", 512),
    ("restore_faces", "bool", None),
    ("tiling", "bool", None),
    ("do_not_save_samples", "bool", False),
    ("do_not_save_grid", "bool", False),
    ("eta", "float", None),
    ("denoising_strength", "float", None),
    ("s_min_uncond", "float", None),
    ("s_churn", "float", None),
    ("s_tmax", "float", None),
    ("s_tmin", "float", None),
    ("s_noise", "float", None),
    ("override_settings", "dict", None),
    ("override_settings_restore_afterwards", "bool", True),
    ("refiner_checkpoint", "str", None),
    ("refiner_switch_at", "float", None),
    ("disable_extra_networks", "bool", False),
    ("firstpass_image", "str", None),
    ("comments", "dict", None),
]
_TXT2IMG = [
    ("enable_hr", "bool", False),
    ("denoising_strength", "float", 0.75),
    ("firstphase_width", "int", 0),
    ("firstphase_height", "int", 0),
    ("hr_scale", "float", 2.0),
    ("hr_upscaler", "str", None),
    ("hr_second_pass_steps", "int", 0),
    ("hr_resize_x", "int", 0),
    ("hr_resize_y", "int", 0),
    ("hr_checkpoint_name", "str", None),
    ("hr_sampler_name", "str", None),
    ("hr_scheduler", "str", None),
    ("hr_prompt", "str", ""),
    ("hr_negative_prompt", "str", ""),
    ("force_task_id", "str", None),
]
_IMG2IMG = [
    ("init_images", "list", None),
    ("resize_mode", "int", 0),
    ("image_cfg_scale", "float", None),
    ("mask", "any", None),
    ("mask_blur_x", "int", 4),
    ("mask_blur_y", "int", 4),
    ("mask_blur", "int", None),
    ("mask_round", "bool", True),
    ("inpainting_fill", "int", 0),
    ("inpaint_full_res", "bool", True),
    ("inpaint_full_res_padding", "int", 0),
    ("inpainting_mask_invert", "int", 0),
    ("initial_noise_multiplier", "float", None),
    ("latent_mask", "str", None),
    ("force_task_id", "str", None),
]
_FORGE_EXTRA = [("distilled_cfg_scale", "float", 3.5)]
_FORGE_TXT2IMG = [
    ("hr_additional_modules", "list", None),
    ("hr_cfg", "float", 1.0),
    ("hr_distilled_cfg", "float", 3.5),
]
_API_EXTRA = [  # additional_fields of models.py (not nullable unless default None)
    ("sampler_index", "str", "Euler", False),
    ("script_name", "str", None, True),
    ("script_args", "list", [], False),
    ("send_images", "bool", True, False),
    ("save_images", "bool", False, False),
    ("alwayson_scripts", "dict", {}, False),
    ("force_task_id", "str", None, True),
    ("infotext", "str", None, True),
]
_IMG2IMG_API_EXTRA = [
    ("init_images", "list", None, True),
    ("denoising_strength", "float", 0.75, False),
    ("mask", "str", None, True),
    ("include_init_images", "bool", False, False),
]
# ExtrasSingleImageRequest (ExtrasBaseRequest + image): name, kind, default, constraints
_EXTRAS = [
    ("resize_mode", "literal01", 0, {}),
    ("show_extras_results", "bool", True, {}),
    ("gfpgan_visibility", "float", 0, {"ge": 0, "le": 1}),
    ("codeformer_visibility", "float", 0, {"ge": 0, "le": 1}),
    ("codeformer_weight", "float", 0, {"ge": 0, "le": 1}),
    ("upscaling_resize", "float", 2, {"gt": 0}),
    ("upscaling_resize_w", "int", 512, {"ge": 1}),
    ("upscaling_resize_h", "int", 512, {"ge": 1}),
    ("upscaling_crop", "bool", True, {}),
    ("upscaler_1", "str", "None", {}),
    ("upscaler_2", "str", "None", {}),
    ("extras_upscaler_2_visibility", "float", 0, {"ge": 0, "le": 1}),
    ("upscale_first", "bool", False, {}),
    ("image", "str", "", {}),
]


def _model_fields(kind: str, flavor: str) -> list[tuple]:
    rows: dict[str, tuple] = {}
    base = _COMMON + (_FORGE_EXTRA if flavor == "forge" else [])
    extra = (
        _TXT2IMG + (_FORGE_TXT2IMG if flavor == "forge" else [])
        if kind == "txt2img"
        else (_IMG2IMG)
    )
    for name, k, default in base + extra:
        rows[name] = (name, k, default, True)
    for row in _API_EXTRA + (_IMG2IMG_API_EXTRA if kind == "img2img" else []):
        rows[row[0]] = row
    return list(rows.values())


class _Invalid(Exception):
    def __init__(self, v1: tuple, v2: tuple):
        super().__init__(v1[0])
        self.v1, self.v2 = v1, v2  # (msg, type[, ctx])


_V1_TRUE = {"1", "on", "t", "true", "y", "yes"}
_V1_FALSE = {"0", "off", "f", "false", "n", "no"}


def _coerce(kind: str, value, flavor: str):
    """Validate one value the way pydantic v1 (A1111) or v2 (Forge) does in lax mode."""
    v2 = flavor == "forge"
    if kind == "any":
        return value
    if kind == "int":
        bad1 = ("value is not a valid integer", "type_error.integer")
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, int):
            return value
        if isinstance(value, float):
            if v2 and value != int(value):
                raise _Invalid(
                    bad1,
                    (
                        "Input should be a valid integer, got a number with a fractional part",
                        "int_from_float",
                    ),
                )
            return int(value)
        if isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                raise _Invalid(
                    bad1,
                    (
                        "Input should be a valid integer, unable to parse string as an integer",
                        "int_parsing",
                    ),
                ) from None
        raise _Invalid(bad1, ("Input should be a valid integer", "int_type"))
    if kind == "float":
        bad1 = ("value is not a valid float", "type_error.float")
        if isinstance(value, (int, float)):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                raise _Invalid(
                    bad1,
                    (
                        "Input should be a valid number, unable to parse string as a number",
                        "float_parsing",
                    ),
                ) from None
        raise _Invalid(bad1, ("Input should be a valid number", "float_type"))
    if kind == "str":
        if isinstance(value, str):
            return value
        if not v2 and isinstance(value, (int, float)):
            return str(value)  # pydantic v1 str_validator accepts numbers (bool included)
        raise _Invalid(
            ("str type expected", "type_error.str"),
            ("Input should be a valid string", "string_type"),
        )
    if kind == "bool":
        bad1 = ("value could not be parsed to a boolean", "type_error.bool")
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in _V1_TRUE | _V1_FALSE:
            return value.strip().lower() in _V1_TRUE
        kind2 = "bool_parsing" if isinstance(value, (str, int, float)) else "bool_type"
        msg2 = "Input should be a valid boolean" + (
            ", unable to interpret input" if kind2 == "bool_parsing" else ""
        )
        raise _Invalid(bad1, (msg2, kind2))
    if kind == "list":
        if isinstance(value, list):
            return value
        raise _Invalid(
            ("value is not a valid list", "type_error.list"),
            ("Input should be a valid list", "list_type"),
        )
    if kind == "dict":
        if isinstance(value, dict):
            return value
        if not v2 and isinstance(value, list):
            try:
                return dict(value)  # pydantic v1 dict_validator tries dict(v)
            except (TypeError, ValueError):
                pass
        raise _Invalid(
            ("value is not a valid dict", "type_error.dict"),
            ("Input should be a valid dictionary", "dict_type"),
        )
    if kind == "literal01":
        if (
            not isinstance(value, (dict, list))
            and value in (0, 1)
            and not (v2 and isinstance(value, (bool, str, float)))
        ):
            return int(value)
        raise _Invalid(
            (
                "unexpected value; permitted: 0, 1",
                "value_error.const",
                {"given": value, "permitted": [0, 1]},
            ),
            ("Input should be 0 or 1", "literal_error", {"expected": "0 or 1"}),
        )
    raise AssertionError(kind)


def _check_bounds(value, bounds: dict):
    words = {
        "gt": ("greater than", "greater_than", "not_gt"),
        "ge": ("greater than or equal to", "greater_than_equal", "not_ge"),
        "le": ("less than or equal to", "less_than_equal", "not_le"),
    }
    for key, limit in bounds.items():
        ok = {"gt": value > limit, "ge": value >= limit, "le": value <= limit}[key]
        if not ok:
            text, t2, t1 = words[key]
            raise _Invalid(
                (
                    f"ensure this value is {text} {limit}",
                    f"value_error.number.{t1}",
                    {"limit_value": limit},
                ),
                (f"Input should be {text} {limit}", t2, {key: limit}),
            )


class _HTTPError(Exception):
    """FastAPI's ``HTTPException``."""

    def __init__(self, status: int, detail, headers: dict | None = None):
        super().__init__(detail)
        self.status, self.detail, self.headers = status, detail, headers or {}


class _AppError(Exception):
    """Any other exception raised by the webui code (name = the Python type name)."""

    def __init__(self, name: str, message: str):
        super().__init__(message)
        self.name, self.message = name, message


class _Lost(Exception):
    """The server died while the job ran: nothing is written back."""


def _seed_color(seed: int) -> tuple:
    h = hashlib.sha256(str(seed).encode()).digest()
    return h[0], h[1], h[2]


def _b64png(img: Image.Image, text: str | None = None) -> str:
    buf = io.BytesIO()
    info = None
    if text is not None:
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", text)
    img.save(buf, format="PNG", pnginfo=info)
    return base64.b64encode(buf.getvalue()).decode()


def _binary_mask(mask: Image.Image) -> Image.Image:
    """``create_binary_mask``: alpha channel if the mask has transparency, else luminance."""
    if mask.mode == "RGBA" and mask.getextrema()[-1] != (255, 255):
        mask = mask.split()[-1].convert("L")
    else:
        mask = mask.convert("L")
    return mask.point(lambda x: 255 if x > 128 else 0)


class _State:
    """``modules/shared_state.State`` (the fields ``dict()`` reports)."""

    def __init__(self):
        self.skipped = self.interrupted = self.stopping_generation = False
        self.job = ""
        self.job_no = self.job_count = self.sampling_step = self.sampling_steps = 0
        self.job_timestamp = "0"
        self.time_start = None
        self.current_image = None

    def begin(self, job: str):
        self.sampling_step = 0
        self.time_start = time.time()
        self.job_count = -1
        self.job_no = 0
        self.job_timestamp = datetime.now().strftime("%Y%m%d%H%M%S")
        self.current_image = None
        self.skipped = self.interrupted = self.stopping_generation = False
        self.job = job

    def end(self):
        self.job = ""
        self.job_count = 0

    def dict(self):
        return {
            "skipped": self.skipped,
            "interrupted": self.interrupted,
            "stopping_generation": self.stopping_generation,
            "job": self.job,
            "job_count": self.job_count,
            "job_timestamp": self.job_timestamp,
            "job_no": self.job_no,
            "sampling_step": self.sampling_step,
            "sampling_steps": self.sampling_steps,
        }


class FakeA1111(FakeServer):
    def __init__(
        self,
        *,
        basic_auth: tuple | list | None = None,
        flavor: str = "a1111",
        models: list[str] | None = None,
        upscalers: list[tuple] | None = None,
        nowebui: bool = False,
        **kwargs,
    ):
        if flavor not in ("a1111", "forge"):
            raise ValueError("flavor must be 'a1111' or 'forge'")
        self.flavor = flavor
        if basic_auth and isinstance(basic_auth[0], str):
            basic_auth = [basic_auth]
        self.credentials = dict(basic_auth or [])
        self.model_files = list(models or DEFAULT_MODELS)
        self.upscaler_rows = list(upscalers or DEFAULT_UPSCALERS)
        self.nowebui = nowebui
        self._port = 0
        super().__init__(**kwargs)

    # ----------------------------------------------------------------- lifecycle
    def start(self) -> FakeA1111:
        with self._lock:
            if self._dead.is_set():
                self._dead = threading.Event()
        super().start()
        return self

    def stop(self) -> None:
        with self._lock:
            self._dead.set()
        super().stop()

    def die(self) -> None:
        """Stop answering at once: close the port, drop connections, lose the running job."""
        self.stop()

    def come_back(self) -> FakeA1111:
        """Listen again on the same port with fresh state (a restarted webui)."""
        with self._lock:
            self._fresh_runtime()
        return self.start()

    @property
    def alive(self) -> bool:
        return self._httpd is not None

    # ----------------------------------------------------------------- state
    def _fresh_runtime(self) -> None:
        self._dead = threading.Event()
        self.state = _State()
        self.queue_lock = threading.Lock()
        self.current_model = self.model_files[0]
        self._jobs: list[dict] = []

    def _reset_state(self) -> None:
        self._fresh_runtime()

    jobs = property(lambda self: self._snapshot("_jobs"), doc="finished generation jobs")

    def checkpoint(self, name: str) -> dict:
        sha = hashlib.sha256(name.encode()).hexdigest()
        stem = name.rsplit(".", 1)[0]
        return {
            "title": f"{name} [{sha[:10]}]",
            "model_name": stem.replace("/", "_"),
            "hash": sha[:8],
            "sha256": sha,
            "filename": f"/stable-diffusion-webui/models/Stable-diffusion/{name}",
            "config": None,
            "name": name,
            "name_for_extra": stem.rsplit("/", 1)[-1],
            "shorthash": sha[:10],
        }

    def _alias(self, value) -> str | None:
        """``sd_models.checkpoint_aliases`` lookup -> the checkpoint file name or None."""
        if not isinstance(value, str):
            return None
        for name in self.model_files:
            ck = self.checkpoint(name)
            ids = {
                ck["hash"],
                ck["model_name"],
                ck["title"],
                name,
                ck["name_for_extra"],
                f"{name} [{ck['hash']}]",
                ck["shorthash"],
                ck["sha256"],
                f"{name} [{ck['shorthash']}]",
            }
            if value in ids:
                return name
        return None

    # ----------------------------------------------------------------- errors
    def _http_error(self, err: _HTTPError) -> Resp:
        if self.flavor == "forge":
            return Resp(err.status, {"detail": err.detail}, dict(err.headers))
        return Resp(
            err.status,
            {
                "error": "HTTPException",
                "detail": err.detail,
                "body": "",
                "errors": f"{err.status}: {err.detail}",
            },
        )

    def _app_error(self, err: _AppError) -> Resp:
        key = "message" if self.flavor == "forge" else "errors"
        return Resp(500, {"error": err.name, "detail": "", "body": "", key: err.message})

    def _validation(self, errors: list[dict]) -> Resp:
        return Resp(422, {"detail": errors})

    def _err_item(self, loc: list, inv: _Invalid, value) -> dict:
        if self.flavor == "forge":
            msg, typ, *ctx = inv.v2
            item = {"type": typ, "loc": loc, "msg": msg, "input": value}
        else:
            msg, typ, *ctx = inv.v1
            item = {"loc": loc, "msg": msg, "type": typ}
        if ctx:
            item["ctx"] = ctx[0]
        return item

    def _missing_body(self) -> dict:
        if self.flavor == "forge":
            return {"type": "missing", "loc": ["body"], "msg": "Field required", "input": None}
        return {"loc": ["body"], "msg": "field required", "type": "value_error.missing"}

    # ----------------------------------------------------------------- request parsing
    def _read_json(self, req: Req):
        """FastAPI reads the body before dependencies run: bad JSON is 422 before auth."""
        if not req.body:
            return MISSING, None
        try:
            return json.loads(req.body), None
        except ValueError as exc:
            pos = getattr(exc, "pos", 0)
            if self.flavor == "forge":
                item = {
                    "type": "json_invalid",
                    "loc": ["body", pos],
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": getattr(exc, "msg", str(exc))},
                }
            else:
                item = {
                    "loc": ["body", pos],
                    "msg": str(exc),
                    "type": "value_error.jsondecode",
                    "ctx": {
                        "msg": getattr(exc, "msg", str(exc)),
                        "doc": req.body.decode("utf-8", "replace"),
                        "pos": pos,
                        "lineno": getattr(exc, "lineno", 1),
                        "colno": getattr(exc, "colno", 1),
                    },
                }
            return MISSING, self._validation([item])

    def _auth(self, req: Req) -> Resp | None:
        if not self.credentials:
            return None
        scheme, _, token = req.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic" or not token.strip():
            return self._http_error(
                _HTTPError(401, "Not authenticated", {"WWW-Authenticate": "Basic"})
            )
        try:
            user, _, password = base64.b64decode(token.strip()).decode("ascii").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return self._http_error(
                _HTTPError(401, "Invalid authentication credentials", {"WWW-Authenticate": "Basic"})
            )
        if user in self.credentials and self.credentials[user] == password:
            return None
        return self._http_error(
            _HTTPError(401, "Incorrect username or password", {"WWW-Authenticate": "Basic"})
        )

    def _validate(self, body, fields: list[tuple]) -> tuple[dict | None, Resp | None]:
        if body is MISSING:
            return None, self._validation([self._missing_body()])
        if not isinstance(body, dict):
            if self.flavor == "forge":
                item = {
                    "type": "model_attributes_type",
                    "loc": ["body"],
                    "msg": "Input should be a valid dictionary or object to extract fields from",
                    "input": body,
                }
            else:
                item = {
                    "loc": ["body"],
                    "msg": "value is not a valid dict",
                    "type": "type_error.dict",
                }
            return None, self._validation([item])
        out, errors = {}, []
        for row in fields:
            name, kind, default = row[0], row[1], row[2]
            nullable = row[3] if len(row) > 3 and isinstance(row[3], bool) else default is None
            bounds = row[3] if len(row) > 3 and isinstance(row[3], dict) else {}
            if name not in body:
                out[name] = json.loads(json.dumps(default))
                continue
            value = body[name]
            if value is None:
                if nullable:
                    out[name] = None
                else:
                    errors.append(self._none_error(name, kind, bounds))
                continue
            try:
                if kind == "list_str":
                    value = _coerce("list", value, self.flavor)
                    items = []
                    for i, item in enumerate(value):
                        try:
                            items.append(_coerce("str", item, self.flavor))
                        except _Invalid as inv:
                            errors.append(self._err_item(["body", name, i], inv, item))
                    out[name] = items
                    continue
                value = _coerce(kind, value, self.flavor)
                _check_bounds(value, bounds)
                out[name] = value
            except _Invalid as inv:
                errors.append(self._err_item(["body", name], inv, body[name]))
        if errors:
            return None, self._validation(errors)
        return out, None  # unknown keys are ignored (pydantic's default Extra.ignore)

    def _none_error(self, name: str, kind: str, bounds: dict) -> dict:
        if self.flavor == "forge":
            try:
                _coerce(kind if kind != "literal01" else "dict", object(), "forge")
            except _Invalid as inv:
                msg, typ = inv.v2[:2]
            if kind == "literal01":
                msg, typ = "Input should be 0 or 1", "literal_error"
            return {"type": typ, "loc": ["body", name], "msg": msg.split(",")[0], "input": None}
        return {
            "loc": ["body", name],
            "msg": "none is not an allowed value",
            "type": "type_error.none.not_allowed",
        }

    # ----------------------------------------------------------------- dispatch
    ROUTES = {
        "/sdapi/v1/txt2img": {"POST"},
        "/sdapi/v1/img2img": {"POST"},
        "/sdapi/v1/extra-single-image": {"POST"},
        "/sdapi/v1/progress": {"GET"},
        "/sdapi/v1/interrupt": {"POST"},
        "/sdapi/v1/skip": {"POST"},
        "/sdapi/v1/options": {"GET", "POST"},
        "/sdapi/v1/sd-models": {"GET"},
        "/sdapi/v1/samplers": {"GET"},
        "/sdapi/v1/schedulers": {"GET"},
        "/sdapi/v1/upscalers": {"GET"},
        "/internal/ping": {"GET"},
    }

    def handle_api(self, req: Req) -> Resp:
        with self._lock:
            dead = self._dead
        path = req.path.rstrip("/") if req.path != "/" else req.path
        methods = self.ROUTES.get(path)
        if path == "/internal/ping" and self.nowebui:
            methods = None
        if methods is None:
            return Resp(404, {"detail": "Not Found"})
        if req.method not in methods:
            return Resp(405, {"detail": "Method Not Allowed"}, {"Allow": ", ".join(methods)})
        if path == "/internal/ping":
            return Resp(200, {})
        body = MISSING
        if req.method == "POST":
            body, bad = self._read_json(req)
            if bad:
                return bad
        denied = self._auth(req)
        if denied:
            return denied
        try:
            return self._route(path, req, body, dead)
        except _HTTPError as err:
            return self._http_error(err)
        except _AppError as err:
            return self._app_error(err)

    def _route(self, path: str, req: Req, body, dead: threading.Event) -> Resp:
        name = path.rsplit("/", 1)[-1]
        if name == "txt2img":
            return self._generate("txt2img", body, dead)
        if name == "img2img":
            return self._generate("img2img", body, dead)
        if name == "extra-single-image":
            return self._extras(body)
        if name == "progress":
            return self._progress(req)
        if name == "interrupt":
            with self._lock:
                self.state.interrupted = True
            return Resp(200, {})
        if name == "skip":
            with self._lock:
                self.state.skipped = True
            return Resp(200, b"null")
        if name == "options":
            return self._options(req, body)
        if name == "sd-models":
            keys = ("title", "model_name", "hash", "sha256", "filename", "config")
            return Resp(200, [{k: self.checkpoint(m)[k] for k in keys} for m in self.model_files])
        if name == "samplers":
            return Resp(200, [{"name": n, "aliases": a, "options": o} for n, a, o in SAMPLERS])
        if name == "schedulers":
            return Resp(
                200,
                [
                    {
                        "name": n,
                        "label": lab,
                        "aliases": al,
                        "default_rho": rho,
                        "need_inner_model": inner,
                    }
                    for n, lab, al, rho, inner in SCHEDULERS
                ],
            )
        if name == "upscalers":
            return Resp(
                200,
                [
                    {
                        "name": n,
                        "model_name": mn,
                        "model_path": mp,
                        "model_url": None,
                        "scale": float(s),
                    }
                    for n, mn, mp, s in self.upscaler_rows
                ],
            )
        raise AssertionError(path)

    # ----------------------------------------------------------------- small routes
    def _options(self, req: Req, body) -> Resp:
        if req.method == "GET":
            ck = self.checkpoint(self.current_model)
            return Resp(
                200,
                {
                    "sd_model_checkpoint": ck["title"],
                    "sd_checkpoint_hash": ck["sha256"],
                    "samples_format": "png",
                    "CLIP_stop_at_last_layers": 1,
                    "show_progress_every_n_steps": 10,
                    "live_previews_enable": True,
                    "return_grid": True,
                    "grid_only_if_multiple": True,
                    "api_enable_requests": True,
                    "api_forbid_local_requests": True,
                },
            )
        if body is MISSING:
            return self._validation([self._missing_body()])
        if not isinstance(body, dict):
            inv = _Invalid(
                ("value is not a valid dict", "type_error.dict"),
                ("Input should be a valid dictionary", "dict_type"),
            )
            return self._validation([self._err_item(["body"], inv, body)])
        if "sd_model_checkpoint" in body and body["sd_model_checkpoint"] is not None:
            found = self._alias(body["sd_model_checkpoint"])
            if found is None:
                raise _AppError("RuntimeError", f"model {body['sd_model_checkpoint']!r} not found")
            with self._lock:
                self.current_model = found
        return Resp(200, b"null")

    def _progress(self, req: Req) -> Resp:
        raw = req.query.get("skip_current_image")
        skip = False
        if raw is not None:
            try:
                skip = _coerce("bool", raw, self.flavor)
            except _Invalid as inv:
                return self._validation([self._err_item(["query", "skip_current_image"], inv, raw)])
        with self._lock:
            st = self.state
            if st.job_count == 0:
                return Resp(
                    200,
                    {
                        "progress": 0,
                        "eta_relative": 0,
                        "state": st.dict(),
                        "current_image": None,
                        "textinfo": None,
                    },
                )
            progress = 0.01
            if st.job_count > 0:
                progress += st.job_no / st.job_count
            if st.sampling_steps > 0 and st.job_count > 0:
                progress += 1 / st.job_count * st.sampling_step / st.sampling_steps
            elapsed = time.time() - st.time_start
            eta_relative = elapsed / progress - elapsed
            image = st.current_image
            return Resp(
                200,
                {
                    "progress": min(progress, 1),
                    "eta_relative": eta_relative,
                    "state": st.dict(),
                    "current_image": None if (skip or image is None) else image,
                    "textinfo": None,
                },
            )

    # ----------------------------------------------------------------- images in
    def _decode(self, encoding) -> Image.Image:
        """``decode_base64_to_image``."""
        if not isinstance(encoding, str):
            raise _AppError(
                "AttributeError",
                f"'{type(encoding).__name__}' object has no attribute 'startswith'",
            )
        if encoding.startswith(("http://", "https://")):
            raise _HTTPError(500, "Request to local resource not allowed")
        if encoding.startswith("data:image/"):
            try:
                encoding = encoding.split(";")[1].split(",")[1]
            except IndexError:
                raise _AppError("IndexError", "list index out of range") from None
        try:
            img = Image.open(io.BytesIO(base64.b64decode(encoding)))
        except (binascii.Error, UnidentifiedImageError, ValueError, OSError):
            raise _HTTPError(500, "Invalid encoded image") from None
        try:
            img.load()
        except OSError as exc:
            raise _AppError("OSError", str(exc)) from None
        return img

    # ----------------------------------------------------------------- generation
    def _generate(self, kind: str, body, dead: threading.Event) -> Resp:
        fields = _model_fields(kind, self.flavor)
        args, bad = self._validate(body, fields)
        if bad:
            return bad
        mask = None
        if kind == "img2img":
            if args["init_images"] is None:
                raise _HTTPError(404, "Init image not found")
            if args["mask"]:
                mask = self._decode(args["mask"])
        sampler, scheduler = self._sampler_and_scheduler(
            args["sampler_name"] or args["sampler_index"], args["scheduler"]
        )
        parameters = dict(args)
        if kind == "img2img" and not args["include_init_images"]:
            parameters["init_images"] = None
            parameters["mask"] = None
        parameters.pop("include_init_images", None)
        try:
            with self.queue_lock:
                if dead.is_set():
                    raise _Lost()
                inits = None
                if kind == "img2img":
                    inits = [self._decode(x) for x in args["init_images"]]
                    if not inits:
                        raise _AppError("IndexError", "list index out of range")
                try:
                    with self._lock:
                        self.state.begin(f"scripts_{kind}")
                    result = self._run(kind, args, sampler, scheduler, inits, mask, dead)
                finally:
                    with self._lock:
                        if not dead.is_set():
                            self.state.end()
        except _Lost:
            return Resp(0)
        images, info = result
        return Resp(
            200,
            {
                "images": images if args["send_images"] else [],
                "parameters": parameters,
                "info": info,
            },
        )

    def _sampler_and_scheduler(self, sampler_name, scheduler_name) -> tuple[str, str]:
        """``sd_samplers.get_sampler_and_scheduler`` (unknown names fall back, never refuse)."""
        by_key = {}
        for n, label, _aliases, _rho, _inner in SCHEDULERS:
            for key in (n, label):
                by_key[key] = label
        found = by_key.get(scheduler_name, "Automatic")
        name = sampler_name or SAMPLERS[0][0]
        for n, label, aliases, _rho, _inner in SCHEDULERS:
            for option in [label, n, *(aliases or [])]:
                if name.endswith(" " + option):
                    found = label
                    name = name[: -(len(option) + 1)]
                    break
        names = {s[0]: s for s in SAMPLERS}
        sampler = names.get(name, SAMPLERS[0])
        default_sched = sampler[2].get("scheduler")
        if default_sched and by_key.get(default_sched) == found:
            found = "Automatic"
        return sampler[0], found

    def _run(self, kind, args, sampler, scheduler, inits, mask, dead) -> tuple[list, str]:
        steps_delay = float(self.opt("step_seconds", 0.05 if self.scenario == "slow" else 0.002))
        override = args["override_settings"] or {}
        model = self._alias(override.get("sd_model_checkpoint")) or self.current_model
        ck = self.checkpoint(model)
        width, height = args["width"], args["height"]
        if width < 8 or height < 8:
            raise _AppError(
                "RuntimeError", "cannot reshape tensor of 0 elements into shape [1, 4, 0, -1]"
            )
        seed = args["seed"]
        if seed is None or seed == -1:
            seed = int(random.randrange(4294967294))
        subseed = args["subseed"]
        if subseed is None or subseed == -1:
            subseed = int(random.randrange(4294967294))
        batch_size, n_iter, steps = (
            max(1, args["batch_size"]),
            max(1, args["n_iter"]),
            args["steps"],
        )
        total = batch_size * n_iter
        sub_strength = args["subseed_strength"] or 0
        all_seeds = [seed + (i if sub_strength == 0 else 0) for i in range(total)]
        all_subseeds = [subseed + i for i in range(total)]
        out_w, out_h = width // 8 * 8, height // 8 * 8
        if kind == "txt2img" and args["enable_hr"]:
            if args["hr_resize_x"] or args["hr_resize_y"]:
                out_w = args["hr_resize_x"] or int(width * args["hr_resize_y"] / height)
                out_h = args["hr_resize_y"] or int(height * args["hr_resize_x"] / width)
            else:
                out_w, out_h = int(width * args["hr_scale"]), int(height * args["hr_scale"])
        denoise = args["denoising_strength"]
        extra = {} if scheduler == "Automatic" else {"Schedule type": scheduler}
        base_image, bin_mask = None, None
        if kind == "img2img":
            base_image, bin_mask, out_w, out_h = self._img2img_base(
                args, inits[0], mask, out_w, out_h
            )
            extra["Denoising strength"] = denoise
        fail = self.scenario == "fail"
        fail_at = int(self.opt("at_step", 1))
        with self._lock:
            st = self.state
            st.job_count = n_iter
            st.sampling_steps = steps
        images, infotexts, interrupted = [], [], False
        for n in range(n_iter):
            with self._lock:
                if st.skipped:
                    st.skipped = False
                if st.interrupted:
                    interrupted = True
                    break
                st.sampling_step = 0
                if n_iter > 1:
                    st.job = f"Batch {n + 1} out of {n_iter}"
            for step in range(steps):
                if dead.wait(steps_delay):
                    raise _Lost()
                if fail and step + 1 >= fail_at:
                    raise _AppError(
                        str(self.opt("error", "OutOfMemoryError")),
                        str(self.opt("message", "CUDA out of memory. Tried to allocate 2.00 GiB")),
                    )
                with self._lock:
                    if st.interrupted or st.skipped:
                        interrupted = interrupted or st.interrupted
                        break
                    st.sampling_step = step + 1
                    if (step + 1) % 10 == 0:
                        st.current_image = _b64png(
                            Image.new("RGB", (64, 64), _seed_color(all_seeds[n * batch_size]))
                        )
            for b in range(batch_size):
                i = n * batch_size + b
                text = (
                    f"{args['prompt']}\nNegative prompt: {args['negative_prompt']}\n"
                    f"Steps: {steps}, Sampler: {sampler}, CFG scale: {args['cfg_scale']}, "
                    f"Seed: {all_seeds[i]}, Size: {width}x{height}, Model hash: "
                    f"{ck['shorthash']}, Model: {ck['name_for_extra']}"
                )
                if scheduler != "Automatic":
                    text += f", Schedule type: {scheduler}"
                images.append(
                    self._picture(all_seeds[i], out_w, out_h, base_image, bin_mask, denoise)
                )
                infotexts.append(text)
            with self._lock:
                st.job_no += 1
                st.sampling_step = 0
                if st.interrupted:
                    interrupted = True
        encoded = [_b64png(img, t) for img, t in zip(images, infotexts, strict=True)]
        index_of_first_image = 0
        if args["save_images"] and len(images) >= 2:  # return_grid, not do_not_save_grid
            grid = Image.new("RGB", (out_w * len(images), out_h))
            for i, img in enumerate(images):
                grid.paste(img, (i * out_w, 0))
            encoded.insert(0, _b64png(grid, infotexts[0]))
            infotexts.insert(0, infotexts[0])
            index_of_first_image = 1
        info = {
            "prompt": args["prompt"],
            "all_prompts": [args["prompt"]] * total,
            "negative_prompt": args["negative_prompt"],
            "all_negative_prompts": [args["negative_prompt"]] * total,
            "seed": seed,
            "all_seeds": all_seeds,
            "subseed": subseed,
            "all_subseeds": all_subseeds,
            "subseed_strength": sub_strength,
            "width": width,
            "height": height,
            "sampler_name": sampler,
            "cfg_scale": args["cfg_scale"],
            "steps": steps,
            "batch_size": batch_size,
            "restore_faces": bool(args["restore_faces"]),
            "face_restoration_model": None,
            "sd_model_name": ck["name_for_extra"],
            "sd_model_hash": ck["shorthash"],
            "sd_vae_name": None,
            "sd_vae_hash": None,
            "seed_resize_from_w": args["seed_resize_from_w"],
            "seed_resize_from_h": args["seed_resize_from_h"],
            "denoising_strength": denoise,
            "extra_generation_params": extra,
            "index_of_first_image": index_of_first_image,
            "infotexts": infotexts,
            "styles": args["styles"] or [],
            "job_timestamp": st.job_timestamp,
            "clip_skip": 1,
            "is_using_inpainting_conditioning": False,
            "version": "f2.0.1v1.10.1" if self.flavor == "forge" else "v1.10.1",
        }
        with self._lock:
            self._jobs.append(
                {
                    "kind": kind,
                    "images": len(images),
                    "interrupted": interrupted,
                    "seed": seed,
                    "model": model,
                    "sampler": sampler,
                    "size": (out_w, out_h),
                }
            )
        return encoded, json.dumps(info)

    def _img2img_base(self, args, init: Image.Image, mask, out_w, out_h):
        init = init.convert("RGB")
        resized = init.resize((out_w, out_h))
        if mask is None:
            return resized, None, out_w, out_h
        bin_mask = _binary_mask(mask)
        if args["inpainting_mask_invert"]:
            bin_mask = bin_mask.point(lambda x: 255 - x)
        if args["inpaint_full_res"] and bin_mask.getbbox() is not None:
            # "Only masked": processed at width x height, pasted back on the init image
            return init, bin_mask.resize(init.size), init.width, init.height
        return resized, bin_mask.resize((out_w, out_h)), out_w, out_h

    def _picture(self, seed, w, h, base, bin_mask, denoise) -> Image.Image:
        color = Image.new("RGB", (w, h), _seed_color(seed))
        if base is None:
            return color
        if bin_mask is None:
            return Image.blend(base, color, float(denoise if denoise is not None else 0.75))
        out = base.copy()
        out.paste(color, (0, 0), bin_mask)
        return out

    # ----------------------------------------------------------------- extras
    def _extras(self, body) -> Resp:
        args, bad = self._validate(body, _EXTRAS)
        if bad:
            return bad
        image = self._decode(args["image"]).convert("RGB")
        names = [row[0] for row in self.upscaler_rows]
        up1 = None if args["upscaler_1"] == "None" else args["upscaler_1"]
        with self.queue_lock:
            if up1 is not None and up1 not in names:
                raise _AppError("AssertionError", f"could not find upscaler named {up1}")
            up2 = None if args["upscaler_2"] == "None" else args["upscaler_2"]
            if up2 is not None and up2 not in names:
                raise _AppError("AssertionError", f"could not find upscaler named {up2}")
            info = {}
            if up1 is not None:
                if args["resize_mode"] == 1:
                    tw, th = args["upscaling_resize_w"], args["upscaling_resize_h"]
                    scale = max(tw / image.width, th / image.height)
                    info["Postprocess upscale to"] = f"{tw}x{th}"
                else:
                    scale = args["upscaling_resize"]
                    info["Postprocess upscale by"] = scale
                dest = (int((image.width * scale) // 8 * 8), int((image.height * scale) // 8 * 8))
                image = image.resize(dest)
                if args["resize_mode"] == 1 and args["upscaling_crop"]:
                    cropped = Image.new("RGB", (tw, th))
                    cropped.paste(image, (tw // 2 - image.width // 2, th // 2 - image.height // 2))
                    image = cropped
                    info["Postprocess crop to"] = f"{tw}x{th}"
                info["Postprocess upscaler"] = up1
        text = ", ".join(f"{k}: {v}" for k, v in info.items())
        return Resp(200, {"html_info": f"<p>{text}</p>", "image": _b64png(image)})

    # ----------------------------------------------------------------- writing
    def _write(self, h, resp: Resp) -> None:
        if resp.status == 0:  # the job was lost with the server: just drop the connection
            h.close_connection = True
            with contextlib.suppress(OSError):
                h.connection.shutdown(2)
            return
        super()._write(h, resp)
