"""Shared parts of the benchmark scripts: a throwaway database, timing, servers, the table.

Every script prints one table with the same columns: the figure, the reference measured in
the same run, their ratio, the target, and whether it was met. ``--json PATH`` appends the
rows to a file so that ``bench/run.py`` can print all of them together at the end.
"""

import argparse
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

SETTINGS = "bench.settings_bench"


# --- the table ------------------------------------------------------------------------------
@dataclass
class Row:
    """One line of a benchmark table."""

    fig: str
    figure: str
    value: str
    reference: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""  # "yes", "NO", or "" (reported only)
    note: str = ""


def fmt_ms(ms: float | None) -> str:
    return "—" if ms is None else (f"{ms:.2f} ms" if ms < 10 else f"{ms:.1f} ms")


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else ""


def met(ok: bool | None) -> str:
    return "" if ok is None else ("yes" if ok else "NO")


def versus_row(
    number: str,
    what: str,
    values: dict[str, float],
    name: str,
    reference: str,
    target: float | None = None,
    label: str | None = None,
) -> Row:
    """A row of p50 ``values[name]`` beside the same run's ``values[reference]`` (named
    ``label``, default the reference's key), met when within ``target`` times it."""
    label = label or reference
    value, ref = values[name], values[reference]
    return Row(
        number,
        what,
        fmt_ms(value),
        f"{label} {fmt_ms(ref)}",
        ratio(value, ref),
        f"≤ {target}× {label}" if target else "recorded",
        met(value <= target * ref) if target else "—",
    )


def print_table(title: str, rows: list[Row]) -> None:
    """Print rows as an aligned text table (Markdown-compatible pipes)."""
    head = ["#", "figure", "measured", "reference (same run)", "ratio", "target", "met?"]
    cells = [[r.fig, r.figure, r.value, r.reference, r.ratio, r.target, r.met] for r in rows]
    widths = [max(len(str(c[i])) for c in [head, *cells]) for i in range(len(head))]

    def line(values):
        cells = (str(v).ljust(w) for v, w in zip(values, widths, strict=True))
        return "| " + " | ".join(cells) + " |"

    print(f"\n{title}")
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for c in cells:
        print(line(c))
    for r in rows:
        if r.note:
            print(f"  [{r.fig}] {r.figure}: {r.note}")
    sys.stdout.flush()


def emit(title: str, rows: list[Row], json_path: str | None) -> None:
    """Print the table and append the rows to the runner's JSON file when one is given."""
    print_table(title, rows)
    if json_path:
        with open(json_path, "a") as out:
            for r in rows:
                out.write(json.dumps(asdict(r)) + "\n")


def base_parser(doc: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="scaled-down data, short runs")
    parser.add_argument("--json", default=None, help="append result rows to this file")
    return parser


# --- timing ---------------------------------------------------------------------------------
def samples_ms(call, repeat: int, warmup: int = 2) -> list[float]:
    """Wall-clock milliseconds of ``repeat`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        call()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def p50(values) -> float:
    return statistics.median(values)


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


# --- the throwaway database -----------------------------------------------------------------
def bench_database_url() -> str | None:
    """BENCH_DATABASE_URL (a PostgreSQL database for the bench, e.g. .../bench), if set."""
    return os.environ.get("BENCH_DATABASE_URL") or None


def temp_sqlite_url(folder: str | None = None) -> str:
    """A new SQLite file in a temp folder; a copy of the runner's migrated template when
    there is one (BENCH_TEMPLATE_DB), which saves every script the migrations."""
    folder = folder or tempfile.mkdtemp(prefix="bench-db-")
    path = os.path.join(folder, "bench.db")
    template = os.environ.get("BENCH_TEMPLATE_DB")
    if template and os.path.exists(template) and not os.path.exists(path):
        shutil.copyfile(template, path)
    return f"sqlite:///{path}"


def server_env(database_url: str, storage_dir: str, **extra) -> dict:
    """Environment for Django processes of the bench: never the developer's .env or app.db."""
    env = {**os.environ}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": SETTINGS,
            "ENV_FILE": os.devnull,
            "DATABASE_URL": database_url,
            "STORAGE_DIR": storage_dir,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
    )
    env.pop("REDIS_URL", None)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def setup_django(database_url: str, storage_dir: str | None = None, **extra) -> str:
    """Configure this process for the bench database and a temp storage folder; migrate."""
    storage_dir = storage_dir or tempfile.mkdtemp(prefix="bench-storage-")
    os.environ.update(server_env(database_url, storage_dir, **extra))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return storage_dir


