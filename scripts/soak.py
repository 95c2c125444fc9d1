"""Bounded load test on loopback: real `manage.py serve` (gunicorn + qcluster), many clients.

    python scripts/soak.py                       # SQLite in a temp folder
    python scripts/soak.py --database-url postgres://postgres@127.0.0.1:5432/harden_faults

SOAK_SECONDS (default 60) and SOAK_CLIENTS (default 50) set the length and the number of
concurrent clients (threads, one httpx client each). Each client loops over a weighted mix:
generate (offline provider), poll its generation, list the gallery, list generations, view an
image, favorite, edit (title and tags), delete. Identical prompts and seeds make identical
bytes on purpose, so deletes race with generations storing the same content-addressed file.

Afterwards it waits for every generation to settle and checks: zero 5xx, zero transport
errors, no "database is locked" or traceback in the server's log, no generation stuck,
every Image row has its files, no stored file without a row, temp/ empty. Prints a summary
(and writes it as JSON with --json); exits 1 when any check fails.
"""

import argparse
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
USERS = 10
PROMPTS = ["a red fox", "a blue whale", "a green field"]

SETUP = """
import json
import django
django.setup()
from django.contrib.auth import get_user_model
from settings_app.auth_api import issue_token
tokens = []
for n in range(%d):
    user = get_user_model().objects.create_user(f"soak{n}", password="soak-password-123")
    tokens.append(issue_token(user, "soak test")[0])
print(json.dumps(tokens))
"""

