"""The model catalog: built-in data file → database rows → ModelSpec, prices and estimates.

What is offered (``specs_for``: ``Provider.models()``, the Generate page, validation, the
default model) is every row that is enabled by an admin, still available at the provider,
not at or past its shutdown date, and runnable from a prompt (``text_to_image``; no required
input left unfilled). ``unoffered_reason`` says in words why a model the catalog knows is not.
"""

import json
import logging
import math
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.utils import timezone

from imagegen.providers.base import GenerationRequest, ModelSpec, Operation
from imagegen.providers.models import CatalogModel, CatalogSource, PriceUnit

logger = logging.getLogger(__name__)

CATALOG_FILE = Path(__file__).with_name("catalog.json")
SPEC_KEYS = (
    "sizes",
    "presets",
    "min_size",
    "max_size",
    "size_multiple",
    "max_images",
    "steps",
    "default_steps",
    "cfg_scale",
    "default_cfg_scale",
    "negative_prompt",
    "seed",
    "max_prompt_length",
    "options",
    "passthrough",
    "any_params",
    "inputs",
    "fixed_inputs",
    "version",
    # Image operations (docs/image-operations.md); refresh_catalog writes ``operations`` too.
    "max_input_images",
    "strength",
    "scales",
    # Written by refresh_catalog from a provider's schema (providers/schema.py):
    "operations",  # generate, edit, inpaint, upscale, remove_background
    "text_to_image",  # False: needs an input image or takes no prompt; never offered
    "unmapped_required",  # required inputs the site cannot fill: not offered until fixed
)


def builtin_entries() -> list[dict]:
    return json.loads(CATALOG_FILE.read_text())["models"]


def _life(entry: dict, row: CatalogModel | None) -> dict:
    """The built-in entry's availability, deprecation and shutdown date. The file decides
    where it says something; where it is silent, what a refresh recorded stays (a date the
    provider announced is not forgotten because the file has none), and a model a complete
    listing stopped naming (``missing_since``) stays unavailable until a listing names it."""
    shutdown = entry.get("shutdown_date")
    missing = row is not None and row.missing_since is not None
    return {
        "available": entry.get("available", True) is not False and not missing,
        "deprecated": bool(entry.get("deprecated")) or bool(row and row.deprecated),
        "shutdown_date": date.fromisoformat(shutdown)
        if shutdown
        else (row.shutdown_date if row else None),
    }


def _newer_price(row: CatalogModel | None, file_date: date | None) -> bool:
    return bool(
        row is not None
        and row.price_usd is not None
        and row.price_date is not None
        and (file_date is None or row.price_date > file_date)
    )


def sync_builtin_catalog() -> int:
    """Create or refresh the built-in rows; keep what an admin changed (enabled, display name,
    price override). Reads the entries' ``available`` (false: the provider removed it; kept
    for history, never offered), ``deprecated`` and ``shutdown_date``. Returns the number of
    rows written."""
    written = 0
    for order, entry in enumerate(builtin_entries()):
        price = entry.get("price", {})
        spec = {key: entry[key] for key in SPEC_KEYS if key in entry}
        if isinstance(spec.get("sizes"), dict):  # jsonb keeps no key order: store pairs
            spec["sizes"] = [[size, native] for size, native in spec["sizes"].items()]
        for key in ("table", "tokens_per_million", "typical_seconds"):
            if key in price:
                spec[f"price_{key}"] = price[key]
        defaults = {
            "spec": spec,
            "builtin": True,
            "source": CatalogSource.BUILTIN,
            "sort_order": order,
            "price_unit": price.get("unit", ""),
            "price_usd": Decimal(str(price["usd"])) if price.get("usd") is not None else None,
            "price_date": date.fromisoformat(price["date"]) if price.get("date") else None,
        }
        row = CatalogModel.objects.filter(provider=entry["provider"], model_id=entry["id"]).first()
        defaults.update(_life(entry, row))
        if _newer_price(row, defaults["price_date"]):  # a refresh read a newer price: keep it
            del defaults["price_usd"], defaults["price_date"]
        created = row is None
        if created:
            row = CatalogModel.objects.create(
                provider=entry["provider"],
                model_id=entry["id"],
                display_name=entry["label"],
                **defaults,
            )
        else:
            for field, value in defaults.items():
                setattr(row, field, value)
            row.save(update_fields=[*defaults, "updated_at"])
        written += 1
    return written


def _pair(value):
    return tuple(value) if value else None


def operations_of(spec: dict) -> tuple[str, ...]:
    """The operations a catalog spec declares (``generate`` alone when it names none and is a
    text-to-image model); a model that inpaints also outpaints (the runner pads the canvas)."""
    declared = spec.get("operations")
    if not isinstance(declared, list):
        declared = [] if spec.get("text_to_image") is False else [Operation.GENERATE]
    operations = [op for op in Operation if op in declared]
    if Operation.INPAINT in operations and Operation.OUTPAINT not in operations:
        operations.insert(operations.index(Operation.INPAINT) + 1, Operation.OUTPAINT)
    return tuple(operations)


