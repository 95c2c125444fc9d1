"""Refresh the catalog from the providers' own model listings (``Provider.list_models``).

For each provider whose ``list_models`` returns a ``Listing``:

- a listed model the catalog has: available again, ``last_listed_at`` now, deprecation and
  shutdown date when the listing states them (a date is never cleared because a listing is
  silent), the listed price for a built-in row or a listed row whose price no admin edited,
  and only in the row's unit (a row without a unit takes the listed one; a price in another
  unit is reported, not taken: fal's pricing API says "image" for some models billed per
  megapixel), the listed schema, and for a listed row nobody edited the spec derived again;
- a listed model the catalog lacks: a new row (source ``listed``), DISABLED until an admin
  enables it (cost safety), named by the listing's label, its spec from the listing's
  ``spec`` or derived from its ``input_schema`` (providers/schema.py); a model that needs an
  input image is offered, once enabled, for its image operations only (said in the report);
- a row of that provider missing from a ``complete`` listing: unavailable (kept for history;
  never offered), ``missing_since`` now; but never when the listing names no model, nor more
  than half of the provider's available rows in one refresh (reported, nothing retired: a
  broken listing or a narrow key must not empty the catalog).

An admin's edits are never overwritten: enabled, display name, price override, the spec of a
custom row or of a listed row they edited (``spec_edited``), the price and unit of a custom
row or of a listed row they edited (``price_edited``); built-in rows keep their hand-written
spec (catalog.json). A provider whose listing fails (ProviderError, network, a
malformed answer) is reported "not refreshed (reason)" and nothing of it changes; the other
providers still refresh. The caller passes the keys (``generation.tasks.refresh_catalog``
resolves them: this package imports no app).
"""

import json
import logging
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone

from imagegen.providers import all_providers, errors
from imagegen.providers.base import ListedModel, Listing, Operation, Provider, ProviderError
from imagegen.providers.catalog import (
    SPEC_KEYS,
    builtin_entries,
    not_runnable_reason,
    operations_of,
)
from imagegen.providers.models import CatalogModel, CatalogSource, PriceUnit
from imagegen.providers.schema import derive_spec

logger = logging.getLogger(__name__)

NEW_ROW_SORT_ORDER = 1000  # listed models come after the hand-ordered ones
MAX_NAMED = 10  # how many model ids a report line names before "and N more"
MAX_SCHEMA_CHARS = 200_000  # a listed schema larger than this is not stored


@dataclass
class _Outcome:
    listed: int = 0
    added: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    returned: list[str] = field(default_factory=list)
    dates: int = 0
    prices: int = 0
    not_runnable: list[str] = field(default_factory=list)
    image_only: list[str] = field(default_factory=list)
    skipped: int = 0
    price_notes: list[str] = field(default_factory=list)
    retire_refused: str = ""


def _names(ids: list[str]) -> str:
    shown = ", ".join(ids[:MAX_NAMED])
    return shown + (f" and {len(ids) - MAX_NAMED} more" if len(ids) > MAX_NAMED else "")


def _clean_spec(spec: dict) -> dict:
    """A listing's own spec, limited to the catalog's keys."""
    return {key: value for key, value in spec.items() if key in SPEC_KEYS}


def _spec_for(provider: Provider, listed: ListedModel) -> tuple[dict, list[str]]:
    """The spec of a listed model and notes on it: the listing's spec, else one derived from
    its input schema, else an empty one (the model is then not runnable until an admin writes
    its spec)."""
    if isinstance(listed.spec, dict) and listed.spec:
        spec = _clean_spec(listed.spec)
        notes = []
    elif isinstance(listed.input_schema, dict):
        derived = derive_spec(listed.input_schema, provider.name, listed.id)
        spec, notes = derived.spec, derived.notes
    else:
        spec = {"text_to_image": False, "operations": []}
        notes = ["the listing gives no parameters: write its spec before enabling it"]
    if listed.version and isinstance(listed.version, str):
        spec["version"] = listed.version
    return spec, notes


def _price(listed: ListedModel) -> Decimal | None:
    if listed.price_usd is None:
        return None
    try:
        price = Decimal(str(listed.price_usd))
    except (InvalidOperation, ValueError):
        return None
    return price if price.is_finite() and price >= 0 else None


def _schema_to_store(listed: ListedModel):
    schema = listed.input_schema
    if not isinstance(schema, dict):
        return None
    try:
        return schema if len(json.dumps(schema, default=str)) <= MAX_SCHEMA_CHARS else None
    except (TypeError, ValueError, RecursionError):
        return None


def _unit_words(unit: str) -> str:
    return f"per {unit}" if unit else "with no unit"