AUDIT = """
import json, os
import django
django.setup()
from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Count
from gallery.models import Image
from generation.models import Generation
statuses = dict(Generation.objects.values_list("status").annotate(n=Count("id")))
names = set()
missing = []
for file, thumb in Image.objects.values_list("file", "thumbnail"):
    names |= {file, thumb}
    missing += [n for n in (file, thumb) if not default_storage.exists(n)]
root = str(settings.STORAGE_DIR)
on_disk = {os.path.relpath(os.path.join(d, f), root)
           for sub in ("images", "thumbnails") for d, _, fs in os.walk(os.path.join(root, sub))
           for f in fs}
temp = [f for _, _, fs in os.walk(os.path.join(root, "temp")) for f in fs]
unsettled = Generation.objects.filter(status__in=["queued", "running"]).count()
print(json.dumps({"statuses": statuses, "images": Image.objects.count(),
                  "rows_without_files": missing, "files_without_rows": sorted(on_disk - names),
                  "temp_files": temp, "unsettled": unsettled}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fresh_postgres(url: str) -> None:
    """Drop and create the database named in the URL (never the server's others)."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", name):
        raise SystemExit(f"refusing odd database name {name!r}")
    with psycopg.connect(
        host=parts.hostname or "127.0.0.1",
        port=parts.port or 5432,
        user=parts.username or "postgres",
        password=parts.password or None,
        dbname="postgres",
        autocommit=True,
        connect_timeout=5,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


class Stats:
    """Per-operation status codes and latencies, shared by the client threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.codes = defaultdict(Counter)
        self.latency = defaultdict(list)
        self.transport_errors = Counter()
        self.server_errors: list[str] = []

    def record(self, op, status, seconds, detail=""):
        with self.lock:
            self.codes[op][status] += 1
            self.latency[op].append(seconds)
            if status >= 500:
                self.server_errors.append(f"{op} {status} {detail[:200]}")


def client_loop(base, token, stats: Stats, stop: threading.Event, seed: int):
    rng = random.Random(seed)
    mine: list[int] = []  # generation ids this client made
    images: list[int] = []
    ops = (
        ["generate"] * 4
        + ["poll"] * 5
        + ["gallery"] * 5
        + ["generations"] * 2
        + ["image"] * 2
        + ["favorite"] * 3
        + ["edit"] * 2
        + ["delete"] * 1
    )
    with httpx.Client(
        base_url=base, timeout=60, headers={"Authorization": f"Token {token}"}
    ) as http:
        while not stop.is_set():
            op = rng.choice(ops)
            if (
                op == "poll"
                and not mine
                or op != "generate"
                and op.startswith(("image", "favorite", "edit", "delete"))
                and not images
            ):
                op = "gallery"
            started = time.perf_counter()
            try:
                if op == "generate":
                    response = http.post(
                        "/api/generate",
                        json={
                            "prompt": rng.choice(PROMPTS),
                            "seed": rng.randrange(3),
                            "width": 64,
                            "height": 64,
                            "num_images": rng.choice([1, 2]),
                        },
                    )
                    if response.status_code == 202:
                        mine.append(response.json()["id"])
                elif op == "poll":
                    response = http.get(f"/api/generations/{rng.choice(mine[-20:])}")
                elif op == "gallery":
                    response = http.get("/api/gallery", params={"page_size": 20})
                    if response.status_code == 200:
                        images = [item["id"] for item in response.json()["results"]]
                elif op == "generations":
                    response = http.get("/api/generations")
                elif op == "image":
                    response = http.get(f"/api/gallery/{rng.choice(images)}")
                elif op == "edit":
                    response = http.patch(
                        f"/api/gallery/{rng.choice(images)}",
                        json={
                            "title": f"soak {rng.randrange(100)}",
                            "tags": rng.sample(["fox", "whale", "field", "soak"], 2),
                        },
                    )
                elif op == "favorite":
                    response = http.post(f"/api/gallery/{rng.choice(images)}/favorite")
                else:
                    victim = rng.choice(images)
                    images.remove(victim)
                    response = http.delete(f"/api/gallery/{victim}")
            except httpx.HTTPError as exc:
                with stats.lock:
                    stats.transport_errors[f"{op}: {type(exc).__name__}"] += 1
                continue
            stats.record(
                op,
                response.status_code,
                time.perf_counter() - started,
                response.text if response.status_code >= 500 else "",
            )


def percentile(values, fraction):
    if not values:
        return 0.0
    values = sorted(values)
    return values[min(len(values) - 1, int(fraction * len(values)))]


def run(args) -> dict:
    workdir = Path(tempfile.mkdtemp(prefix="imagegen-soak-"))
    port = free_port()
    database_url = args.database_url or f"sqlite:///{workdir / 'app.db'}"
    if database_url.startswith("postgres"):
        fresh_postgres(database_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.pop("REDIS_URL", None)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "imagegen.settings",
            "ENV_FILE": os.devnull,
            "SECRET_KEY": "soak-" + "s" * 50,
            "ENCRYPTION_KEY": "soak-" + "e" * 50,
            "DEBUG": "false",
            "DATABASE_URL": database_url,
            "STORAGE_DIR": str(workdir / "storage"),
            "STATIC_ROOT": str(workdir / "static"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "LOG_LEVEL": "info",
            # No queue cap: the soak submits far more than a person would queue at once.
            "MAX_QUEUED_GENERATIONS_PER_USER": "0",
            "WEB_CONCURRENCY": str(args.web_workers),
            "WEB_THREADS": str(args.web_threads),
            "Q_WORKERS": "2",
            "OFFLINE_PROVIDER_DELAY_MS": "50",
            "ITEMS_PER_PAGE": "20",
        }
    )
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    tokens = json.loads(
        subprocess.run(
            [python, "-c", SETUP % USERS],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
            timeout=120,
        )
        .stdout.strip()
        .splitlines()[-1]
    )

    log_path = workdir / "serve.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [python, "manage.py", "serve"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    stats = Stats()
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # A worker's first request imports the URLconf and the apps: under load it can
                # take seconds, and a probe that gave up would be logged as a 500 with no body
                # (gunicorn's asgi worker logs an unanswered request so), failing the soak.
                if httpx.get(f"{base}/api/auth/token", timeout=20).status_code == 405:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not come up:\n" + log_path.read_text()[-3000:])
            time.sleep(0.2)

        stop = threading.Event()
        threads = [
            threading.Thread(target=client_loop, args=(base, tokens[n % USERS], stats, stop, n))
            for n in range(args.clients)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(args.seconds)
        stop.set()
        for thread in threads:
            thread.join(120)
        elapsed = time.monotonic() - started

        settle_deadline = time.monotonic() + 120
        while True:
            audit = json.loads(
                subprocess.run(
                    [python, "-c", AUDIT],
                    cwd=ROOT,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                    timeout=120,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            if not audit["unsettled"] or time.monotonic() > settle_deadline:
                break
            time.sleep(1)
    finally:
        try:
            os.killpg(server.pid, signal.SIGINT)
            server.wait(timeout=40)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    log_text = log_path.read_text(errors="replace")

    all_latency = [s for values in stats.latency.values() for s in values]
    requests = len(all_latency)
    access_5xx = re.findall(r'" 5\d\d ', log_text)
    result = {
        "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
        "clients": args.clients,
        "seconds": round(elapsed, 1),
        "requests": requests,
        "requests_per_second": round(requests / elapsed, 1) if elapsed else 0,
        "p50_ms": round(percentile(all_latency, 0.50) * 1000, 1),
        "p99_ms": round(percentile(all_latency, 0.99) * 1000, 1),
        "mean_ms": round(statistics.fmean(all_latency) * 1000, 1) if all_latency else 0,
        "by_operation": {
            op: {
                "codes": dict(codes),
                "p50_ms": round(percentile(stats.latency[op], 0.5) * 1e3, 1),
                "p99_ms": round(percentile(stats.latency[op], 0.99) * 1e3, 1),
            }
            for op, codes in sorted(stats.codes.items())
        },
        "responses_5xx": sum(
            n for codes in stats.codes.values() for code, n in codes.items() if code >= 500
        ),
        "server_log_5xx": len(access_5xx),
        "transport_errors": dict(stats.transport_errors),
        "database_locked_in_log": log_text.count("database is locked"),
        "tracebacks_in_log": log_text.count("Traceback"),
        "audit": audit,
    }
    failures = []
    if result["responses_5xx"] or result["server_log_5xx"]:
        failures.append(f"5xx answers: {stats.server_errors[:5]}")
    if result["transport_errors"]:
        failures.append(f"transport errors: {result['transport_errors']}")
    if result["database_locked_in_log"]:
        failures.append("'database is locked' in the server log")
    if result["tracebacks_in_log"]:
        failures.append("tracebacks in the server log")
    if audit["unsettled"]:
        failures.append(f"{audit['unsettled']} generations never settled")
    for key in ("rows_without_files", "files_without_rows", "temp_files"):
        if audit[key]:
            failures.append(f"{key}: {audit[key][:5]}")
    if not requests:
        failures.append("no requests were made")
    result["failures"] = failures
    if failures:
        result["log_tail"] = log_text[-4000:]
        result["workdir"] = str(workdir)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", "60"))
    )
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", "50")))
    parser.add_argument(
        "--database-url",
        default=os.environ.get("SOAK_DATABASE_URL", ""),
        help="postgres://… (dropped and created afresh); default: a temp SQLite",
    )
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--json", help="also write the summary to this file")
    args = parser.parse_args()
    if not 1 <= args.clients <= 200 or not 1 <= args.seconds <= 3600:
        parser.error("clients must be 1-200 and seconds 1-3600")
    result = run(args)
    summary = {k: v for k, v in result.items() if k != "log_tail"}
    print(json.dumps(summary, indent=2))  # noqa: T201 - a command-line report
    if result.get("log_tail"):
        print(result["log_tail"], file=sys.stderr)  # noqa: T201
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
