"""Unified request → a model's native inputs, driven by the catalog's ``inputs`` mapping.

``inputs`` maps unified names (size, width, height, num_images, steps, cfg_scale, seed,
negative_prompt, and for image operations image, images, mask, strength, scale) to the
model's own input names. ``image`` takes the first input image and ``images`` the list of
them, each as a data URI (providers never get a URL of this server); ``mask`` takes the
mask as a PNG data URI in the app's convention (white = change), which is FLUX Fill's too;
a provider whose model wants another convention converts it before calling here.

``size`` takes the native value for the requested WxH from ``native_sizes`` (an aspect
ratio or a preset name) or, for free-size models without a preset for it, ``{"width": w,
"height": h}``. Custom catalog models use the same mapping, so an admin can add one without
code.
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
    names = spec.inputs
    # ``"prompt": null`` in ``inputs``: the model takes no prompt (an upscaler, a background
    # remover), so none is sent.
    prompt_name = names.get("prompt", "prompt")
    if prompt_name:
        out[prompt_name] = request.prompt
    if "size" in names and request.operation in ("generate", "edit"):
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
    if request.input_images:
        values["image"] = request.input_images[0].data_uri()
        values["images"] = [image.data_uri() for image in request.input_images]
    if request.mask is not None:
        values["mask"] = request.mask.data_uri()
    values["strength"] = request.strength
    values["scale"] = request.scale
    for unified, value in values.items():
        if unified in names and names[unified] and value is not None:
            out[names[unified]] = value
    out.update(request.params)
    return out


def native_payload(spec: ModelSpec, request: GenerationRequest) -> dict[str, Any]:
    """``native_inputs``, except that an image operation whose size is none of a fixed-size
    model's own (an edit at the input's shape) sends no size: the model keeps the input's
    (Kontext's and Gemini's ``match_input_image`` / ``auto``), where the free-size fallback
    would be a value the model refuses."""
    payload = native_inputs(spec, request)
    size = f"{request.width}x{request.height}"
    if request.operation != "generate" and spec.sizes and size not in spec.native_sizes:
        payload.pop(spec.inputs.get("size"), None)
    return payload
