"""Refresh the catalog from the providers: OpenRouter's image models, fal's prices.

Both are best effort: an unreachable provider is reported and nothing is changed.
"""

import logging
import os
from datetime import date
from decimal import Decimal, InvalidOperation

import httpx
from django.conf import settings

from imagegen.providers.models import CatalogModel, PriceUnit

logger = logging.getLogger(__name__)

OPENROUTER_IMAGE_SPEC = {
    "sizes": {
        "1024x1024": "1:1",
        "832x1248": "2:3",
        "1248x832": "3:2",
        "864x1184": "3:4",
        "1184x864": "4:3",
        "896x1152": "4:5",
        "1152x896": "5:4",
        "768x1344": "9:16",
        "1344x768": "16:9",
        "1536x672": "21:9",
    },
    "max_images": 1,
    "steps": None,
    "cfg_scale": None,
    "negative_prompt": False,
    "seed": False,
    "inputs": {"size": "aspect_ratio"},
}
FAL_UNITS = {
    "image": PriceUnit.IMAGE,
    "images": PriceUnit.IMAGE,
    "megapixel": PriceUnit.MEGAPIXEL,
    "megapixels": PriceUnit.MEGAPIXEL,
    "second": PriceUnit.SECOND,
    "seconds": PriceUnit.SECOND,
}


def _get_json(url: str, **kwargs) -> dict:
    """GET a provider listing as a JSON object; httpx.HTTPError or ValueError when it fails."""
    response = httpx.get(url, timeout=20, trust_env=False, **kwargs)
    response.raise_for_status()
    body = response.json()
    if not isinstance(body, dict):
        raise ValueError("the answer is not a JSON object")
    return body


def refresh_openrouter_models(api_key: str | None = None) -> str:
    """Add OpenRouter models that output images and are not in the catalog yet."""
    url = settings.OPENROUTER_BASE_URL.rstrip("/") + "/models"
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    try:
        body = _get_json(url, params={"output_modalities": "image"}, headers=headers)
        models = [m for m in body.get("data") or [] if isinstance(m, dict)]
    except (httpx.HTTPError, ValueError) as exc:
        return f"OpenRouter: not refreshed ({type(exc).__name__})."
    added = 0
    for model in models:
        outputs = (model.get("architecture") or {}).get("output_modalities") or []
        if "image" not in outputs or not model.get("id"):
            continue
        spec = {**OPENROUTER_IMAGE_SPEC}
        if "text" not in outputs:
            spec["fixed_inputs"] = {"modalities": ["image"]}
        _, created = CatalogModel.objects.get_or_create(
            provider="openrouter",
            model_id=model["id"],
            defaults={
                "display_name": (model.get("name") or model["id"])[:200],
                "spec": spec,
                "enabled": True,
            },
        )
        added += created
    return f"OpenRouter: {len(models)} image models listed, {added} added."


def refresh_fal_prices(api_key: str | None) -> str:
    """Update fal rows' prices from fal's pricing API."""
    rows = {row.model_id: row for row in CatalogModel.objects.filter(provider="fal")}
    if not rows:
        return "fal.ai: no models to price."
    if not api_key:
        return "fal.ai: no key to ask for prices with (set FAL_KEY or pass --fal-key)."
    url = settings.FAL_API_BASE_URL.rstrip("/") + "/models/pricing"
    try:
        body = _get_json(
            url,
            params=[("endpoint_id", m) for m in rows],
            headers={"Authorization": f"Key {api_key}"},
        )
        prices = [p for p in body.get("prices") or [] if isinstance(p, dict)]
    except (httpx.HTTPError, ValueError) as exc:
        return f"fal.ai: prices not refreshed ({type(exc).__name__})."
    updated = 0
    for price in prices:
        row = rows.get(price.get("endpoint_id"))
        unit = FAL_UNITS.get(str(price.get("unit", "")).lower())
        if row is None or unit is None or price.get("currency", "USD") != "USD":
            continue
        try:
            row.price_usd = Decimal(str(price["unit_price"]))
        except (KeyError, InvalidOperation):
            continue
        row.price_unit, row.price_date = unit, date.today()
        row.save(update_fields=["price_usd", "price_unit", "price_date", "updated_at"])
        updated += 1
    return f"fal.ai: {updated} prices updated."


def refresh_catalog(fal_key: str | None = None, openrouter_key: str | None = None) -> list[str]:
    return [
        refresh_openrouter_models(openrouter_key or os.environ.get("OPENROUTER_API_KEY")),
        refresh_fal_prices(fal_key or os.environ.get("FAL_KEY")),
    ]
