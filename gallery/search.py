"""Full-text search over an image's prompt, title, notes and tags, chosen by database backend.

Both backends read the same four columns of ``gallery_image``: ``search_prompt`` (a copy of
the generation's prompt), ``title``, ``notes`` and ``tag_names``.

SQLite uses the FTS5 table ``gallery_image_fts`` (migrations 0003 and 0004) that triggers keep
in sync; it has prefix indexes for 2, 3 and 4 characters, so a prefix query reads one index
range instead of expanding the term over the whole vocabulary. PostgreSQL uses one GIN index
over ``image_vector()`` below (migration 0004 builds it from that very expression, so the
planner can use it), and one ``tsquery`` that ANDs every word.

Every word the user types must match somewhere (in any of the four texts); each word also
matches as a prefix, so "lightho" finds "lighthouse".
"""

import re

from django.db import connection
from django.db.models.expressions import RawSQL

# "simple": no stemming and no stop words, so every typed word counts and both backends
# match the same way (SQLite FTS5 uses its plain unicode61 tokenizer to match).
CONFIG = "simple"
MAX_TERMS = 16
# Letters and digits; "_" separates words as it does in both engines' tokenizers (FTS5's
# unicode61 and PostgreSQL's parser), so "snake_case" is the two words "snake" and "case".
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
SQLITE_PREFIXES = "2 3 4"


def search_terms(text: str) -> list[str]:
    """The words of a search box, lower case, without any query-syntax characters."""
    return _WORD.findall((text or "").lower())[:MAX_TERMS]


def image_vector():
    """All the searchable text of an image, all on its own row: prompt copy, title, notes and
    tag names."""
    from django.contrib.postgres.search import SearchVector

    return SearchVector("search_prompt", "title", "notes", "tag_names", config=CONFIG)


def postgres_index():
    """The GIN index (on gallery.Image) that migration 0004 creates."""
    from django.contrib.postgres.indexes import GinIndex

    return GinIndex(image_vector(), name="image_search")


def _sqlite_match(terms: list[str]) -> str:
    # Each term quoted (so FTS5 syntax in user input is inert) and prefix-matched; FTS5 ANDs
    # space-separated phrases.
    return " ".join(f'"{term}"*' for term in terms)


def _postgres_query(terms: list[str]):
    from django.contrib.postgres.search import SearchQuery

    # One tsquery for all the words (each a prefix); terms hold only letters and digits, so
    # nothing in them is tsquery syntax.
    return SearchQuery(" & ".join(f"{term}:*" for term in terms), search_type="raw",
                       config=CONFIG)


def search_images(queryset, text: str):
    """The images of ``queryset`` whose prompt, title, notes or tags match every word."""
    terms = search_terms(text)
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        return queryset.alias(_search=image_vector()).filter(_search=_postgres_query(terms))
    return queryset.filter(pk__in=RawSQL(
        "SELECT rowid FROM gallery_image_fts WHERE gallery_image_fts MATCH %s",
        (_sqlite_match(terms),),
    ))
