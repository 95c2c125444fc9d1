"""Model input schemas (JSON Schema / OpenAPI) as the providers publish them.

``resolve_refs`` inlines local ``$ref`` pointers (``#/components/schemas/…``), so a model's
input schema can be read on its own: Replicate's OpenAPI puts each enum in a component
(``aspect_ratio: {allOf: [{$ref: "#/components/schemas/aspect_ratio"}]}``) and fal's
endpoint documents do the same for their input and image-size types.
"""

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
