"""ComfyUI workflows as models: checking an uploaded workflow, the spec it offers, and the
graph one request turns it into.

A workflow is ComfyUI's API format (Workflow → Export (API)): ``{node_id: {"class_type": …,
"inputs": {name: literal or [source_node_id, output_index]}}}``. Its field map says which node
input carries each studio field::

    {"prompt": {"node": "6", "input": "text"},
     "negative_prompt": {"node": "7", "input": "text"},
     "seed": {"node": "3", "input": "seed"},
     "steps": {"node": "3", "input": "steps", "min": 1, "max": 60, "default": 25},
     "cfg_scale": {"node": "3", "input": "cfg", "min": 1, "max": 15, "default": 7},
     "sampler": {"node": "3", "input": "sampler_name", "choices": ["euler", "dpmpp_2m"]},
     "width": {"node": "5", "input": "width", "min": 512, "max": 1536, "multiple": 64},
     "height": {"node": "5", "input": "height", "min": 512, "max": 1536, "multiple": 64},
     "batch_size": {"node": "5", "input": "batch_size", "max": 4},
     "strength": {"node": "3", "input": "denoise", "min": 0, "max": 1},
     "image": {"node": "10", "input": "image"},
     "mask": {"node": "11", "input": "image"},
     "scale": {"node": "12", "input": "scale_by", "choices": [2, 4]}}

Only mapped fields are shown on the Generate page and accepted by the API; everything else
runs as the workflow has it. ``image`` maps to a LoadImage node; ``mask`` to a LoadImageMask
node (the mask is uploaded as its own greyscale image and read from its red channel) or to
the same LoadImage node as ``image`` (the mask goes into that image's alpha channel through
``POST /upload/mask``, as ComfyUI's own mask editor does).
"""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass

from imagegen.providers.base import GenerationRequest, ModelSpec, Operation

FIELDS = (
    "prompt",
    "negative_prompt",
    "seed",
    "steps",
    "cfg_scale",
    "sampler",
    "scheduler",
    "width",
    "height",
    "batch_size",
    "strength",
    "image",
    "mask",
    "scale",
)
NUMBER_FIELDS = ("steps", "cfg_scale", "width", "height", "batch_size", "strength")
CHOICE_FIELDS = ("sampler", "scheduler", "scale")
OPERATIONS = (
    Operation.GENERATE,
    Operation.EDIT,
    Operation.INPAINT,
    Operation.UPSCALE,
    Operation.REMOVE_BACKGROUND,
)
# Nodes whose results the provider collects (ComfyUI's own output nodes for images).
OUTPUT_NODES = ("SaveImage", "PreviewImage", "SaveAnimatedWEBP", "SaveAnimatedPNG")
MAX_SEED = 2**32 - 1


