"""Model input schemas (JSON Schema / OpenAPI) as the providers publish them.

``resolve_refs`` inlines local ``$ref`` pointers (``#/components/schemas/…``), so a model's
input schema can be read on its own: Replicate's OpenAPI puts each enum in a component
(``aspect_ratio: {allOf: [{$ref: "#/components/schemas/aspect_ratio"}]}``) and fal's
endpoint documents do the same for their input and image-size types.
"""

import math
from dataclasses import dataclass, field
from typing import Any

MAX_DEPTH = 32


def _pointer(root: dict, ref: str) -> Any:
    if not ref.startswith("#/"):
        raise ValueError(f"only local references are read: {ref!r}")
    node: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise ValueError(f"unresolvable reference: {ref!r}")
        node = node[part]
    return node


def resolve_refs(node: Any, root: dict, _depth: int = 0, _seen: tuple = ()) -> Any:
    """``node`` with every local ``$ref`` replaced by what it points at (sibling keys of the
    ``$ref`` are kept; a reference cycle is cut with an empty schema). ValueError when a
    reference cannot be resolved or the document nests too deep."""
    if _depth > MAX_DEPTH:
        raise ValueError("the schema nests too deep")
    if isinstance(node, list):
        return [resolve_refs(item, root, _depth + 1, _seen) for item in node]
    if not isinstance(node, dict):
        return node
    if isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        if ref in _seen:
            return siblings
        target = resolve_refs(_pointer(root, ref), root, _depth + 1, (*_seen, ref))
        merged = {**target, **resolve_refs(siblings, root, _depth + 1, _seen)}
        return merged
    return {key: resolve_refs(value, root, _depth + 1, _seen) for key, value in node.items()}


# --- A catalog spec from a model's input schema ------------------------------------------------
# ``spec_from_schema`` reads what a provider publishes about a model's input (Replicate's
# OpenAPI ``Input`` component, fal's endpoint request body) and writes the catalog's own spec
# (the keys of catalog.json), so that a model the provider newly lists can be enabled by an
# admin without a code change. It is defensive: a schema is data from the internet, and a
# refresh must never crash on one, so anything it does not understand is skipped (and said).

# Property names, in order of preference, for each unified field.
STEP_NAMES = ("num_inference_steps", "steps", "num_steps")
GUIDANCE_NAMES = ("guidance_scale", "guidance", "cfg", "cfg_scale")
COUNT_NAMES = ("num_outputs", "num_images")
# Inputs that carry an image (or a mask): the model edits, inpaints, upscales or cuts out
# (docs/image-operations.md). A model that REQUIRES one is not a text-to-image model: it is
# offered for its image operations only, its first image input mapped to the unified ``image``
# (or, when it takes a list, ``images``), its mask to ``mask``.
IMAGE_INPUTS = (
    "image_url",
    "image_urls",
    "input_image",
    "input_images",
    "image_input",
    "image",
    "images",
    "init_image",
    "image_prompt",
    "reference_image",
    "reference_images",
    "control_image",
)
MASK_INPUTS = ("mask", "mask_url", "mask_image", "mask_image_url")
# An upscaler's factor and an image-to-image strength, when the schema takes them as numbers.
SCALE_NAMES = ("upscale_factor", "scale", "upscaling_factor")
STRENGTH_NAMES = ("strength", "prompt_strength", "image_strength")
UPSCALE_FACTORS = (2, 4)  # the factors the site offers (ModelSpec.scales)
# Inputs never offered to users: they change how the answer is delivered, not the image.
DELIVERY_INPUTS = ("sync_mode", "webhook", "webhook_url", "webhook_events_filter")
# Safety switches are pinned in ``fixed_inputs`` to the value that keeps the provider's checker
# on (Replicate's ``disable_safety_checker: boolean``, fal's ``enable_safety_checker``), never
# offered to users.
SAFETY_PINNED = {
    "disable_safety_checker": False,
    "enable_safety_checker": True,
    "safety_checker": True,
}
# How permissive the provider's moderation is (FLUX Pro/Ultra): users may lower it, never
# raise it past the model's default.
TOLERANCE_INPUTS = ("safety_tolerance",)
# fal's image-size presets and the pixel sizes fal documents for them (fal's "Model
# endpoints" reference, ImageSize presets; the same table is in shared/providers.md 3.2).
FAL_PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
MAX_PROPERTIES = 200  # a schema with more is read up to here
MAX_OPTION_VALUES = 50  # a longer enum is passed through as given, not offered as a list
MAX_INT_OPTIONS = 10  # an integer range this small is offered as a list (1..5 → [1, …, 5])
SIDE_LIMITS = (64, 4096)  # free sizes are kept within what the site stores
ONE_MEGAPIXEL = 1024 * 1024