def _take_price(row: CatalogModel, listed: ListedModel, out) -> set[str]:
    """The listed price, where it is the machine's to write; the fields it changed.

    A custom row's price, and a listed row's whose price an admin edited (``price_edited``),
    are the admin's: never replaced. Otherwise a price is taken only in the row's own unit (or
    with the listed unit when the row has none yet): a price per image written over a price
    per megapixel would be wrong by the image's size, so a listed price in another unit is
    left out and reported."""
    price = _price(listed)
    if price is None:
        return set()
    machine_priced = row.builtin or (row.source == CatalogSource.LISTED and not row.price_edited)
    if not machine_priced:
        return set()
    unit = listed.price_unit if listed.price_unit in PriceUnit.values else ""
    if not unit or (row.price_unit and unit != row.price_unit):
        out.price_notes.append(
            f"price not taken for {row.model_id}: listed {_unit_words(unit)}, "
            f"catalog {_unit_words(row.price_unit)}"
        )
        return set()
    changed = {"price_usd", "price_date"}
    if price != row.price_usd:
        out.prices += 1
    row.price_usd, row.price_date = price, timezone.localdate()
    if not row.price_unit:
        row.price_unit = unit
        changed.add("price_unit")
    return changed


def _update_row(
    row: CatalogModel, provider: Provider, listed: ListedModel, now, out, removed: set
) -> None:
    """What the listing says of a model the catalog has; never an admin's fields."""
    changed = {"last_listed_at", "updated_at"}
    row.last_listed_at = now
    if row.missing_since is not None:  # a refresh retired it; the provider lists it again
        row.missing_since = None
        changed.add("missing_since")
        out.returned.append(row.model_id)
    # catalog.json's "available": false (a model the provider removed) outranks a listing
    # that still names it; otherwise a listed model is available.
    available = (provider.name, row.model_id) not in removed
    if row.available != available:
        row.available = available
        changed.add("available")
    if listed.deprecated and not row.deprecated:
        row.deprecated = True
        changed.add("deprecated")
    if isinstance(listed.shutdown_date, date) and listed.shutdown_date != row.shutdown_date:
        row.shutdown_date = listed.shutdown_date
        changed.add("shutdown_date")
        out.dates += 1
    changed |= _take_price(row, listed, out)
    schema = _schema_to_store(listed)
    if schema is not None:
        row.listed_schema = schema
        changed.add("listed_schema")
    if row.source == CatalogSource.LISTED and not row.spec_edited:
        row.spec, notes = _spec_for(provider, listed)
        row.listing_note = "; ".join(notes)[:500]
        changed |= {"spec", "listing_note"}
    row.save(update_fields=sorted(changed))


def _add_row(provider: Provider, listed: ListedModel, now, out) -> None:
    spec, notes = _spec_for(provider, listed)
    price = _price(listed)
    unit = listed.price_unit if listed.price_unit in PriceUnit.values else ""
    label = listed.label if isinstance(listed.label, str) and listed.label.strip() else listed.id
    CatalogModel.objects.create(
        provider=provider.name,
        model_id=listed.id,
        display_name=label.strip()[:200],
        enabled=False,  # cost safety: an admin enables a new model
        source=CatalogSource.LISTED,
        sort_order=NEW_ROW_SORT_ORDER,
        spec=spec,
        price_unit=unit if price is not None else "",
        price_usd=price,
        price_date=timezone.localdate() if price is not None else None,
        deprecated=bool(listed.deprecated),
        shutdown_date=listed.shutdown_date if isinstance(listed.shutdown_date, date) else None,
        last_listed_at=now,
        listed_schema=_schema_to_store(listed),
        listing_note="; ".join(notes)[:500],
    )
    out.added.append(listed.id)
    if isinstance(listed.shutdown_date, date):
        out.dates += 1
    reason = not_runnable_reason(spec)
    operations = operations_of(spec)
    if reason:
        out.not_runnable.append(f"{listed.id} ({reason})")
    elif Operation.GENERATE not in operations:
        out.image_only.append(f"{listed.id} ({', '.join(operations)})")


def _removed_builtins() -> set[tuple[str, str]]:
    """The built-in entries catalog.json marks ``"available": false``."""
    return {
        (entry.get("provider"), entry.get("id"))
        for entry in builtin_entries()
        if entry.get("available") is False
    }


def _valid(listed) -> bool:
    return (
        isinstance(listed, ListedModel)
        and isinstance(listed.id, str)
        and 0 < len(listed.id.strip()) <= 200
    )


def apply_listing(provider: Provider, listing: Listing) -> str:
    """Write one provider's listing into the catalog (atomically) and say what changed."""
    now = timezone.now()
    out = _Outcome()
    entries = listing.models if isinstance(listing.models, list) else []
    listed_by_id: dict[str, ListedModel] = {}
    for listed in entries:
        if _valid(listed):
            listed_by_id.setdefault(listed.id.strip(), listed)
        else:
            out.skipped += 1
    out.listed = len(listed_by_id)
    with transaction.atomic():
        rows = {
            row.model_id: row
            for row in CatalogModel.objects.select_for_update().filter(provider=provider.name)
        }
        available_before = sum(1 for row in rows.values() if row.available)
        removed = _removed_builtins()
        for model_id, listed in listed_by_id.items():
            listed.id = model_id
            if model_id in rows:
                _update_row(rows[model_id], provider, listed, now, out, removed)
            else:
                _add_row(provider, listed, now, out)
        if listing.complete:
            _retire_missing(rows, listed_by_id, available_before, now, out)
    return _report(provider, listing, out)