def reset_postgres(url: str) -> None:
    """Drop and recreate the PostgreSQL database named in ``url`` (the bench's own)."""
    import psycopg

    name = url.rsplit("/", 1)[1].split("?")[0]
    if name in ("", "postgres", "imagegen", "template0", "template1"):
        raise SystemExit(f"refusing to reset database {name!r}: use a bench-only name")
    admin = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def postgres_reachable(url: str) -> bool:
    try:
        import psycopg

        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, connect_timeout=2):
            return True
    except Exception as exc:
        print(f"PostgreSQL not reachable: {exc}", file=sys.stderr)
        return False


# --- servers --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``manage.py serve`` (gunicorn + the django-q cluster) in its own process group."""

    def __init__(
        self,
        env: dict,
        *,
        no_worker=False,
        web_workers: int | None = 2,
        web_threads: int | None = 8,
        log_path: str | None = None,
    ):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path or tempfile.mktemp(prefix="bench-server-", suffix=".log")
        # None: serve's own default (WEB_CONCURRENCY / WEB_THREADS), as `make run` has it.
        args = [
            sys.executable,
            "manage.py",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]
        if web_workers is not None:
            args += ["--web-workers", str(web_workers)]
        if web_threads is not None:
            args += ["--web-threads", str(web_threads)]
        if no_worker:
            args.append("--no-worker")
        self.log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_ready()

    def _wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {self.log_path}:\n{self.log_text()}")
            try:
                urllib.request.urlopen(self.url + "/login/", timeout=2).read()
                return
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.2)
        raise RuntimeError(f"server not ready after {timeout} s; see {self.log_path}")

    def log_text(self) -> str:
        if not self.log.closed:
            self.log.flush()
        return Path(self.log_path).read_text(errors="replace")

    def stop(self):
        # A throwaway server: no need to wait long for a graceful drain.
        stop_group(self.proc, grace=5)
        self.log.close()


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def memory_mb(pids: list[int]) -> tuple[float, float]:
    """(sum of RSS, sum of PSS) in MB over these processes (PSS counts shared pages once)."""
    rss = pss = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss / 1024, pss / 1024


def api_token(user) -> str:
    """A fresh knox API token for ``user`` (created straight in the database)."""
    from knox.models import AuthToken

    return AuthToken.objects.create(user)[1]


def http(
    method: str, url: str, token: str | None = None, body: dict | None = None, timeout: float = 60
) -> tuple[int, bytes]:
    """(status, body) of one request; HTTP errors are returned, not raised."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if token:
        request.add_header("Authorization", f"Token {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def stop_group(proc: subprocess.Popen, grace: float = 5) -> None:
    """SIGTERM the process group ``proc`` leads; SIGKILL it if it is still there after
    ``grace`` seconds (a django-q cluster may wait on its workers' threads)."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(grace)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers in the group (forked workers)
    proc.wait()


def cleanup(*paths: str) -> None:
    for path in paths:
        shutil.rmtree(path, ignore_errors=True)


def make_stored_images(user, count: int, side: int, words: str) -> None:
    """``count`` offline renders of ``side``² for ``user`` through the real store (files and
    thumbnails), each with its finished generation; prompts are ``f"{words} {n}"``."""
    from gallery.models import Image
    from gallery.services import store_image_files
    from generation.models import Generation
    from imagegen.core.imaging import validate_image
    from imagegen.providers.offline import render

    for n in range(count):
        prompt = f"{words} {n}"
        generation = Generation.objects.create(
            owner=user,
            provider="offline",
            model="offline-shapes",
            prompt=prompt,
            prompt_text=prompt,
            width=side,
            height=side,
            status="succeeded",
            seed=n,
        )
        checked = validate_image(render(prompt, n, side, side))
        stored = store_image_files(checked)
        Image.objects.create(
            generation=generation,
            owner=user,
            file=stored.file,
            thumbnail=stored.thumbnail,
            width=side,
            height=side,
            format=checked.format,
            bytes=len(checked.data),
            sha256=checked.sha256,
            search_prompt=prompt,
        )
