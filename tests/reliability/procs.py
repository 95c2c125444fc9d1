"""Real processes for the fault tests: their own database (a temp SQLite file, or, on the
suite's PostgreSQL pass, a fresh PostgreSQL database cloned from a migrated template), their
own storage folder, the ORM job broker (no Redis, nothing shared), and qcluster / serve
children we can kill."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
FINAL = ("succeeded", "failed", "canceled")

# Creates generations the way the API does (validated, enqueued after commit) and prints ids.
_MAKE = """
import json, sys
import django
django.setup()
from django.contrib.auth import get_user_model
from generation.services import create_generation
spec = json.loads(sys.argv[1])
user, _ = get_user_model().objects.get_or_create(username=spec.pop("user"))
ids = [create_generation(user, dict(spec["data"], seed=i + 1)).pk for i in range(spec["n"])]
print(json.dumps(ids))
"""


_TEMPLATE: Path | None = None

# On the suite's PostgreSQL pass the processes run against PostgreSQL too.
SUITE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = SUITE_URL.startswith("postgres")
PG_TEMPLATE = "imagegen_proc_template"

# For the few tests about SQLite itself (its write lock).
only_once = pytest.mark.skipif(ON_POSTGRES, reason="about SQLite's lock; the SQLite pass runs it")


def _pg_admin():
    import psycopg

    url = urlsplit(SUITE_URL)
    return psycopg.connect(
        host=url.hostname or "127.0.0.1",
        port=url.port or 5432,
        user=url.username or "postgres",
        password=url.password or None,
        dbname="postgres",
        autocommit=True,
    )


def _pg_url(name: str) -> str:
    url = urlsplit(SUITE_URL)
    return f"{url.scheme}://{url.netloc}/{name}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class App:
    """One install of the app under ``tmp_path``; children are started in their own process
    group so a SIGKILL takes the whole qcluster tree (its sentinel, pusher and workers)."""

    def __init__(self, tmp_path: Path, **env):
        self.tmp = tmp_path
        self.db_path = tmp_path / "app.db"
        self.pg_name = f"imagegen_proc_{uuid.uuid4().hex[:12]}" if ON_POSTGRES else None
        self.storage = tmp_path / "storage"
        self.port = free_port()
        base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
        base.pop("REDIS_URL", None)
        base.update(
            {
                "DJANGO_SETTINGS_MODULE": "imagegen.settings",
                "ENV_FILE": os.devnull,
                "SECRET_KEY": "s" * 50,
                "ENCRYPTION_KEY": "e" * 50,
                "DEBUG": "false",
                "DATABASE_URL": (
                    _pg_url(self.pg_name) if ON_POSTGRES else f"sqlite:///{self.db_path}"
                ),
                "STORAGE_DIR": str(self.storage),
                "STATIC_ROOT": str(tmp_path / "static"),
                "HOST": "127.0.0.1",
                "PORT": str(self.port),
                "Q_WORKERS": "1",
                "WEB_CONCURRENCY": "1",
                "LOG_LEVEL": "info",
            }
        )
        base.update({k: str(v) for k, v in env.items()})
        self.env = base
        self.children: list[tuple[subprocess.Popen, Path]] = []

    # --- commands ------------------------------------------------------------------------
    def manage(self, *args, timeout=120, **env) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **env},
            check=True,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def migrate(self) -> App:
        """A migrated database: migrated once per test session, then copied."""
        global _TEMPLATE
        if ON_POSTGRES:
            return self._migrate_postgres()
        if _TEMPLATE is None:
            self.manage("migrate", "--noinput")
            _TEMPLATE = Path(tempfile.mkdtemp(prefix="imagegen-template-")) / "app.db"
            shutil.copyfile(self.db_path, _TEMPLATE)
        else:
            shutil.copyfile(_TEMPLATE, self.db_path)
        return self

    def _migrate_postgres(self) -> App:
        global _TEMPLATE
        with _pg_admin() as admin:
            if _TEMPLATE is None:
                admin.execute(f'DROP DATABASE IF EXISTS "{PG_TEMPLATE}"')
                admin.execute(f'CREATE DATABASE "{PG_TEMPLATE}"')
                self.manage("migrate", "--noinput", DATABASE_URL=_pg_url(PG_TEMPLATE))
                _TEMPLATE = Path(PG_TEMPLATE)
            admin.execute(f'CREATE DATABASE "{self.pg_name}" TEMPLATE "{PG_TEMPLATE}"')
        return self

    def drop_database(self) -> None:
        """Remove this install's PostgreSQL database (after its processes are gone)."""
        if self.pg_name:
            with _pg_admin() as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{self.pg_name}" WITH (FORCE)')

    def create_generations(self, n=1, user="tester", **data) -> list[int]:
        data = {"prompt": "fault test", "width": 64, "height": 64, **data}
        spec = json.dumps({"user": user, "n": n, "data": data})
        out = subprocess.run(
            [sys.executable, "-c", _MAKE, spec],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
            text=True,
            timeout=60,
        )
        return json.loads(out.stdout.strip().splitlines()[-1])

    # --- children ------------------------------------------------------------------------
    def start(self, *args, name="worker", **env) -> subprocess.Popen:
        log_path = self.tmp / f"{name}-{len(self.children)}.log"
        log = open(log_path, "w")  # noqa: SIM115 - closed with the child
        proc = subprocess.Popen(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **{k: str(v) for k, v in env.items()}},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.children.append((proc, log_path))
        return proc

    def start_worker(self, **env) -> subprocess.Popen:
        return self.start("qcluster", name="worker", **env)

    def kill(self, proc: subprocess.Popen, sig=signal.SIGKILL, timeout=30) -> None:
        """Signal the child's whole process group and wait for the child."""
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        if sig != signal.SIGKILL:
            # Stragglers of a graceful stop (pool workers) must not outlive the test.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)

    def stop_all(self) -> None:
        for proc, _ in self.children:
            self.kill(proc, signal.SIGKILL)
        self.drop_database()

    def logs(self) -> str:
        return "\n".join(path.read_text(errors="replace") for _, path in self.children)

    # --- the database, read from outside ---------------------------------------------------
    def query(self, sql: str, params=()) -> list[tuple]:
        if ON_POSTGRES:
            import psycopg

            url = urlsplit(_pg_url(self.pg_name))
            with psycopg.connect(
                host=url.hostname,
                port=url.port or 5432,
                user=url.username or "postgres",
                dbname=self.pg_name,
                password=url.password or None,
                autocommit=True,
            ) as conn:
                return [tuple(row) for row in conn.execute(sql.replace("?", "%s"), params)]
        conn = sqlite3.connect(self.db_path, timeout=30)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def generations(self, ids=None) -> dict[int, dict]:
        sql = "SELECT id, status, attempts, error, cancel_requested FROM generation_generation"
        rows = self.query(sql)
        found = {
            r[0]: {"status": r[1], "attempts": r[2], "error": r[3], "cancel": r[4]} for r in rows
        }
        return found if ids is None else {i: found[i] for i in ids}

    def wait_final(self, ids, timeout=60.0, proc=None) -> dict[int, dict]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.generations(ids)
            if all(g["status"] in FINAL for g in found.values()):
                return found
            if proc is not None and proc.poll() is not None:
                raise AssertionError(f"process exited early:\n{self.logs()[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"not finished: {found}\n{self.logs()[-4000:]}")
            time.sleep(0.2)

    def wait_status(self, generation_id, status, timeout=30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.generations([generation_id])[generation_id]["status"] != status:
            if time.monotonic() > deadline:
                raise AssertionError(f"generation {generation_id} never {status}")
            time.sleep(0.05)

    # --- invariants after every fault ------------------------------------------------------
    def files(self, sub: str) -> set[str]:
        root = self.storage / sub
        return {str(Path(d, f).relative_to(self.storage)) for d, _, fs in os.walk(root) for f in fs}

    def assert_consistent(self) -> None:
        """Nothing stuck, no half-written file, no row without files, no file without a row."""
        stuck = self.query(
            "SELECT id, status FROM generation_generation WHERE status IN ('queued', 'running')"
        )
        assert stuck == [], f"stuck generations: {stuck}"
        assert self.files("temp") == set(), f"half-written files: {self.files('temp')}"
        rows = self.query("SELECT file, thumbnail FROM gallery_image")
        names = {n for row in rows for n in row}
        on_disk = self.files("images") | self.files("thumbnails")
        assert names - on_disk == set(), f"rows without files: {names - on_disk}"
        assert on_disk - names == set(), f"files without rows: {on_disk - names}"
        failed = self.query(
            "SELECT id, error FROM generation_generation "
            "WHERE status = 'failed' AND (error IS NULL OR error = '')"
        )
        assert failed == [], f"failed without a reason: {failed}"
        succeeded_without_images = self.query(
            "SELECT g.id FROM generation_generation g WHERE g.status = 'succeeded' AND "
            "(SELECT COUNT(*) FROM gallery_image i WHERE i.generation_id = g.id) "
            "!= g.num_images"
        )
        assert succeeded_without_images == [], f"lost images: {succeeded_without_images}"
        assert "database is locked" not in self.logs()
