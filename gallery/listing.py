"""Listing images: validated filters, sorts, and keyset (cursor) pagination.

The API and the gallery page share this module, so a filter means the same in both. Pages are
keyset pages: a cursor holds the sort key of the last row seen, so no page ever needs
``COUNT(*)`` or an ``OFFSET``, and images that arrive meanwhile never shift a page.
"""

import base64
import binascii
import json
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import F, Q
from rest_framework import serializers

from gallery.models import MAX_RATING, Image, normalize_tag
from gallery.search import search_images

MAX_PAGE_SIZE = 100

# Sort name → the ordering fields, each (field, descending). The last field is unique.
SORTS = {
    "newest": (("id", True),),
    "oldest": (("id", False),),
    "rating": (("rating", True), ("id", True)),
}
ORIENTATIONS = ("landscape", "portrait", "square")


class InvalidCursor(Exception):
    """The cursor was not made by us for this sort."""


class GalleryQuerySerializer(serializers.Serializer):
    """The query string of GET /api/gallery (and of the gallery page)."""

    project = serializers.CharField(required=False, help_text="a project id, or 'none'")
    provider = serializers.CharField(required=False, max_length=32)
    model = serializers.CharField(required=False, max_length=200)
    favorite = serializers.BooleanField(required=False, allow_null=True, default=None)
    rating_min = serializers.IntegerField(required=False, min_value=0, max_value=MAX_RATING)
    tag = serializers.ListField(child=serializers.CharField(), required=False, max_length=10)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)
    orientation = serializers.ChoiceField(ORIENTATIONS, required=False)
    owner = serializers.CharField(required=False, max_length=150, help_text="a username")
    q = serializers.CharField(required=False, max_length=500, allow_blank=True)
    sort = serializers.ChoiceField(list(SORTS), required=False, default="newest")
    cursor = serializers.CharField(required=False, max_length=500)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    def validate_project(self, value):
        if value == "none":
            return value
        if not value.isdigit():
            raise serializers.ValidationError("Give a project id, or 'none' for unassigned.")
        return int(value)

    def validate_tag(self, values):
        try:
            return [normalize_tag(v) for v in values]
        except Exception as exc:  # ValidationError from normalize_tag
            raise serializers.ValidationError(getattr(exc, "messages", [str(exc)])) from None

    def to_internal_value(self, data):
        # Blank query-string values ("?provider=") mean "no filter", as a form sends them.
        cleaned = {k: v for k, v in data.items() if v not in ("", None, [])}
        return super().to_internal_value(cleaned)

    @classmethod
    def from_query(cls, query_dict) -> "GalleryQuerySerializer":
        data = {key: query_dict.get(key) for key in query_dict if key != "tag"}
        tags = [t for t in query_dict.getlist("tag") if t.strip()]
        if tags:
            data["tag"] = tags
        return cls(data=data)


def filter_images(queryset, params: dict):
    """Apply validated filters (GalleryQuerySerializer.validated_data) to a queryset."""
    project = params.get("project")
    if project == "none":
        queryset = queryset.filter(project__isnull=True)
    elif project is not None:
        queryset = queryset.filter(project_id=project)
    if params.get("provider"):
        queryset = queryset.filter(generation__provider=params["provider"])
    if params.get("model"):
        queryset = queryset.filter(generation__model=params["model"])
    if params.get("favorite") is not None:
        # __in, not =: a bare `WHERE "favorite"` cannot use the (owner, favorite) index on
        # SQLite (see dashboard.services.stats).
        queryset = queryset.filter(favorite__in=[params["favorite"]])
    if params.get("rating_min"):
        queryset = queryset.filter(rating__gte=params["rating_min"])
    for tag in params.get("tag") or ():
        # One subquery per tag: an image must carry every tag asked for.
        tagged = Image.tags.through.objects.filter(tag__name=tag).values("image_id")
        queryset = queryset.filter(pk__in=tagged)
    if params.get("created_after"):
        queryset = queryset.filter(created_at__gte=params["created_after"])
    if params.get("created_before"):
        queryset = queryset.filter(created_at__lt=params["created_before"])
    orientation = params.get("orientation")
    if orientation == "landscape":
        queryset = queryset.filter(width__gt=F("height"))
    elif orientation == "portrait":
        queryset = queryset.filter(height__gt=F("width"))
    elif orientation == "square":
        queryset = queryset.filter(width=F("height"))
    if params.get("owner"):
        queryset = queryset.filter(owner__username=params["owner"])
    if params.get("q"):
        queryset = search_images(queryset, params["q"])
    return queryset


def page_size_for(user, requested: int | None = None) -> int:
    """The page size: the one asked for, else the user's items-per-page preference (or
    ITEMS_PER_PAGE); never more than 100."""
    from settings_app.models import items_per_page_for

    if requested:
        return min(requested, MAX_PAGE_SIZE)
    return max(1, min(items_per_page_for(user), MAX_PAGE_SIZE))


def encode_cursor(sort: str, values: list, backwards: bool) -> str:
    raw = json.dumps({"s": sort, "v": values, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[list, bool]:
    """(position values, backwards) from a cursor; InvalidCursor when it is not ours."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        values, backwards = data["v"], bool(data["b"])
        if data["s"] != sort:
            raise InvalidCursor("This cursor belongs to another sort order.")
    except InvalidCursor:
        raise
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise InvalidCursor("Invalid cursor.") from None
    if (not isinstance(values, list) or len(values) != len(SORTS[sort])
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)):
        raise InvalidCursor("Invalid cursor.")
    return values, backwards


def _beyond(fields, values, backwards: bool) -> Q:
    """Rows strictly past the position in the walking direction (lexicographic keyset)."""
    conditions = []
    for i, ((name, descending), value) in enumerate(zip(fields, values, strict=True)):
        lookup = "lt" if descending != backwards else "gt"
        condition = Q(**{f"{name}__{lookup}": value})
        for (earlier, _), earlier_value in zip(fields[:i], values[:i], strict=True):
            condition &= Q(**{earlier: earlier_value})
        conditions.append(condition)
    return reduce(or_, conditions)


@dataclass
class KeysetPage:
    items: list
    next_cursor: str | None
    previous_cursor: str | None


def keyset_page(queryset, sort: str, cursor: str | None, size: int) -> KeysetPage:
    """One page of ``queryset`` in ``sort`` order after (or before) the cursor, fetched with
    a single query of size + 1 rows (the extra row tells whether there is more)."""
    fields = SORTS[sort]
    values, backwards = decode_cursor(cursor, sort) if cursor else (None, False)
    ordering = [("-" if descending != backwards else "") + name for name, descending in fields]
    queryset = queryset.order_by(*ordering)
    if values is not None:
        queryset = queryset.filter(_beyond(fields, values, backwards))
    rows = list(queryset[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()

    def key(row):  # a model instance, or a dict from .values()
        if isinstance(row, dict):
            return [row[name] for name, _ in fields]
        return [getattr(row, name) for name, _ in fields]

    if not rows:
        return KeysetPage([], None, None)
    if backwards:
        return KeysetPage(rows, encode_cursor(sort, key(rows[-1]), False),
                          encode_cursor(sort, key(rows[0]), True) if more else None)
    return KeysetPage(rows, encode_cursor(sort, key(rows[-1]), False) if more else None,
                      encode_cursor(sort, key(rows[0]), True) if values is not None else None)
