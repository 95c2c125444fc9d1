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
import time
from itertools import islice

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

# "simple": no stemming and no stop words, so every typed word counts and both backends
# match the same way (SQLite FTS5 uses its plain unicode61 tokenizer to match).
CONFIG = "simple"
MAX_TERMS = 16
# Letters and digits (one class, one quantifier: linear); "_" separates words as it does in
# both engines' tokenizers (FTS5's unicode61 and PostgreSQL's parser), so "snake_case" is the
# two words "snake" and "case".
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
SQLITE_PREFIXES = "2 3 4"
# The searchable text of an image, all on its own row.
TEXT_COLUMNS = ("search_prompt", "title", "notes", "tag_names")


def search_terms(text: str) -> list[str]:
    """The words of a search box, lower case, without any query-syntax characters."""
    # finditer stops after MAX_TERMS words: a long text costs no list of all its words.
    return [word.group() for word in islice(_WORD.finditer((text or "").lower()), MAX_TERMS)]


def image_vector():
    """All the searchable text of an image, all on its own row: prompt copy, title, notes and
    tag names."""
    from django.contrib.postgres.search import SearchVector  # deferred: PostgreSQL only

    return SearchVector(*TEXT_COLUMNS, config=CONFIG)


def postgres_index():
    """The GIN index (on gallery.Image) that migration 0004 creates."""
    from django.contrib.postgres.indexes import GinIndex  # deferred: PostgreSQL only

    return GinIndex(image_vector(), name="image_search")


def _sqlite_match(terms: list[str]) -> str:
    # Each term quoted (so FTS5 syntax in user input is inert) and prefix-matched; FTS5 ANDs
    # space-separated phrases.
    return " ".join(f'"{term}"*' for term in terms)


def _postgres_query(terms: list[str]):
    from django.contrib.postgres.search import SearchQuery  # deferred: PostgreSQL only

    # One tsquery for all the words (each a prefix); terms hold only letters and digits, so
    # nothing in them is tsquery syntax.
    return SearchQuery(" & ".join(f"{term}:*" for term in terms), search_type="raw", config=CONFIG)


# PostgreSQL estimates any prefix tsquery to match at least 0.5% of rows (its default
# selectivity when the statistics do not list the prefix), so for ORDER BY id LIMIT n it walks
# the images in id order with the tsvector as a per-row filter: 2-5 ms for a word in 2% of
# the images of a user who owns half of them, every row of the table (0.8 s at 1M images)
# for a word that matches nothing; and for a user who owns few images, a frequent word is no
# better. Taking all the matches from the GIN index instead costs ~3-8 µs per match (60-200
# ms for a word in 2% of 1M images). postgres_candidates picks between the two from the
# planner's own statistics (how many rows hold each lexeme, how many rows each owner and
# project has): a walk of at most WALK_ROWS rows when it should fill the page, else all the
# matches the user may see (owner OR project IN a list, which can use both indexes).
WALK_ROWS = 4000
STATS_SECONDS = 300
_stats: dict = {}


def _postgres_matches(queryset, terms):
    return queryset.alias(_search=image_vector()).filter(_search=_postgres_query(terms))


def search_images(queryset, text: str):
    """The images of ``queryset`` whose prompt, title, notes or tags match every word."""
    terms = search_terms(text)
    if not terms:
        return queryset
    if connection.vendor == "postgresql":
        return _postgres_matches(queryset, terms)
    return queryset.filter(
        pk__in=RawSQL(
            "SELECT rowid FROM gallery_image_fts WHERE gallery_image_fts MATCH %s",
            (_sqlite_match(terms),),
        )
    )


def _pg_stats(table: str, column: str, elements: bool = False):
    """({value: fraction of rows}, smallest listed fraction) from pg_stats (the most common
    values, or for a tsvector the most common lexemes); None when not analysed. Cached."""
    key = (connection.alias, connection.settings_dict["NAME"], table, column, elements)
    cached = _stats.get(key)
    if cached is not None and time.monotonic() - cached[0] < STATS_SECONDS:
        return cached[1]
    values, freqs = (
        ("most_common_elems", "most_common_elem_freqs")
        if elements
        else ("most_common_vals", "most_common_freqs")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {values}::text::text[], {freqs} FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = %s AND attname = %s",
            [table, column],
        )
        row = cursor.fetchone()
    found = None
    if row and row[0] and row[1]:
        names, fractions = row[0], row[1][: len(row[0])]
        found = (dict(zip(names, fractions, strict=True)), min(fractions))
    _stats[key] = (time.monotonic(), found)
    return found


