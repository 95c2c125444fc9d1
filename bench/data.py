"""The large fixture of figures 4, 5 and 6: N generations and about N images, inserted fast.

One ``INSERT … SELECT`` from a recursive CTE (SQLite) or ``generate_series`` (PostgreSQL)
per table, never the API. The shape:

- 50 members plus a staff user ``boss``; member ``user00`` owns half of everything (figure
  4's "one user owning 500k of 1M"), the other 49 share the rest;
- generations spread evenly over the last 365 days; each member uses 2 of 12 models of 4
  providers and 2 projects or none; 94% succeed, 3% fail (three reasons), 2-3% are
  canceled, the newest 100 are still queued;
- one image per succeeded generation plus a second one for 6.4% of them (≈ 1.004 N images);
- prompts of three words from lists of 50 subjects, 20 styles and 12 moods, so a subject
  word matches about 2% of images; every 40th image has a title, every 100th a note.

``ensure_populated`` skips the work when the database already holds this many rows (a
``bench_meta`` table records it), so the runner fills one database for three figures.
"""

import time

USERS = 50
SUBJECTS = (  # noqa: SIM905
    "lighthouse mountain forest river castle dragon robot city garden ocean desert island "
    "village bridge tower cathedral harbor meadow volcano glacier canyon waterfall library "
    "market train airship submarine spaceship lantern portrait cat dog fox owl horse whale "
    "butterfly tiger wolf bear eagle rabbit deer turtle octopus flower tree cloud moon"
).split()
STYLES = (  # noqa: SIM905
    "watercolor oil pencil charcoal pastel ink digital pixel lowpoly isometric photographic "
    "cinematic surreal minimalist baroque impressionist cubist anime ukiyoe vaporwave"
).split()
MOODS = "calm stormy foggy sunny snowy misty golden gloomy bright dusky neon frosty".split()  # noqa: SIM905


def _case(expr: str, words: list[str]) -> str:
    arms = " ".join(f"WHEN {n} THEN '{w}'" for n, w in enumerate(words))
    return f"(CASE ({expr}) % {len(words)} {arms} END)"


