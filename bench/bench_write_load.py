"""Figure 7: write load, 50 concurrent clients for 60 s on loopback, SQLite and PostgreSQL.

    .venv/bin/python bench/bench_write_load.py [--quick] [--seconds 60] [--clients 50]

Runs ``manage.py serve`` (gunicorn 2 × 8 threads + the django-q2 cluster, our defaults) on a
throwaway SQLite file, then on PostgreSQL (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/bench, skipped when unreachable). 50 client threads, 10
users with 5 clients each, loop for the duration over a mix: 20% generate (offline, 256²),
50% list the gallery, 20% favorite an image, 10% delete one. Each user starts with 200
images (made through the real ingest path once, then copied as rows). Reported: requests,
p50/p99 latency per database, 5xx answers and "database is locked" anywhere (answers and
the server's log). Target: zero 5xx and zero "database is locked".
"""

import os
import random
import tempfile
import threading
import time

from common import (
    Row,
    Server,
    api_token,
    base_parser,
    emit,
    fmt_ms,
    http,
    met,
    p50,
    percentile,
    postgres_reachable,
    reset_postgres,
    server_env,
    setup_django,
    temp_sqlite_url,
)

USERS, IMAGES_EACH = 10, 200
PG_DEFAULT = "postgres://postgres@127.0.0.1:5432/bench"


def seed_images(users) -> None:
    """Give every user IMAGES_EACH images: one real stored file, the rest rows pointing at it."""
    from gallery.models import Image
    from gallery.services import store_image_files
    from generation.models import Generation
    from imagegen.core.imaging import validate_image
    from imagegen.providers.offline import render

    checked = validate_image(render("seed picture", 1, 256, 256))
    stored = store_image_files(checked)
    for user in users:
        generations = Generation.objects.bulk_create(
            [
                Generation(
                    owner=user,
                    provider="offline",
                    model="offline-shapes",
                    prompt=f"seed picture {n}",
                    prompt_text=f"seed picture {n}",
                    width=256,
                    height=256,
                    status="succeeded",
                    seed=n,
                )
                for n in range(IMAGES_EACH)
            ]
        )
        Image.objects.bulk_create(
            [
                Image(
                    generation=g,
                    owner=user,
                    file=stored.file,
                    thumbnail=stored.thumbnail,
                    width=256,
                    height=256,
                    format="PNG",
                    bytes=len(checked.data),
                    sha256=checked.sha256,
                    search_prompt=g.prompt,
                )
                for g in generations
            ]
        )