@dataclass
class DerivedSpec:
    """A spec derived from a schema, and what the derivation noticed, in words."""

    spec: dict
    notes: list[str] = field(default_factory=list)

    @property
    def text_to_image(self) -> bool:
        return bool(self.spec.get("text_to_image"))

    @property
    def drivable(self) -> bool:
        """Whether the site can run it as it is: it performs at least one operation (from a
        prompt, or on input images) and no required input is left unfilled."""
        return bool(self.spec.get("operations")) and not self.spec.get("unmapped_required")


def _number(value) -> float | int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _flatten(node: Any, depth: int = 0) -> dict:
    """A property schema with its ``allOf`` members merged in (Replicate wraps every enum as
    ``allOf: [{$ref: …}]`` beside the property's own default and description)."""
    if not isinstance(node, dict) or depth > 8:
        return {}
    out = {key: value for key, value in node.items() if key != "allOf"}
    parts = node.get("allOf")
    for part in parts if isinstance(parts, list) else ():
        for key, value in _flatten(part, depth + 1).items():
            out.setdefault(key, value)
    return out


def _variants(node: dict) -> list[dict]:
    """The alternatives of an ``anyOf``/``oneOf`` (a nullable field is ``anyOf`` its type and
    null), each flattened; the node itself when it has none."""
    for key in ("anyOf", "oneOf"):
        members = node.get(key)
        if isinstance(members, list) and members:
            flat = [_flatten(member) for member in members[:MAX_OPTION_VALUES]]
            return [m for m in flat if m and m.get("type") != "null"]
    return [node]


def _types(node: dict) -> set[str]:
    kinds = node.get("type")
    if isinstance(kinds, str):
        return {kinds}
    if isinstance(kinds, list):
        return {k for k in kinds if isinstance(k, str)}
    return set()


def _enum(node: dict) -> list | None:
    """The enum's scalar values (a ``const`` is a one-value enum), or None."""
    values = node.get("enum")
    if not isinstance(values, list) and "const" in node:
        values = [node["const"]]
    if not isinstance(values, list):
        return None
    scalars = [v for v in values if isinstance(v, str | int | float | bool) and v is not None]
    return scalars or None


def _bounds(node: dict, integer: bool) -> tuple[float | None, float | None]:
    low, high = _number(node.get("minimum")), _number(node.get("maximum"))
    exclusive_low = _number(node.get("exclusiveMinimum"))
    exclusive_high = _number(node.get("exclusiveMaximum"))
    step = 1 if integer else 0
    if low is None and exclusive_low is not None:
        low = exclusive_low + step
    if high is None and exclusive_high is not None:
        high = exclusive_high - step
    return low, high


def _range(node: dict, *, integer: bool, fallback: tuple) -> tuple[list, Any]:
    """``[low, high]`` and the default of a numeric property, with ``fallback`` for a bound
    the schema leaves open."""
    low, high = _bounds(node, integer)
    low = fallback[0] if low is None else low
    high = fallback[1] if high is None else high
    if high < low:
        low, high = high, low
    default = _number(node.get("default"))
    if default is not None and not low <= default <= high:
        default = None
    if integer:
        return [int(low), int(high)], int(default) if default is not None else None
    return [low, high], default


def _ratio_size(ratio: str) -> str | None:
    """``"16:9"`` → a ``WxH`` of about one megapixel in multiples of 16 (``1360x768``)."""
    parts = ratio.split(":") if isinstance(ratio, str) else []
    if len(parts) != 2:
        return None
    try:
        across, down = float(parts[0]), float(parts[1])
    except ValueError:
        return None
    if not (0 < across <= 100 and 0 < down <= 100):
        return None
    width = math.sqrt(ONE_MEGAPIXEL * across / down)
    height = width * down / across
    width, height = (max(16, round(side / 16) * 16) for side in (width, height))
    return f"{width}x{height}"


