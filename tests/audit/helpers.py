"""Helpers for the audit tests: what a step recorded, and that no secret is in it."""

import json

from imagegen.core.models import AuditEntry


def mark() -> int:
    """The newest entry's id now: ``since(mark)`` is what was recorded after."""
    return AuditEntry.objects.order_by("-id").values_list("id", flat=True).first() or 0


def since(marker: int) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(id__gt=marker).order_by("id"))


def only_entry(marker: int, action: str) -> AuditEntry:
    """The one entry recorded since ``marker``, which must be ``action``."""
    entries = since(marker)
    assert [e.action for e in entries] == [action], [
        (e.action, e.object_type, e.details) for e in entries
    ]
    return entries[0]


def as_text(entry: AuditEntry) -> str:
    """Every stored field of the entry (all concrete fields: every AuditEntry field is
    editable=False, so model_to_dict would see none of them), as one text to search."""
    fields = {f.attname: getattr(entry, f.attname) for f in entry._meta.concrete_fields}
    return json.dumps(fields, default=str, ensure_ascii=False)


def assert_no_secret(entry: AuditEntry, *secrets: str) -> None:
    text = as_text(entry)
    for secret in secrets:
        assert secret not in text, secret