def ensure_populated(total: int) -> dict:
    """Fill the bench database with ``total`` generations (and their images) unless it
    already holds them; return the ids the figures need."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE IF NOT EXISTS bench_meta (generations bigint)")
        cursor.execute("SELECT generations FROM bench_meta")
        row = cursor.fetchone()
    if row is None:
        populate(total)
        build_rollups()
        with connection.cursor() as cursor:
            cursor.execute("INSERT INTO bench_meta VALUES (%s)", [total])
    elif row[0] != total:
        raise SystemExit(
            f"the bench database holds {row[0]:,} generations, not {total:,}: use a fresh one"
        )
    return ids()


def ids() -> dict:
    from django.contrib.auth import get_user_model

    User = get_user_model()
    return {
        "heavy": User.objects.get(username="user00"),
        "boss": User.objects.get(username="boss"),
    }


def populate(total: int) -> None:
    """Insert the users, projects, ``total`` generations and their images (see module doc)."""
    from django.contrib.auth import get_user_model
    from django.db import connection, transaction
    from django.utils import timezone

    from projects.models import Project

    pg = connection.vendor == "postgresql"
    User = get_user_model()
    User.objects.bulk_create([User(username=f"user{n:02d}", password="!") for n in range(USERS)])
    User.objects.create(username="boss", password="!", is_staff=True, is_superuser=True)
    uids = list(User.objects.filter(is_staff=False).order_by("id").values_list("id", flat=True))
    Project.objects.bulk_create(
        [Project(owner_id=uid, name=f"project {k}") for uid in uids for k in range(2)]
    )
    first_user = uids[0]
    first_project = Project.objects.order_by("id").values_list("id", flat=True)[0]
    now = timezone.now().timestamp()
    span = 365 * 86400
    step = span / total
    if pg:
        seq = f"seq AS (SELECT generate_series(0, {total - 1})::bigint AS i)"
        ts = "to_timestamp({})"
        sha = "lpad(id::text, 64, '0')"
    else:
        seq = f"seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i < {total - 1})"
        ts = "strftime('%Y-%m-%d %H:%M:%f', {}, 'unixepoch')"
        sha = "printf('%064d', id)"
    prompt = (
        f"{_case('i * 7919', MOODS)} || ' ' || {_case('i * 104729', SUBJECTS)} || ' ' "
        f"|| {_case('i * 1299709', STYLES)}"
    )
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"""
            INSERT INTO generation_generation (
                owner_id, project_id, provider, model, prompt, negative_prompt, prompt_text,
                negative_prompt_text, width, height, num_images, params, status,
                cancel_requested, error, attempts, provider_request_id, provider_metadata,
                cost_usd, cost_is_estimate, key_source, created_at, started_at, finished_at)
            WITH RECURSIVE {seq},
            g AS (
                SELECT i, CASE WHEN i % 2 = 0 THEN 0 ELSE 1 + (i / 2) % {USERS - 1} END AS u,
                       (i * 2654435761) % 1000 AS h, {now - span} + i * {step} AS t FROM seq),
            m AS (
                SELECT g.*, CASE WHEN (i / {USERS}) % 3 = 0 THEN (u * 5 + 3) % 12 ELSE u % 12
                       END AS mi, {prompt} AS p FROM g)
            SELECT {first_user} + u,
                   CASE (i / 7) % 3 WHEN 2 THEN NULL ELSE {first_project} + u * 2 + (i / 7) % 3
                   END,
                   'p' || (mi / 3), 'p' || (mi / 3) || '-model-' || (mi % 3),
                   p, '', p, '', 1024, 1024, 1, '{{}}',
                   CASE WHEN i >= {total - 100} THEN 'queued'
                        WHEN h < 940 THEN 'succeeded' WHEN h < 970 THEN 'failed'
                        ELSE 'canceled' END,
                   FALSE,
                   CASE WHEN i >= {total - 100} OR h < 940 OR h >= 970 THEN ''
                        WHEN h < 950 THEN 'Timed out after 120 s.'
                        WHEN h < 960 THEN 'Rate limited by p1; try again in 5 s.'
                        ELSE 'p2 is unavailable right now (HTTP 503)' END,
                   1, '', '{{}}',
                   CASE WHEN mi % 3 = 0 THEN 0.04 WHEN mi % 3 = 1 THEN 0.003 ELSE 0.12 END,
                   mi % 4 = 0, 'team',
                   {ts.format("t")},
                   CASE WHEN i >= {total - 100} THEN NULL ELSE {ts.format("t + 0.2")} END,
                   CASE WHEN i >= {total - 100} THEN NULL
                        ELSE {ts.format("t + 1.2 + ((h * 37) % 20000) / 1000.0")} END
            FROM m
        """)
        for index, extra in ((0, ""), (1, "AND (id * 2654435761) % 1000 < 64")):
            cursor.execute(f"""
                INSERT INTO gallery_image (generation_id, owner_id, project_id, "index", file,
                    thumbnail, width, height, format, bytes, sha256, seed, favorite, rating,
                    title, notes, tag_names, search_prompt, created_at)
                SELECT id, owner_id, project_id, {index}, 'images/x.png', 'thumbnails/x.webp',
                       1024, CASE WHEN id % 3 = 0 THEN 768 ELSE 1024 END, 'PNG',
                       900000 + id % 50000, {sha}, NULL, id % 20 = 0, id % 6,
                       CASE WHEN id % 40 = 0 THEN 'favourite ' || prompt ELSE '' END,
                       CASE WHEN id % 100 = 0 THEN 'kept for the poster' ELSE '' END,
                       '', prompt, finished_at
                FROM generation_generation WHERE status = 'succeeded' {extra}
                ORDER BY id
            """)
    with connection.cursor() as cursor:
        # Fresh statistics, and on PostgreSQL the visibility map autovacuum would have built
        # by now (without it no index-only scan is worth it and counts scan the table).
        cursor.execute("VACUUM ANALYZE" if pg else "ANALYZE")
    from gallery.models import Image

    print(
        f"inserted {total:,} generations and {Image.objects.count():,} images in "
        f"{time.perf_counter() - started:.1f} s",
        flush=True,
    )


def build_rollups() -> None:
    """Build the dashboard's daily rollup over the whole range (the management command's code)."""
    from django.db.models import Max, Min

    from generation.models import Generation
    from generation.usage.rollup import local_day, rebuild_rollups

    bounds = Generation.objects.aggregate(first=Min("created_at"), last=Max("created_at"))
    started = time.perf_counter()
    result = rebuild_rollups(local_day(bounds["first"]), local_day(bounds["last"]))
    print(
        f"rebuild_rollups: {result['generations']:,} generations -> {result['rows']:,} rows "
        f"in {time.perf_counter() - started:.1f} s",
        flush=True,
    )


def add_database_args(parser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help="database URL to fill or reuse (default: a temporary SQLite file, "
        "or BENCH_DATABASE_URL reset first)",
    )
    parser.add_argument(
        "--generations",
        type=int,
        default=None,
        help="fixture size (default 1,000,000; --quick 50,000)",
    )


def open_database(args) -> tuple[str, int]:
    """Set up Django on the bench database the arguments name; fill it; (label, size)."""
    from common import bench_database_url, reset_postgres, setup_django, temp_sqlite_url

    total = args.generations or (50_000 if args.quick else 1_000_000)
    url = args.db
    if url is None:
        url = bench_database_url()
        if url:
            reset_postgres(url)
        else:
            url = temp_sqlite_url()
    setup_django(url)
    ensure_populated(total)
    from django.db import connection

    return connection.vendor, total


def scale_note(total: int) -> str:
    return "" if total >= 1_000_000 else f"QUICK: {total:,} generations instead of 1,000,000"


def database_run(doc: str, argv, quick_repeat: int, full_repeat: int):
    """Parse a database-bound figure's arguments and open its fixture database.

    Returns (args, vendor, total rows, how many times to repeat each measurement)."""
    from common import base_parser

    parser = base_parser(doc)
    add_database_args(parser)
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    vendor, total = open_database(args)
    repeat = args.repeat or (quick_repeat if args.quick else full_repeat)
    return args, vendor, total, repeat