def _first_default(values: list, default) -> list:
    """The values with the schema's default first (the Generate page's first is its default)."""
    if default in values:
        return [default, *(v for v in values if v != default)]
    return values


def _sizes_from_ratios(node: dict) -> list[list] | None:
    ratios = _enum(node)
    if not ratios:
        return None
    pairs, seen = [], set()
    for ratio in _first_default(ratios, node.get("default")):
        size = _ratio_size(ratio)
        if size and size not in seen:
            seen.add(size)
            pairs.append([size, ratio])
    return pairs or None


def _free_sizes(width: dict, height: dict) -> dict | None:
    """min/max/multiple shared by a width and a height property, within SIDE_LIMITS."""
    if not ({"integer", "number"} & _types(width) and {"integer", "number"} & _types(height)):
        return None
    lows, highs, steps = [], [], []
    for node in (width, height):
        low, high = _bounds(node, integer=True)
        lows.append(low if low is not None else SIDE_LIMITS[0])
        highs.append(high if high is not None else SIDE_LIMITS[1])
        step = _number(node.get("multipleOf"))
        steps.append(int(step) if step and step >= 1 else 1)
    low = int(max(SIDE_LIMITS[0], *lows))
    high = int(min(SIDE_LIMITS[1], *highs))
    if high < low:
        return None
    return {"min_size": low, "max_size": high, "size_multiple": max(steps)}


def _fal_image_size(node: dict) -> dict:
    """fal's ``image_size``: anyOf an ImageSize object (free width/height) and an enum of
    presets (square_hd, landscape_16_9, …)."""
    presets: list[list] = []
    free = None
    default = node.get("default")
    for variant in _variants(node):
        names = _enum(variant)
        if names:
            for name in _first_default(names, default):
                if name in FAL_PRESETS:
                    width, height = FAL_PRESETS[name]
                    presets.append([f"{width}x{height}", name])
        props = variant.get("properties")
        if isinstance(props, dict) and "width" in props and "height" in props:
            free = _free_sizes(_flatten(props["width"]), _flatten(props["height"]))
    out: dict = {}
    if free:
        out.update(free)
        if presets:
            out["presets"] = dict(presets)
    elif presets:
        out["sizes"] = presets
    return out


def _scalar_option(node: dict) -> list | None:
    """The values a user may choose for an extra input: an enum, a boolean, a small integer
    range; None when it is free (passed through as given)."""
    values = _enum(node)
    if values:
        return (
            _first_default(values, node.get("default"))
            if len(values) <= MAX_OPTION_VALUES
            else None
        )
    kinds = _types(node)
    if "boolean" in kinds:
        return [True, False]
    if "integer" in kinds:
        low, high = _bounds(node, integer=True)
        if low is not None and high is not None and 0 <= high - low < MAX_INT_OPTIONS:
            return list(range(int(low), int(high) + 1))
    return None