def _retire_missing(rows: dict, listed_by_id: dict, available_before: int, now, out) -> None:
    """Retire the rows a complete listing lacks, unless the listing looks broken rather than
    true: one that names no model at all, or one that would retire more than half of the
    provider's available models at once (a key that sees only part of the catalog, an API
    change, an outage answered with an empty page). Then nothing is retired and the report
    says so, for an admin to check; the listed models were still updated."""
    missing = [
        (model_id, row)
        for model_id, row in rows.items()
        if model_id not in listed_by_id and row.missing_since is None
    ]
    if not missing:
        return
    if not listed_by_id:
        out.retire_refused = (
            "the listing names no model: nothing was retired; check the provider's listing/key"
        )
        return
    would_retire = sum(1 for _, row in missing if row.available)
    if would_retire * 2 > available_before:
        out.retire_refused = (
            f"would retire {would_retire} of {available_before}: not applied; "
            "check the provider's listing/key"
        )
        return
    for model_id, row in missing:
        was_available = row.available
        row.available, row.missing_since = False, now
        row.save(update_fields=["available", "missing_since", "updated_at"])
        if was_available:
            out.retired.append(model_id)


def _report(provider: Provider, listing: Listing, out: _Outcome) -> str:
    parts = [f"{out.listed} listed"]
    if out.added:
        parts.append(
            f"added {len(out.added)} (disabled until an admin enables it): {_names(out.added)}"
        )
    if out.retired:
        parts.append(f"retired {len(out.retired)}: {_names(out.retired)}")
    if out.retire_refused:
        parts.append(out.retire_refused)
    if out.returned:
        parts.append(f"listed again {len(out.returned)}: {_names(out.returned)}")
    if out.dates:
        parts.append(f"shutdown dates recorded: {out.dates}")
    if out.prices:
        parts.append(f"prices changed: {out.prices}")
    if out.price_notes:
        parts.extend(out.price_notes[:MAX_NAMED])
        if len(out.price_notes) > MAX_NAMED:
            parts.append(f"{len(out.price_notes) - MAX_NAMED} more prices not taken")
    if out.image_only:
        parts.append(f"for image operations only: {_names(out.image_only)}")
    if out.not_runnable:
        parts.append(f"not runnable as listed (kept disabled): {_names(out.not_runnable)}")
    if not listing.complete:
        parts.append("the listing is partial, so nothing was retired")
    if out.skipped:
        parts.append(f"{out.skipped} malformed entries skipped")
    notes = [str(note) for note in (listing.notes or []) if str(note).strip()]
    parts.extend(notes[:MAX_NAMED])
    return f"{provider.label}: " + "; ".join(parts) + "."


def refresh_provider(provider: Provider, api_key: str | None) -> str | None:
    """Refresh one provider; its report line, or None when it publishes no listing."""
    known = list(
        CatalogModel.objects.filter(provider=provider.name).values_list("model_id", flat=True)
    )
    try:
        listing = provider.list_models(api_key, known)
    except ProviderError as exc:
        reason = errors.clean(exc, api_key=api_key)
        return f"{provider.label}: not refreshed ({reason})."
    except Exception as exc:  # a bug or an unexpected answer in one provider stops only it
        logger.exception("listing the %s models failed", provider.name)
        reason = errors.clean(f"{type(exc).__name__}", api_key=api_key)
        return f"{provider.label}: not refreshed (unexpected error: {reason})."
    if listing is None:
        return None
    if not isinstance(listing, Listing):
        return f"{provider.label}: not refreshed (the listing was not understood)."
    try:
        return apply_listing(provider, listing)
    except Exception as exc:  # nothing of this provider changed (the transaction rolled back)
        logger.exception("writing the %s listing failed", provider.name)
        kind = type(exc).__name__
        return f"{provider.label}: not refreshed (the listing could not be stored: {kind})."


def refresh_catalog(keys: dict[str, str | None] | None = None) -> list[str]:
    """Refresh every registered provider that publishes a listing, each with its key from
    ``keys`` (by provider name; None: list without a key). Report lines in words, one per
    provider; a summary also goes to the log."""
    keys = keys or {}
    lines = []
    for provider in all_providers():
        line = refresh_provider(provider, keys.get(provider.name))
        if line is None:
            continue
        lines.append(line)
        logger.info("catalog refresh: %s", line)
    if not lines:
        lines.append("No provider publishes a model listing: nothing changed.")
    return lines
