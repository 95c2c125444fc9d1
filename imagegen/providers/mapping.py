"""Unified request → a model's native inputs, driven by the catalog's ``inputs`` mapping.

``inputs`` maps unified names (size, width, height, num_images, steps, cfg_scale, seed,
negative_prompt) to the model's own input names. ``size`` takes the native value for the
requested WxH from ``native_sizes`` (an aspect ratio or a preset name) or, for free-size
models without a preset for it, ``{"width": w, "height": h}``. Custom catalog models use the
same mapping, so an admin can add one without code.
"""

from typing import Any

from imagegen.providers.base import GenerationRequest, ModelSpec


def native_size(spec: ModelSpec, request: GenerationRequest):
    key = f"{request.width}x{request.height}"
    if key in spec.native_sizes:
        return spec.native_sizes[key]
    return {"width": request.width, "height": request.height}


def native_inputs(spec: ModelSpec, request: GenerationRequest) -> dict[str, Any]:
    """The model's input object for this request: fixed inputs, mapped fields, then params."""
    out: dict[str, Any] = dict(spec.fixed_inputs)
    out["prompt"] = request.prompt
    names = spec.inputs
    if "size" in names:
        out[names["size"]] = native_size(spec, request)
    values = {
        "width": request.width,
        "height": request.height,
        "num_images": request.num_images,
        "steps": request.steps,
        "cfg_scale": request.cfg_scale,
        "seed": request.seed,
        "negative_prompt": request.negative_prompt or None,
    }
    for unified, value in values.items():
        if unified in names and value is not None:
            out[names[unified]] = value
    out.update(request.params)
    return out