def run_load(database_url: str, seconds: float, clients: int, label: str) -> dict:
    folder = tempfile.mkdtemp(prefix="bench-load-")
    # No queue cap: the load mix submits far more than a person would queue at once.
    extra = {
        "Q_CLUSTER_NAME": f"bench-load-{os.getpid()}",
        "GENERATION_MAX_CONCURRENT": 3,
        "MAX_QUEUED_GENERATIONS_PER_USER": 0,
    }
    storage = os.path.join(folder, "storage")
    setup_django(database_url, storage, **extra)
    from django.contrib.auth import get_user_model
    from django.db import connection

    from gallery.models import Image

    User = get_user_model()
    users = [User.objects.create(username=f"load{n:02d}", password="!") for n in range(USERS)]
    seed_images(users)
    tokens = {u.pk: api_token(u) for u in users}
    image_ids = {
        u.pk: list(Image.objects.filter(owner=u).values_list("id", flat=True)) for u in users
    }
    connection.close()
    server = Server(server_env(database_url, storage, **extra), web_workers=2, web_threads=8)
    latencies: list[float] = []
    errors = {"5xx": 0, "locked": 0, "other": 0}
    counts: dict[str, int] = {}
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def client(n: int):
        rng = random.Random(n)
        user = users[n % USERS]
        token, mine = tokens[user.pk], image_ids[user.pk]
        while time.monotonic() < stop_at:
            roll = rng.random()
            if roll < 0.2:
                op, args = (
                    "generate",
                    (
                        "POST",
                        "/api/generate",
                        {
                            "provider": "offline",
                            "prompt": f"load test {rng.random()}",
                            "width": 256,
                            "height": 256,
                        },
                    ),
                )
            elif roll < 0.7:
                op, args = "list", ("GET", "/api/gallery?page_size=50", None)
            elif roll < 0.9:
                op, args = "favorite", ("POST", f"/api/gallery/{rng.choice(mine)}/favorite", None)
            else:
                with lock:
                    pk = mine.pop(rng.randrange(len(mine))) if len(mine) > 20 else None
                if pk is None:
                    continue
                op, args = "delete", ("DELETE", f"/api/gallery/{pk}", None)
            started = time.perf_counter()
            status, body = http(args[0], server.url + args[1], token, args[2])
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                counts[op] = counts.get(op, 0) + 1
                if status >= 500:
                    errors["5xx"] += 1
                elif status >= 400 and not (status == 404 and op in ("favorite", "delete")):
                    errors["other"] += 1
                if b"database is locked" in body:
                    errors["locked"] += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    server.stop()
    log = server.log_text()
    errors["locked"] += log.count("database is locked")
    return {
        "label": label,
        "requests": len(latencies),
        "p50": p50(latencies),
        "p99": percentile(latencies, 99),
        "errors": errors,
        "counts": counts,
        "seconds": seconds,
    }


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--only", choices=["sqlite", "postgresql"], default=None)
    args = parser.parse_args(argv)
    seconds = args.seconds or (10 if args.quick else 60)
    import json
    import subprocess
    import sys

    if args.only:
        if args.only == "sqlite":
            url = temp_sqlite_url()
        else:
            url = os.environ.get("BENCH_DATABASE_URL") or PG_DEFAULT
            reset_postgres(url)
        result = run_load(url, seconds, args.clients, args.only)
        print("RESULT " + json.dumps(result), flush=True)
        return []
    # Each database in its own process (Django is set up once per process).
    results = {}
    pg_url = os.environ.get("BENCH_DATABASE_URL") or PG_DEFAULT
    for name in ("sqlite", "postgresql"):
        if name == "postgresql" and not postgres_reachable(pg_url):
            continue
        out = subprocess.run(
            [
                sys.executable,
                __file__,
                "--only",
                name,
                "--seconds",
                str(seconds),
                "--clients",
                str(args.clients),
            ],
            capture_output=True,
            text=True,
        )
        line = [x for x in out.stdout.splitlines() if x.startswith("RESULT ")]
        if not line:
            print(out.stdout[-2000:], out.stderr[-4000:])
            continue
        results[name] = json.loads(line[0][7:])
    rows = []
    pg = results.get("postgresql")
    for name, r in results.items():
        e = r["errors"]
        ok = e["5xx"] == 0 and e["locked"] == 0
        mix = ", ".join(f"{k} {v}" for k, v in sorted(r["counts"].items()))
        reference = (
            f"PostgreSQL p50 {fmt_ms(pg['p50'])} / p99 {fmt_ms(pg['p99'])}"
            if pg and name == "sqlite"
            else ""
        )
        rows.append(
            Row(
                "7",
                f"{args.clients} clients × {r['seconds']:.0f} s on {name}: p50 / p99 "
                f"({r['requests']:,} requests, {r['requests'] / r['seconds']:.0f}/s)",
                f"{fmt_ms(r['p50'])} / {fmt_ms(r['p99'])}",
                reference,
                f"{r['p50'] / pg['p50']:.2f}× p50" if reference else "",
                "no 5xx, no locked",
                met(ok),
                f"5xx: {e['5xx']}, 'database is locked': {e['locked']}, other 4xx: {e['other']}; "
                f"mix: {mix}" + ("; QUICK: 10 s instead of 60 s" if args.quick else ""),
            )
        )
    if "postgresql" not in results:
        rows.append(
            Row(
                "7",
                "write load on PostgreSQL",
                "skipped",
                "",
                "",
                "",
                "",
                f"PostgreSQL not reachable at {pg_url}",
            )
        )
    emit("Figure 7: write load", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
