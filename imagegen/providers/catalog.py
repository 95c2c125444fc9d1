"""The model catalog: built-in data file → database rows → ModelSpec, prices and estimates."""

import json
import logging
import math
from datetime import date
from decimal import Decimal
from pathlib import Path

from imagegen.providers.base import GenerationRequest, ModelSpec
from imagegen.providers.models import CatalogModel, PriceUnit

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
)


def builtin_entries() -> list[dict]:
    return json.loads(CATALOG_FILE.read_text())["models"]


def sync_builtin_catalog() -> int:
    """Create or refresh the built-in rows; keep what an admin changed (enabled, display name,
    price override). Returns the number of rows written."""
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
            "sort_order": order,
            "price_unit": price.get("unit", ""),
            "price_usd": Decimal(str(price["usd"])) if price.get("usd") is not None else None,
            "price_date": date.fromisoformat(price["date"]) if price.get("date") else None,
        }
        row, created = CatalogModel.objects.get_or_create(
            provider=entry["provider"],
            model_id=entry["id"],
            defaults={**defaults, "display_name": entry["label"]},
        )
        if not created:
            for field, value in defaults.items():
                setattr(row, field, value)
            row.save(update_fields=[*defaults, "updated_at"])
        written += 1
    return written


def _pair(value):
    return tuple(value) if value else None


def spec_from_row(row: CatalogModel) -> ModelSpec:
    """The runtime description of a catalog row."""
    spec = row.spec or {}
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
    )


def specs_for(provider_name: str) -> list[ModelSpec]:
    """Enabled models of one provider, in catalog order."""
    rows = CatalogModel.objects.filter(provider=provider_name, enabled=True)
    return [spec_from_row(row) for row in rows]


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