def _level(value) -> float | None:
    """A tolerance level as a number (fal writes them as strings, "1" … "6")."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return None
    number = _number(value)
    return float(number) if number is not None else None


def _capped_tolerance(values: list | None, default) -> list | None:
    """A tolerance's offered values up to the schema's default, the default first (all of
    them when it has no default); None when nothing can be offered."""
    if values is None:
        return None
    ceiling = _level(default)
    if ceiling is None:
        return values
    capped = [
        value for value in values if (level := _level(value)) is not None and level <= ceiling
    ]
    return _first_default(capped, default) or None


def _operations(props: dict, model_id: str, takes_prompt: bool) -> list[str]:
    images = [name for name in IMAGE_INPUTS if name in props]
    masks = [name for name in MASK_INPUTS if name in props]
    hint = model_id.lower()
    operations = []
    if images and ("upscal" in hint or set(SCALE_NAMES) & set(props)):
        operations.append("upscale")
    if images and ("background" in hint or "rembg" in hint or "bg-remov" in hint):
        operations.append("remove_background")
    if masks:
        operations.append("inpaint")
    if images and takes_prompt and not {"upscale", "remove_background"} & set(operations):
        operations.append("edit")
    return operations


def _map_image_inputs(props: dict, operations: list[str], spec: dict, notes: list) -> set:
    """Map the image inputs of a model that performs image operations into ``spec["inputs"]``
    (image or images, mask, scale, strength) and write ``max_input_images``, ``scales`` and
    ``strength``; the names it mapped."""
    inputs, mapped = spec["inputs"], set()
    names = [name for name in IMAGE_INPUTS if name in props]
    single = [name for name in names if "array" not in _types(props[name])]
    lists = [name for name in names if "array" in _types(props[name])]
    if single:
        inputs["image"] = single[0]
        spec["max_input_images"] = 1
    elif lists:
        inputs["images"] = lists[0]
        most = _number(props[lists[0]].get("maxItems"))
        spec["max_input_images"] = int(most) if most and most >= 1 else 1
        if not most:
            notes.append(
                f"it takes a list of images ({lists[0]}) with no published maximum: one image "
                "until an admin sets max_input_images"
            )
    masks = [name for name in MASK_INPUTS if name in props]
    if "inpaint" in operations and masks:
        inputs["mask"] = masks[0]
    if "upscale" in operations:
        name = next((n for n in SCALE_NAMES if n in props), None)
        if name and {"integer", "number"} & _types(props[name]):
            low, high = _bounds(props[name], integer=False)
            factors = [f for f in UPSCALE_FACTORS if (low is None or low <= f) and
                       (high is None or f <= high)]  # fmt: skip
            if factors:
                inputs["scale"], spec["scales"] = name, factors
                mapped.add(name)
        if "scale" not in inputs:
            notes.append("its upscale factor is not a number the site can send: the model's "
                         "default applies")  # fmt: skip
    name = next((n for n in STRENGTH_NAMES if n in props), None)
    if name and {"integer", "number"} & _types(props[name]) and "edit" in operations:
        low, high = _bounds(props[name], integer=False)
        low, high = max(0.0, low if low is not None else 0.0), min(1.0, high if high else 1.0)
        if low < high:
            inputs["strength"], spec["strength"] = name, [low, high]
            mapped.add(name)
    return mapped


def derive_spec(input_schema: Any, provider: str = "", model_id: str = "") -> DerivedSpec:
    """The catalog spec (catalog.json keys) for a model whose input is ``input_schema``, and
    notes in words on what could not be mapped. Besides the spec keys it writes
    ``operations`` (generate, edit, inpaint, upscale, remove_background; a model that needs an
    input image is offered for its image operations only), ``text_to_image`` (False: the model
    needs an input image, or takes no prompt) and ``unmapped_required`` (required inputs
    without a default that the site cannot fill: the model is not drivable until an admin
    fills them with ``fixed_inputs``)."""
    notes: list[str] = []
    spec: dict = {
        "max_images": 1,
        "steps": None,
        "cfg_scale": None,
        "negative_prompt": False,
        "seed": False,
        "inputs": {},
        "options": {},
        "passthrough": [],
    }
    if not isinstance(input_schema, dict):
        notes.append("its input schema is not a JSON object")
        return DerivedSpec({**spec, "text_to_image": False, "operations": []}, notes)
    try:
        schema = resolve_refs(input_schema, input_schema)
    except (ValueError, RecursionError, TypeError) as exc:
        notes.append(f"its input schema could not be read in full ({str(exc)[:100]})")
        schema = input_schema  # read what is there; references stay unresolved
    schema = _flatten(schema)
    raw = schema.get("properties")
    props = {
        name: _flatten(node)
        for name, node in list(raw.items() if isinstance(raw, dict) else ())[:MAX_PROPERTIES]
        if isinstance(name, str)
    }
    required = schema.get("required")
    required = (
        [name for name in required if isinstance(name, str)] if isinstance(required, list) else []
    )
    inputs: dict = spec["inputs"]
    mapped: set[str] = set()

    takes_prompt = "prompt" in props
    if takes_prompt:
        mapped.add("prompt")
        length = _number(props["prompt"].get("maxLength"))
        if length and length >= 1:
            spec["max_prompt_length"] = int(length)
    if "negative_prompt" in props:
        spec["negative_prompt"] = True
        inputs["negative_prompt"] = "negative_prompt"
        mapped.add("negative_prompt")
    if "seed" in props:
        spec["seed"] = True
        inputs["seed"] = "seed"
        mapped.add("seed")
    for name in STEP_NAMES:
        if name in props and {"integer", "number"} & _types(props[name]):
            spec["steps"], default = _range(props[name], integer=True, fallback=(1, 150))
            if default is not None:
                spec["default_steps"] = default
            inputs["steps"] = name
            mapped.add(name)
            break
    for name in GUIDANCE_NAMES:
        if name in props and {"integer", "number"} & _types(props[name]):
            spec["cfg_scale"], default = _range(props[name], integer=False, fallback=(0, 30))
            if default is not None:
                spec["default_cfg_scale"] = default
            inputs["cfg_scale"] = name
            mapped.add(name)
            break
    for name in COUNT_NAMES:
        if name in props and {"integer", "number"} & _types(props[name]):
            (_, high), _ = _range(props[name], integer=True, fallback=(1, 4))
            spec["max_images"] = max(1, min(int(high), 10))
            inputs["num_images"] = name
            mapped.add(name)
            break

    sizes = None
    if "aspect_ratio" in props:
        sizes = _sizes_from_ratios(props["aspect_ratio"])
        if sizes:
            spec["sizes"] = sizes
            inputs["size"] = "aspect_ratio"
            mapped.add("aspect_ratio")
    if not sizes and "image_size" in props:
        found = _fal_image_size(props["image_size"])
        if found:
            spec.update(found)
            inputs["size"] = "image_size"
            mapped.add("image_size")
            sizes = True
    if not sizes and "width" in props and "height" in props:
        free = _free_sizes(props["width"], props["height"])
        if free:
            spec.update(free)
            inputs["width"], inputs["height"] = "width", "height"
            mapped.update(("width", "height"))
            sizes = True
    if not sizes:
        spec["sizes"] = [["1024x1024", "1024x1024"]]
        notes.append("it takes no size the catalog can read: the model picks it")

    image_inputs = [name for name in (*IMAGE_INPUTS, *MASK_INPUTS) if name in props]
    needs_image = [name for name in image_inputs if name in required]
    operations = _operations(props, model_id, takes_prompt)
    text_to_image = takes_prompt and not needs_image
    if text_to_image:
        operations.insert(0, "generate")
    if not takes_prompt:
        inputs["prompt"] = None  # never sent (providers/mapping.py)
        notes.append("it takes no prompt")
    if [op for op in operations if op != "generate"]:
        mapped |= _map_image_inputs(props, operations, spec, notes)
    if needs_image:
        offered = ", ".join(op for op in operations if op != "generate") or "no operation"
        notes.append(
            f"it needs an input image ({', '.join(needs_image)}): offered for image "
            f"operations only ({offered})"
        )

    options: dict = spec["options"]
    passthrough: list = spec["passthrough"]
    fixed: dict = {}
    for name, node in props.items():
        if name in mapped or name in image_inputs or name in DELIVERY_INPUTS:
            continue
        if name in SAFETY_PINNED:
            # The site keeps the provider's safety checker on: pinned, never a user's choice.
            if "boolean" in _types(node) or (name != "safety_checker" and not _types(node)):
                fixed[name] = SAFETY_PINNED[name]
            else:
                notes.append(f"its {name} input is not a switch: left to the model")
            continue
        values = _scalar_option(node)
        if name in TOLERANCE_INPUTS:
            values = _capped_tolerance(values, node.get("default"))
            if values is None:  # no list to cap: the model's own default applies
                notes.append(f"its {name} input is left at the model's default")
                continue
        if values is not None:
            options[name] = values
        else:
            passthrough.append(name)
    if fixed:
        spec["fixed_inputs"] = fixed

    unmapped = [
        name
        for name in required
        if name in props
        and name not in mapped
        and name not in image_inputs
        and name not in fixed
        and "default" not in props[name]
    ]
    unmapped += [name for name in required if name not in props and name != "prompt"]
    if unmapped:
        notes.append(f"required input {', '.join(unmapped)} has no default the site can fill")
    spec.update(
        {"operations": operations, "text_to_image": text_to_image, "unmapped_required": unmapped}
    )
    return DerivedSpec(spec, notes)


def spec_from_schema(input_schema: dict, provider: str, model_id: str = "") -> dict:
    """The catalog spec (the keys of catalog.json / ``catalog.SPEC_KEYS``) derived from a
    model's input JSON Schema; see ``derive_spec``."""
    return derive_spec(input_schema, provider, model_id).spec
