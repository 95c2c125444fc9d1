"""The audit trail for staff: the filters shared by the /audit/ page, its CSV export and
``GET /api/audit``, and the CSV rows. The entries are written by ``imagegen.core.audit``;
this module only reads them."""

import csv
import json
from datetime import date, datetime, time, timedelta

from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from gallery.downloads import csv_cell
from imagegen.core.audit import ACTIONS
from imagegen.core.models import AuditEntry
from settings_app.models import time_zone_for

# Days outside these cannot be an entry's (and the far ends would overflow a datetime once
# moved into a time zone).
FIRST_DAY = date(2000, 1, 1)
LAST_DAY = date(9000, 12, 31)

# The export's columns: AuditEntry.FIELDS in order, each read from an entry as text. The
# actor column holds the name (the label, kept when the account is gone).
CSV_COLUMNS = {
    "created_at": lambda entry: entry.created_at.isoformat(),
    "actor": lambda entry: entry.actor_label,
    "ip_address": lambda entry: entry.ip_address,
    "client": lambda entry: entry.client,
    "action": lambda entry: entry.action,
    "object_type": lambda entry: entry.object_type,
    "object_id": lambda entry: entry.object_id,
    "object_label": lambda entry: entry.object_label,
    "changes": lambda entry: _json_text(entry.changes),
    "details": lambda entry: _json_text(entry.details),
}
CSV_FIELDS = [name for name in AuditEntry.FIELDS if name != "actor_label"]
# A field added to the model's list fails here, at import, rather than at an export.
if list(CSV_COLUMNS) != CSV_FIELDS:
    raise ImproperlyConfigured(
        f"dashboard.audit.CSV_COLUMNS {list(CSV_COLUMNS)} must list AuditEntry.FIELDS "
        f"(without actor_label) in order: {CSV_FIELDS}"
    )


def _day(value):
    if not FIRST_DAY <= value <= LAST_DAY:
        raise serializers.ValidationError(f"Give a day from {FIRST_DAY} to {LAST_DAY}.")
    return value


class AuditFilterSerializer(serializers.Serializer):
    """The filters (all optional): actor (a username), action, object type, days from/to in
    the staff member's time zone, both included."""

    actor = serializers.CharField(required=False, allow_blank=True, max_length=150)
    action = serializers.ChoiceField(choices=sorted(ACTIONS), required=False, allow_blank=True)
    object_type = serializers.CharField(required=False, allow_blank=True, max_length=100)

    def get_fields(self):
        fields = super().get_fields()
        # "from" is a Python keyword, so these two are declared here.
        fields["from"] = serializers.DateField(required=False, validators=[_day])
        fields["to"] = serializers.DateField(required=False, validators=[_day])
        return fields

    def validate(self, attrs):
        if attrs.get("from") and attrs.get("to") and attrs["from"] > attrs["to"]:
            raise serializers.ValidationError({"from": ["Must not be after `to`."]})
        return attrs


def entries_for(user, filters: dict):
    """The entries matching cleaned filters, newest first, days read in ``user``'s zone."""
    zone = time_zone_for(user)
    start = end = None
    if filters.get("from"):
        start = datetime.combine(filters["from"], time.min, tzinfo=zone)
    if filters.get("to"):
        end = datetime.combine(filters["to"] + timedelta(days=1), time.min, tzinfo=zone)
    return AuditEntry.objects.for_filters(
        actor=(filters.get("actor") or "").strip(),
        action=filters.get("action") or "",
        object_type=(filters.get("object_type") or "").strip(),
        start=start,
        end=end,
    ).order_by("-id")


def object_types() -> list[str]:
    """The object types entries name, for the page's filter."""
    return sorted(
        AuditEntry.objects.exclude(object_type="")
        .order_by()
        .values_list("object_type", flat=True)
        .distinct()
    )


class _Echo:
    """A file-like sink for csv.writer that hands each row back (for a streamed body)."""

    def write(self, value):
        return value


def csv_rows(entries):
    """The CSV export's lines, one at a time (UTF-8 BOM first, so spreadsheets read it as
    such); every cell passes csv_cell, so text starting with = + - @ is not run as a
    formula."""
    writer = csv.writer(_Echo())
    yield "\ufeff" + writer.writerow(CSV_FIELDS)
    for entry in entries.iterator(chunk_size=500):
        yield writer.writerow([csv_cell(read(entry)) for read in CSV_COLUMNS.values()])


def display_rows(entries) -> list[dict]:
    """What the page shows of each entry: the action in words, changes and details as
    short text (before → after per field)."""
    rows = []
    for entry in entries:
        changes = [
            f"{name}: {_short(pair[0])} → {_short(pair[1])}"
            if isinstance(pair, list) and len(pair) == 2
            else f"{name}: {_short(pair)}"
            for name, pair in (entry.changes or {}).items()
        ]
        details = [f"{name}: {_short(value)}" for name, value in (entry.details or {}).items()]
        rows.append(
            {
                "entry": entry,
                "action_label": ACTIONS.get(entry.action, entry.action),
                "changes": changes,
                "details": details,
            }
        )
    return rows


def _short(value, limit: int = 120) -> str:
    if value is None or value == "":
        text = "—"
    else:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json_text(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True) if value else ""


def is_auditor(user) -> bool:
    """Who may read the audit trail: staff (everyone else gets a 404)."""
    return bool(user and user.is_authenticated and user.is_active and user.is_staff)
