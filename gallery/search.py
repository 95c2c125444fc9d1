"""Full-text search over an image's prompt, title, notes and tags, chosen by database backend.

SQLite uses the FTS5 table ``gallery_image_fts`` that migration 0003 creates and keeps in sync
with triggers. PostgreSQL uses ``to_tsvector`` expressions with GIN indexes; the migration
builds those indexes from the very expressions below, so the planner can use them.

Every word the user types must match somewhere (in any of the four texts); each word also
matches as a prefix, so "lightho" finds "lighthouse".
"""

import re

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

# "simple": no stemming and no stop words, so every typed word counts and both backends
# match the same way (SQLite FTS5 uses its plain unicode61 tokenizer to match).
CONFIG = "simple"
MAX_TERMS = 16
_WORD = re.compile(r"\w+", re.UNICODE)


def search_terms(text: str) -> list[str]:
    """The words of a search box, lower case, without any query-syntax characters."""
    return _WORD.findall((text or "").lower())[:MAX_TERMS]


def image_vector():
    """The searchable text that lives on the image row: title, notes and tag names."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("title", "notes", "tag_names", config=CONFIG)


def prompt_vector():
    """The searchable text that lives on the generation row: its prompt."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("prompt", config=CONFIG)


def postgres_indexes():
    """(model label, GIN index) pairs the PostgreSQL migration creates."""
    from django.contrib.postgres.indexes import GinIndex

    return [
        ("gallery.Image", GinIndex(image_vector(), name="image_text_search")),
        ("generation.Generation", GinIndex(prompt_vector(), name="generation_prompt_search")),
    ]


def _sqlite_match(terms: list[str]) -> str:
    # Each term quoted (so FTS5 syntax in user input is inert) and prefix-matched; FTS5 ANDs
    # space-separated phrases.
    return " ".join(f'"{term}"*' for term in terms)


def _postgres_filter(terms: list[str]) -> Q:
    from django.contrib.postgres.search import SearchQuery

    from gallery.models import Image
    from generation.models import Generation

    # Each side is its own subquery so each can use its GIN index; the outer query then only
    # probes the two (hashed) id sets instead of computing a tsvector for every row.
    condition = Q()
    for term in terms:
        query = SearchQuery(f"{term}:*", search_type="raw", config=CONFIG)
        in_prompt = Generation.objects.alias(_prompt=prompt_vector()).filter(_prompt=query)
        in_image = Image.objects.alias(_text=image_vector()).filter(_text=query)
        condition &= (Q(pk__in=in_image.values("pk"))
                      | Q(generation_id__in=in_prompt.values("pk")))
    return condition


def search_images(queryset, text: str):
    """The images of ``queryset`` whose prompt, title, notes or tags match every word."""
    terms = search_terms(text)
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.filter(_postgres_filter(terms))
    return queryset.filter(pk__in=RawSQL(
        "SELECT rowid FROM gallery_image_fts WHERE gallery_image_fts MATCH %s",
        (_sqlite_match(terms),),
    ))