def spec_from_row(row: CatalogModel) -> ModelSpec:
    """The runtime description of a catalog row."""
    spec = row.spec or {}
    image_ops = [op for op in operations_of(spec) if op != Operation.GENERATE]
    sizes = spec.get("sizes") or {}
    # A list of [size, native] pairs keeps its order in jsonb; a dict (admin-written) may not.
    pairs = list(sizes.items()) if isinstance(sizes, dict) else [tuple(p) for p in sizes]
    fixed = tuple(tuple(int(n) for n in size.split("x")) for size, _ in pairs)
    native_sizes = dict(pairs or (spec.get("presets") or {}).items())
    price_table = {**spec.get("price_table", {})}
    if "price_tokens_per_million" in spec:
        price_table["tokens_per_million"] = spec["price_tokens_per_million"]
    price_unit = row.price_unit
    if row.price_override_usd is not None:  # an admin's price replaces the listed table
        price_table = {}
        price_unit = PriceUnit.IMAGE if price_unit == PriceUnit.TOKEN else price_unit
    return ModelSpec(
        id=row.model_id,
        label=row.display_name,
        min_size=spec.get("min_size", 64),
        max_size=spec.get("max_size", 2048),
        size_multiple=spec.get("size_multiple", 1),
        sizes=fixed,
        max_images=spec.get("max_images", 1),
        steps=_pair(spec.get("steps")),
        default_steps=spec.get("default_steps"),
        cfg_scale=_pair(spec.get("cfg_scale")),
        default_cfg_scale=spec.get("default_cfg_scale"),
        negative_prompt=spec.get("negative_prompt", False),
        seed=spec.get("seed", False),
        max_prompt_length=spec.get("max_prompt_length", 10_000),
        options=spec.get("options", {}),
        passthrough=tuple(spec.get("passthrough", ())),
        any_params=bool(spec.get("any_params", False)),
        inputs=spec.get("inputs", {}),
        native_sizes=native_sizes,
        fixed_inputs=spec.get("fixed_inputs", {}),
        version=spec.get("version", ""),
        price_unit=price_unit,
        price_usd=row.effective_price,
        price_date=row.price_date.isoformat() if row.price_date else "",
        price_table=price_table,
        typical_seconds=spec.get("price_typical_seconds"),
        available=row.available and not _shut_down(row),
        deprecated=row.deprecated,
        shutdown_date=row.shutdown_date.isoformat() if row.shutdown_date else "",
        operations=operations_of(spec),
        max_input_images=int(spec.get("max_input_images") or (1 if image_ops else 0)),
        strength=_pair(spec.get("strength")),
        scales=tuple(spec.get("scales") or ((2, 4) if "upscale" in image_ops else ())),
    )


def _shut_down(row: CatalogModel) -> bool:
    """Whether the row's shutdown date has come (on that day the provider turns it off)."""
    return row.shutdown_date is not None and row.shutdown_date <= timezone.localdate()


def not_runnable_reason(spec: dict) -> str:
    """Why a spec cannot be run at all (empty when it can): it needs an input image but
    declares no operation that takes one, or a required input has no value the site can
    fill."""
    spec = spec if isinstance(spec, dict) else {}
    if not operations_of(spec):
        return "it needs an input image and declares no image operation"
    fixed = spec.get("fixed_inputs") or {}
    unfilled = [name for name in spec.get("unmapped_required") or () if name not in fixed]
    if unfilled:
        return f"its required input {', '.join(map(str, unfilled))} has no value yet"
    return ""


def _offered(row: CatalogModel) -> bool:
    return (
        row.enabled and row.available and not _shut_down(row) and not not_runnable_reason(row.spec)
    )


def specs_for(provider_name: str) -> list[ModelSpec]:
    """The models of one provider that are offered, in catalog order (the first is the
    provider's default): enabled, available, not shut down, runnable from a prompt."""
    rows = CatalogModel.objects.filter(provider=provider_name, enabled=True, available=True)
    return [spec_from_row(row) for row in rows if _offered(row)]


def listed_specs(provider_name: str) -> list[ModelSpec]:
    """What ``GET /api/providers`` lists: the offered models and, flagged ``available``
    False, enabled ones the provider no longer offers (retired or shut down), so a script
    learns why a model vanished."""
    rows = CatalogModel.objects.filter(provider=provider_name, enabled=True)
    return [
        spec_from_row(row) for row in rows if _offered(row) or not row.available or _shut_down(row)
    ]


def unoffered_reason(provider_name: str, provider_label: str, model_id: str) -> str:
    """Why a model the catalog knows is not offered, in words for a field error; empty when
    it is offered or the catalog has no such model."""
    row = CatalogModel.objects.filter(provider=provider_name, model_id=model_id).first()
    if row is None or _offered(row):
        return ""
    if not row.available or _shut_down(row):
        when = row.shutdown_date or (row.missing_since and row.missing_since.date())
        retired = f" (retired on {when.isoformat()})" if when else ""
        return f"{provider_label} no longer offers {model_id}{retired}; choose another model."
    if not row.enabled:
        return f"{model_id} was disabled by an admin; choose another model."
    reason = not_runnable_reason(row.spec)
    return f"{model_id} cannot be used here yet: {reason}; choose another model."


def estimate_cost(spec: ModelSpec, request: GenerationRequest) -> Decimal | None:
    """What the request should cost from the catalog price, before it runs."""
    size = f"{request.width}x{request.height}"
    count = request.num_images
    table = spec.price_table
    qualities = spec.options.get("quality")
    if qualities and table:  # priced by size and quality (OpenAI)
        quality = request.params.get("quality")
        if quality in (None, "", "auto"):
            quality = "medium" if "medium" in qualities else qualities[0]
        per_image = table.get(f"{size}/{quality}")
        return _money(Decimal(str(per_image)) * count) if per_image is not None else None
    if size in table:  # priced by size alone (DALL·E 2)
        return _money(Decimal(str(table[size])) * count)
    price = spec.price_usd
    if price is None:
        return None
    if spec.price_unit == "image":
        return _money(price * count)
    if spec.price_unit == "megapixel":
        megapixels = math.ceil(request.width * request.height / 1_000_000)
        return _money(price * megapixels * count)
    if spec.price_unit == "second":
        return _money(price * Decimal(str(spec.typical_seconds or 10)))
    if spec.price_unit == "request":
        return _money(price)
    return None


def _money(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.000001"))
