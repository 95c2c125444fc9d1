"""The rows of GET /api/gallery as plain dicts, without model instances or a serializer.

``ImageSerializer`` (gallery/api.py) stays the documented shape of a list item and serialises
single images; this module produces exactly what it would for a page of images, from one
``values()`` query over the columns the list shows, one query for the page's tags and one
``reverse()`` per URL name per page (absolute links: ``imagegen.core.links``).
tests/gallery/test_list_rows.py compares both outputs byte for byte, so a field added to the
serializer must be added here too.
"""

from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings
from django.db import connection
from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

from gallery.models import Image, Tag, seed_of
from imagegen.core.links import absolute_url_maker

# Everything a list item shows, as ``values()`` names (joins: generation and owner).
COLUMNS = (
    "id",
    "origin",
    "generation__operation",
    "generation_id",
    "generation__prompt",
    "generation__negative_prompt",
    "generation__provider",
    "generation__model",
    "width",
    "height",
    "seed",
    "generation__seed",
    "generation__num_images",
    "generation__steps",
    "generation__cfg_scale",
    "favorite",
    "rating",
    "title",
    "notes",
    "project_id",
    "owner__username",
    "generation__cost_usd",
    "generation__num_images",
    "created_at",
)
_MILLIONTH = Decimal("0.000001")


def cost_share(cost: Decimal | None, num_images: int) -> str | None:
    """An image's share of its generation's cost, as the API writes it (6 decimals)."""
    if cost is None:
        return None
    share = cost / max(num_images, 1)
    return str(share.quantize(_MILLIONTH, rounding=ROUND_HALF_UP))


def _datetime_writer():
    """value → DRF's DateTimeField representation. The common case (time zones on, ISO 8601,
    an aware value) inline, as DRF does it: converted to the current time zone, isoformat,
    "+00:00" written "Z". Anything else goes through DRF's field itself."""
    drf = serializers.DateTimeField().to_representation
    if not settings.USE_TZ or api_settings.DATETIME_FORMAT != ISO_8601:
        return drf
    current = timezone.get_current_timezone()

    def write(value):
        if value.tzinfo is None or value.utcoffset() is None:
            return drf(value)
        try:
            text = value.astimezone(current).isoformat()
        except OverflowError:
            return drf(value)  # DRF's "Datetime value out of range." error
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    return write


def tags_by_image(image_ids) -> dict[int, list[str]]:
    """Image id → its tag names, sorted, in one query for the whole page (plain SQL: the
    ORM's query building cost more than running it)."""
    tags: dict[int, list[str]] = {}
    if not image_ids:
        return tags
    quote = connection.ops.quote_name
    link = Image.tags.through._meta.db_table
    tag = Tag._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.image_id, t.name FROM {quote(link)} l "
            f"JOIN {quote(tag)} t ON t.id = l.tag_id "
            f"WHERE l.image_id IN ({', '.join(['%s'] * len(image_ids))})",
            [int(pk) for pk in image_ids],
        )
        rows = cursor.fetchall()
    for image_id, name in rows:
        tags.setdefault(image_id, []).append(name)
    for names in tags.values():
        names.sort()
    return tags


def image_rows(rows: list[dict], request) -> list[dict]:
    """List items (``ImageSerializer``'s output) for rows of ``.values(*COLUMNS)``, their
    links absolute for this request."""
    if not rows:
        return []
    tags = tags_by_image([row["id"] for row in rows])
    file_url = absolute_url_maker(request, "image-file")
    thumbnail_url = absolute_url_maker(request, "image-thumbnail")
    created_at = _datetime_writer()
    items = []
    for row in rows:
        pk = row["id"]
        seed = seed_of(row["seed"], row["generation__seed"], row["generation__num_images"])
        steps = row["generation__steps"]
        cfg_scale = row["generation__cfg_scale"]
        project = row["project_id"]
        created = row["created_at"]
        items.append(
            {
                "id": int(pk),
                "origin": str(row["origin"]),
                "operation": str(row["generation__operation"]),
                "generation": int(row["generation_id"]),
                "prompt": str(row["generation__prompt"]),
                "negative_prompt": str(row["generation__negative_prompt"]),
                "provider": str(row["generation__provider"]),
                "model": str(row["generation__model"]),
                "width": int(row["width"]),
                "height": int(row["height"]),
                "seed": seed,
                "steps": None if steps is None else int(steps),
                "cfg_scale": None if cfg_scale is None else float(cfg_scale),
                "url": file_url(pk),
                "thumbnail_url": thumbnail_url(pk),
                "favorite": bool(row["favorite"]),
                "rating": int(row["rating"]),
                "title": str(row["title"]),
                "notes": str(row["notes"]),
                "tags": tags.get(pk, []),
                "project": None if project is None else int(project),
                "owner": str(row["owner__username"]),
                "cost_usd": cost_share(row["generation__cost_usd"], row["generation__num_images"]),
                "created_at": None if created is None else created_at(created),
            }
        )
    return items