class WorkflowInvalid(ValueError):
    """What is wrong with a workflow or its field map, in words (one problem a line)."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def check(workflow, fields, operation: str = Operation.GENERATE) -> None:
    """Raise WorkflowInvalid naming every problem: not API format, links to missing nodes,
    no image output, unknown fields, mapped nodes or inputs that do not exist, bad ranges, an
    operation without the inputs it needs."""
    problems: list[str] = []
    if isinstance(workflow, dict) and "nodes" in workflow and "links" in workflow:
        raise WorkflowInvalid(
            [
                "This is ComfyUI's UI format, not the API format: in ComfyUI use Workflow → "
                "Export (API) (enable the dev mode options in older versions) and upload "
                "that file."
            ]
        )
    if not isinstance(workflow, dict) or not workflow:
        raise WorkflowInvalid(["The workflow must be a JSON object of nodes (API format)."])
    for node_id, node in workflow.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            problems.append(f"Node {node_id} has no class_type.")
            continue
        inputs = node.get("inputs", {})
        if not isinstance(inputs, dict):
            problems.append(f"Node {node_id} ({node['class_type']}): inputs must be an object.")
            continue
        for name, value in inputs.items():
            if is_link(value) and str(value[0]) not in workflow:
                problems.append(
                    f"Node {node_id} ({node['class_type']}): input {name} is linked to "
                    f"node {value[0]}, which is not in the workflow."
                )
    if not any(
        isinstance(node, dict) and node.get("class_type") in OUTPUT_NODES
        for node in workflow.values()
    ):
        problems.append("The workflow has no image output: add a SaveImage (or PreviewImage) node.")
    if not isinstance(fields, dict):
        raise WorkflowInvalid([*problems, "The field map must be a JSON object."])
    for name, target in fields.items():
        problems += _field_problems(workflow, name, target)
    if operation not in OPERATIONS:
        problems.append(f"Unknown operation {operation!r}: use one of {', '.join(OPERATIONS)}.")
    needs = {"prompt"} if operation in (Operation.GENERATE, Operation.EDIT) else set()
    if operation != Operation.GENERATE:
        needs.add("image")
    if operation == Operation.INPAINT:
        needs |= {"prompt", "mask"}
    for name in sorted(needs - set(fields)):
        problems.append(f"A {operation} workflow must map the {name} field.")
    scale = fields.get("scale")
    if operation == Operation.UPSCALE and not (isinstance(scale, dict) and scale.get("choices")):
        problems.append("An upscale workflow must map scale with its choices, e.g. [2] or [4].")
    if ("width" in fields) != ("height" in fields):
        problems.append("Map both width and height, or neither.")
    if problems:
        raise WorkflowInvalid(problems)


def is_link(value) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str | int)
        and isinstance(value[1], int)
    )


def _field_problems(workflow: dict, name: str, target) -> list[str]:
    if name not in FIELDS:
        return [f"Unknown field {name!r}: the fields are {', '.join(FIELDS)}."]
    if (
        not isinstance(target, dict)
        or not isinstance(target.get("node"), str | int)
        or isinstance(target.get("node"), bool)
        or not isinstance(target.get("input"), str)
    ):
        return [
            f"Field {name}: give the node id and the input name, e.g. "
            '{"node": "3", "input": "seed"}.'
        ]
    node = workflow.get(str(target["node"]))
    if not isinstance(node, dict):
        return [f"Field {name}: node {target['node']} is not in the workflow."]
    inputs = node.get("inputs") if isinstance(node.get("inputs"), dict) else {}
    if target["input"] not in inputs:
        known = ", ".join(sorted(inputs)) or "none"
        return [
            f"Field {name}: node {target['node']} ({node.get('class_type')}) has no input "
            f"{target['input']!r} (its inputs: {known})."
        ]
    problems = []
    if name in NUMBER_FIELDS:
        numbers = {k: target[k] for k in ("min", "max", "default", "multiple") if k in target}
        if any(not isinstance(v, int | float) or isinstance(v, bool) for v in numbers.values()):
            problems.append(f"Field {name}: min, max, default and multiple must be numbers.")
        elif numbers.get("min", 0) > numbers.get("max", float("inf")):
            problems.append(f"Field {name}: min is above max.")
        elif "default" in numbers and not (
            numbers.get("min", -float("inf"))
            <= numbers["default"]
            <= numbers.get("max", float("inf"))
        ):
            problems.append(f"Field {name}: the default is outside min..max.")
    if name in CHOICE_FIELDS and "choices" in target:
        choices = target["choices"]
        if not isinstance(choices, list) or not choices:
            problems.append(f"Field {name}: choices must be a non-empty list.")
        elif name == "scale" and not all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 2 for c in choices
        ):
            problems.append("Field scale: the choices are whole factors of 2 or more, e.g. [2, 4].")
        elif name != "scale" and not all(isinstance(c, str) and c for c in choices):
            problems.append(f'Field {name}: the choices are names, e.g. ["euler"].')
    multiple = target.get("multiple")
    if multiple is not None and (
        not isinstance(multiple, int) or isinstance(multiple, bool) or multiple < 1
    ):
        problems.append(f"Field {name}: multiple must be a whole number of 1 or more.")
    if name in ("image", "mask") and node.get("class_type") not in ("LoadImage", "LoadImageMask"):
        problems.append(
            f"Field {name}: node {target['node']} is a {node.get('class_type')}; map it to a "
            "LoadImage (or, for the mask, LoadImageMask) node."
        )
    return problems


def literal(workflow: dict, target: dict | None):
    """The value the workflow itself gives a mapped input (None when it is a link)."""
    if not target:
        return None
    value = workflow[str(target["node"])]["inputs"].get(target["input"])
    return None if is_link(value) else value


def spec_for(model_id: str, label: str, operation: str, workflow: dict, fields: dict) -> ModelSpec:
    """The model a workflow offers: exactly its mapped fields, with their ranges."""

    def number_range(name, low, high, cast=float):
        target = fields.get(name)
        if not target:
            return None, None
        default = target.get("default", literal(workflow, target))
        lo, hi = cast(target.get("min", low)), cast(target.get("max", high))
        return (lo, hi), (cast(default) if isinstance(default, int | float) else None)

    steps, default_steps = number_range("steps", 1, 150, int)
    cfg, default_cfg = number_range("cfg_scale", 0.0, 30.0)
    strength, _ = number_range("strength", 0.0, 1.0)
    sizes: tuple = ()
    min_size, max_size, multiple, target = 64, 2048, 8, None
    if "width" in fields:
        width, height = fields["width"], fields["height"]
        min_size = int(min(width.get("min", 64), height.get("min", 64)))
        max_size = int(max(width.get("max", 2048), height.get("max", 2048)))
        multiple = int(width.get("multiple", height.get("multiple", 8)))
        # The size the workflow is made for: the map's defaults, else its own values.
        wide = width.get("default", literal(workflow, width))
        high = height.get("default", literal(workflow, height))
        if isinstance(wide, int | float) and isinstance(high, int | float) and wide and high:
            target = int(wide * high)
    elif operation == Operation.GENERATE:
        latent = _latent_size(workflow)
        if latent:
            sizes = (latent,)
    options = {
        name: [str(c) for c in fields[name].get("choices", [])]
        for name in ("sampler", "scheduler")
        if name in fields and fields[name].get("choices")
    }
    operations = (operation,)
    if operation == Operation.INPAINT:  # the runner pads the canvas and masks the margins
        operations = (Operation.INPAINT, Operation.OUTPAINT)
    return ModelSpec(
        id=model_id,
        label=label,
        min_size=min_size,
        max_size=max_size,
        size_multiple=multiple,
        sizes=sizes,
        max_images=int(fields["batch_size"].get("max", 4)) if "batch_size" in fields else 1,
        steps=steps,
        default_steps=default_steps,
        cfg_scale=cfg,
        default_cfg_scale=default_cfg,
        negative_prompt="negative_prompt" in fields,
        seed="seed" in fields,
        options=options,
        operations=operations,
        target_pixels=target,
        max_input_images=1 if "image" in fields else 0,
        strength=strength,
        scales=tuple(int(c) for c in fields.get("scale", {}).get("choices", [])),
        price_unit="second",
    )


def _latent_size(workflow: dict) -> tuple[int, int] | None:
    for node in workflow.values():
        inputs = node.get("inputs", {}) if isinstance(node, dict) else {}
        width, height = inputs.get("width"), inputs.get("height")
        if (
            isinstance(width, int)
            and isinstance(height, int)
            and "Latent" in node.get("class_type", "")
        ):
            return (width, height)
    return None


@dataclass
class Built:
    graph: dict
    seed: int | None


def build(
    workflow: dict,
    fields: dict,
    request: GenerationRequest,
    *,
    image_name: str | None = None,
    mask_name: str | None = None,
) -> Built:
    """The graph to submit: the workflow with the request's values in the mapped inputs.
    The seed is chosen here when the request has none, so the result can say which it was."""
    graph = copy.deepcopy(workflow)

    def put(name, value):
        target = fields.get(name)
        if target is not None and value is not None:
            graph[str(target["node"])]["inputs"][target["input"]] = value

    seed = None
    if "seed" in fields:
        seed = request.seed if request.seed is not None else random.randint(0, MAX_SEED)  # noqa: S311
    put("prompt", request.prompt)
    put("negative_prompt", request.negative_prompt)
    put("seed", seed)
    put("steps", request.steps)
    put("cfg_scale", request.cfg_scale)
    put("sampler", request.params.get("sampler"))
    put("scheduler", request.params.get("scheduler"))
    if "width" in fields and request.operation == Operation.GENERATE:
        put("width", request.width)
        put("height", request.height)
    put("batch_size", request.num_images)
    put("strength", request.strength)
    put("scale", request.scale)
    put("image", image_name)
    if mask_name is not None and fields.get("mask", {}).get("node") != fields.get("image", {}).get(
        "node"
    ):
        put("mask", mask_name)
        mask_node = graph[str(fields["mask"]["node"])]
        if mask_node.get("class_type") == "LoadImageMask":
            mask_node["inputs"]["channel"] = "red"
    return Built(graph=graph, seed=seed)


def mask_in_alpha(fields: dict) -> bool:
    """The mask goes into the input image's alpha channel (``POST /upload/mask``)."""
    mask, image = fields.get("mask"), fields.get("image")
    return bool(mask and image and str(mask["node"]) == str(image["node"]))
