"""Listing images: validated filters, sorts, and keyset (cursor) pagination.

The API and the gallery page share this module, so a filter means the same in both. Pages are
keyset pages: a cursor holds the sort key of the last row seen, so no page ever needs
``COUNT(*)`` or an ``OFFSET``, and images that arrive meanwhile never shift a page.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import F, Q
from django.db.models.expressions import RawSQL
from rest_framework import serializers

from gallery.models import MAX_ID, MAX_RATING, Image, Origin, normalize_tag
from gallery.search import owner_share, postgres_candidates, search_images
from imagegen.core import limits
from imagegen.core.exceptions import BadRequest
from settings_app.models import items_per_page_for

MAX_PAGE_SIZE = 100

# Sort name → the ordering fields, each (field, descending). The last field is unique.
SORTS = {
    "newest": (("id", True),),
    "oldest": (("id", False),),
    "rating": (("rating", True), ("id", True)),
}
ORIENTATIONS = ("landscape", "portrait", "square")


# What encode_cursor writes (urlsafe base64 without padding), as GalleryQuerySerializer.quick
# accepts it without the serializer.
_PLAIN_CURSOR = re.compile(r"[A-Za-z0-9_-]+\Z")  # one class, one quantifier: linear


class InvalidCursor(BadRequest):
    """The cursor was not made by us for this sort: a 400 on the ``cursor`` field."""

    def __init__(self, detail: str):
        super().__init__(detail, field="cursor")


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
    origin = serializers.ChoiceField(
        Origin.values,
        required=False,
        help_text="upload: uploaded images; api: made through the /v1 gateway; generated: the rest",
    )
    owner = serializers.CharField(required=False, max_length=150, help_text="a username")
    q = serializers.CharField(required=False, max_length=limits.MAX_SEARCH, allow_blank=True)
    sort = serializers.ChoiceField(list(SORTS), required=False, default="newest")
    cursor = serializers.CharField(required=False, max_length=limits.MAX_CURSOR)
    page_size = serializers.IntegerField(required=False, min_value=1, max_value=MAX_PAGE_SIZE)

    def validate_project(self, value):
        if value == "none":
            return value
        # isascii: str.isdigit() also accepts digits such as "²" that int() refuses.
        if not (value.isascii() and value.isdigit() and int(value) <= MAX_ID):
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
    def quick(cls, query_dict) -> dict | None:
        """The validated_data of the plainest query strings (nothing but page_size, sort and
        cursor, each plainly valid), without building the serializer (a third of a list
        request's Python); None: anything else, which the serializer decides."""
        if not set(query_dict) <= {"page_size", "sort", "cursor"}:
            return None
        data = {"favorite": None, "sort": "newest"}
        for key in query_dict:
            value = query_dict.get(key)
            if value == "":
                continue  # blank means no filter (to_internal_value drops it)
            if key == "page_size":
                if not (
                    value.isascii()
                    and value.isdigit()
                    and len(value) <= 3
                    and 1 <= int(value) <= MAX_PAGE_SIZE
                ):
                    return None
                data["page_size"] = int(value)
            elif key == "sort":
                if value not in SORTS:
                    return None
                data["sort"] = value
            elif len(value) <= limits.MAX_CURSOR and _PLAIN_CURSOR.match(value):
                data["cursor"] = value
            else:
                return None
        return data

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
    if params.get("origin"):
        queryset = queryset.filter(origin=params["origin"])
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
    if requested:
        return min(requested, MAX_PAGE_SIZE)
    return max(1, min(items_per_page_for(user), MAX_PAGE_SIZE))


def encode_cursor(sort: str, values: list, backwards: bool) -> str:
    raw = json.dumps({"s": sort, "v": values, "b": backwards}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[list, bool]:
    """(position values, backwards) from a cursor; InvalidCursor when it is not ours."""
    if not isinstance(cursor, str) or len(cursor) > limits.MAX_CURSOR:
        # Before any decoding: ours are short, and a long one could nest deeper than
        # json.loads recurses (a RecursionError, a 500) or carry huge numbers.
        raise InvalidCursor("Invalid cursor.")
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
    if (
        not isinstance(values, list)
        or len(values) != len(SORTS[sort])
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in values)
    ):
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


@dataclass
class Keyset:
    """Where a page starts and which way it walks, for code that narrows the candidates."""

    fields: tuple  # ((name, descending), ...) of the sort
    ordering: list  # order_by() arguments in the walking direction
    beyond: Q | None  # rows past the cursor; None on the first page
    backwards: bool
    limit: int  # rows wanted: page size + 1

    def walk(self, queryset):
        """``queryset`` in walking order, past the cursor."""
        queryset = queryset.order_by(*self.ordering)
        return queryset.filter(self.beyond) if self.beyond is not None else queryset

    def order_sql(self, prefix: str = "") -> str:
        """The ORDER BY list in walking order, columns prefixed (e.g. with a subquery's
        alias and a dot)."""
        quote = connection.ops.quote_name
        return ", ".join(
            f"{prefix}{quote(name)} {'DESC' if descending != self.backwards else 'ASC'}"
            for name, descending in self.fields
        )


def top_of_each_arm(arms) -> "callable":
    """A ``candidates`` for keyset_page: the first rows of each arm (querysets that together
    hold every row of the page's queryset, e.g. ``visible_arms``), as one UNION ALL of
    LIMITed subqueries (which Django's union() cannot write on SQLite). They hold the first
    rows of the whole, and each arm walks its own index range."""

    def candidates(keyset: Keyset) -> RawSQL:
        parts, params = [], []
        for n, arm in enumerate(arms):
            sql, arm_params = keyset.walk(arm).values("pk")[: keyset.limit].query.sql_with_params()
            parts.append(f"SELECT * FROM ({sql}) arm{n}")
            params.extend(arm_params)
        return RawSQL(" UNION ALL ".join(parts), params)

    return candidates


def keyset_page(
    queryset,
    sort: str,
    cursor: str | None,
    size: int,
    columns: tuple | None = None,
    candidates=None,
) -> KeysetPage:
    """One page of ``queryset`` in ``sort`` order after (or before) the cursor, fetched with
    a single query of size + 1 rows (the extra row tells whether there is more).

    ``columns``: rows as dicts of these ``values()`` columns (the sort fields among them)
    instead of model instances.

    ``candidates(keyset)``: ids (a list or a subquery) that hold the page's rows, or None;
    the page is then taken from ``queryset`` within them, which only makes it faster: the
    scope, filters and order stay those of ``queryset``."""
    fields = SORTS[sort]
    values, backwards = decode_cursor(cursor, sort) if cursor else (None, False)
    keyset = Keyset(
        fields=fields,
        ordering=[("-" if descending != backwards else "") + name for name, descending in fields],
        beyond=_beyond(fields, values, backwards) if values is not None else None,
        backwards=backwards,
        limit=size + 1,
    )
    queryset = keyset.walk(queryset)
    if candidates is not None:
        ids = candidates(keyset)
        if ids is not None:
            queryset = queryset.filter(pk__in=ids)
    if columns:
        queryset = queryset.values(*columns)
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
        return KeysetPage(
            rows,
            encode_cursor(sort, key(rows[-1]), False),
            encode_cursor(sort, key(rows[0]), True) if more else None,
        )
    return KeysetPage(
        rows,
        encode_cursor(sort, key(rows[-1]), False) if more else None,
        encode_cursor(sort, key(rows[0]), True) if values is not None else None,
    )


# The gallery's result count counts at most this many (+1): "More than 10,000 images" beyond.
COUNT_CAP = 10_000


def count_visible(user, queryset, params: dict, cap: int = COUNT_CAP) -> int:
    """How many images the user sees for these validated params, counting at most ``cap`` + 1
    rows (a bounded subquery, never the whole table): a result above ``cap`` means "more"."""
    filtered = filter_images(queryset, params).for_user(user, "view")
    return filtered.order_by().values("pk")[: cap + 1].count()


# On PostgreSQL, a user who owns at least this share of all images (by the statistics) pages
# unfiltered with the plain query (see visible_page).
DENSE_SHARE = 0.05


def visible_page(user, queryset, params: dict, size: int, columns: tuple | None = None):
    """The keyset page of ``queryset`` (an Image queryset) the user sees for these validated
    params, with ``filter_images`` applied; InvalidCursor for a bad cursor.

    The page is the same whichever way it is found; the way is chosen here.

    No filters: always from the top of each index range of ``for_user(user, "view")``
    (``visible_arms``), each one index range whatever the statistics. The plan of ``owner
    OR project IN (…)`` depends on them: with them, a walk in id order that is a walk of the
    whole table for a user who owns few images (0.1 s at 1M); without them (SQLite until
    someone runs ANALYZE, or after an index is added), a sort of all of a heavy user's
    images (0.1-0.5 s at 1M).

    Except on PostgreSQL for a user whose own images are at least DENSE_SHARE of all of
    them by the planner's statistics: there the plain walk in id order stops within a few
    hundred rows, and it saves the arms' extra query and planning.

    A search on PostgreSQL: ``search.postgres_candidates``. Otherwise: one plain query."""
    filtered = filter_images(queryset, params).for_user(user, "view")
    sort, cursor = params["sort"], params.get("cursor")
    active = {
        key
        for key, value in params.items()
        if value not in (None, "", []) and key not in ("sort", "cursor", "page_size")
    }
    candidates = None
    if not active:
        if connection.vendor == "postgresql" and owner_share(user) >= DENSE_SHARE:
            # PostgreSQL keeps statistics (autovacuum), which say this user owns a page in
            # every few hundred images: the plain query's walk in id order is the fastest.
            return keyset_page(filtered, sort, cursor, size, columns=columns)
        arms = queryset.visible_arms(user)
        candidates = top_of_each_arm(arms) if arms else None
    elif "q" in active and connection.vendor == "postgresql":
        unsearched = filter_images(queryset, {**params, "q": None})
        candidates = postgres_candidates(params["q"], user, unsearched)
    return keyset_page(filtered, sort, cursor, size, columns=columns, candidates=candidates)
