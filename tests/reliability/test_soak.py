"""The load test (scripts/soak.py) in the suite, short: 50 clients for 10 s against a real
`manage.py serve` on loopback. On SQLite, and on PostgreSQL when the suite runs there (in a
database named after the suite's with ``_soak`` appended, dropped and created afresh)."""

import json
import os
import subprocess
import sys
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.reliability.procs import ROOT

pytestmark = pytest.mark.slow


def soak_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        return ""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_soak"))


def test_fifty_clients_get_no_5xx_and_no_database_locked(tmp_path):
    report = tmp_path / "soak.json"
    command = [
        sys.executable,
        "scripts/soak.py",
        "--json",
        str(report),
        "--seconds",
        os.environ.get("SOAK_SECONDS", "10"),
        "--clients",
        os.environ.get("SOAK_CLIENTS", "50"),
    ]
    if soak_database_url():
        command += ["--database-url", soak_database_url()]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["requests"] > 100
    assert result["responses_5xx"] == 0 and result["server_log_5xx"] == 0
    assert result["transport_errors"] == {}
    assert result["database_locked_in_log"] == 0
    assert result["audit"]["unsettled"] == 0
    assert result["audit"]["rows_without_files"] == []
    assert result["audit"]["files_without_rows"] == []
    assert result["audit"]["temp_files"] == []