def owner_share(user) -> float:
    """PostgreSQL: the fraction of all images the user owns, from the planner's statistics
    (0 when they do not list the user)."""
    owners = _pg_stats("gallery_image", "owner_id")
    return owners[0].get(str(user.pk), 0.0) if owners else 0.0


def _walk_rows(terms, user, projects, limit: int) -> float | None:
    """How many rows of the table a walk in id order should read to find ``limit`` of the
    user's matches, from the statistics; None when they are missing."""
    lexemes = _pg_stats("image_search", "to_tsvector", elements=True)
    owners = _pg_stats("gallery_image", "owner_id")
    if not lexemes or not owners:
        return None
    frequencies, rarest = lexemes
    density = 1.0
    for term in terms:
        share = sum(f for lexeme, f in frequencies.items() if lexeme.startswith(term))
        density *= min(share or rarest / 2, 1.0)
    seen = owners[0].get(str(user.pk), 0.0)
    if projects:
        in_projects = _pg_stats("gallery_image", "project_id")
        if in_projects:
            seen += sum(in_projects[0].get(str(pk), 0.0) for pk in projects)
    if seen <= 0:
        return None
    return limit / (density * min(seen, 1.0))


def _tsvector_sql(alias: str) -> str:
    """image_vector() over the columns of a subquery ``alias`` (same text, same lexemes)."""
    quote = connection.ops.quote_name
    text = " || ' ' || ".join(f"COALESCE({alias}.{quote(c)}, '')" for c in TEXT_COLUMNS)
    return f"to_tsvector(%s::regconfig, {text})"


def _bounded_walk(visible, terms, keyset) -> list[int]:
    """The first matches among the next WALK_ROWS visible rows in sort order (stops as soon
    as it has ``keyset.limit`` of them)."""
    names = [name for name, _ in keyset.fields]
    columns = list(dict.fromkeys(["id", *names, *TEXT_COLUMNS]))
    inner, params = keyset.walk(visible).values(*columns)[:WALK_ROWS].query.sql_with_params()
    query = " & ".join(f"{term}:*" for term in terms)
    sql = (
        f"SELECT w.id FROM ({inner}) w WHERE {_tsvector_sql('w')} @@ "
        f"to_tsquery(%s::regconfig, %s) ORDER BY {keyset.order_sql('w.')} "
        f"LIMIT {int(keyset.limit)}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, CONFIG, CONFIG, query])
        return [row[0] for row in cursor.fetchall()]


def _all_matches(images, terms, keyset) -> RawSQL:
    """The first matches of ``images`` taken from all of them: computed on their own (OFFSET
    0 keeps the planner from walking the table in sort order with the tsvector as a filter),
    then the first ``keyset.limit`` ids, as an array (so the page query fetches just those)."""
    names = [name for name, _ in keyset.fields]
    images = _postgres_matches(images, terms)
    if keyset.beyond is not None:
        images = images.filter(keyset.beyond)
    sql, params = images.order_by().values(*names).query.sql_with_params()
    return RawSQL(
        f"SELECT unnest(ARRAY(SELECT m.id FROM ({sql} OFFSET 0) m "
        f"ORDER BY {keyset.order_sql('m.')} LIMIT {int(keyset.limit)}))",
        params,
    )


def postgres_candidates(text: str, user, unsearched):
    """A ``candidates`` for listing.keyset_page when searching on PostgreSQL (see the
    comment above WALK_ROWS); ``unsearched``: the images with every other filter applied,
    not yet scoped. None: no help (no words; more projects than visible_arms splits)."""
    terms = search_terms(text)
    projects = unsearched.visible_project_ids(user) if terms else None
    if projects is None:
        return None
    # for_user(user, "view") with the project ids written out: an OR of two indexed columns,
    # which the planner can combine with the GIN index's bitmap (a subquery it cannot). The page
    # query itself keeps for_user(user, "view").
    seen = Q(owner=user) | Q(project_id__in=projects) if projects else Q(owner=user)

    def candidates(keyset):
        walk = _walk_rows(terms, user, projects, keyset.limit)
        if walk is not None and walk <= 2 * WALK_ROWS:
            found = _bounded_walk(unsearched.for_user(user, "view"), terms, keyset)
            if len(found) >= keyset.limit:
                return found
        return _all_matches(unsearched.filter(seen), terms, keyset)

    return candidates
