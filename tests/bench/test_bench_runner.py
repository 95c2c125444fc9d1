"""The benchmark runner runs end to end (timings are never asserted: they belong to bench/)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def quick_run(figure: str, tmp_path):
    """``bench/run.py --quick --only <figure>`` in a clean environment: (its output, the
    summary table it prints last)."""
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", figure],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result, result.stdout.split("All figures", 1)[1]


@pytest.mark.slow
def test_quick_ingest_run_prints_the_figure_row(tmp_path):
    result, summary = quick_run("ingest", tmp_path)
    assert "| 1 | ingest 1024² PNG" in summary
    assert "bare decode" in summary
    # The bench never touches the developer's database or storage.
    assert str(ROOT / "database") not in result.stdout


def processes_started_under(folder) -> list[str]:
    """Command lines of the running processes whose TMPDIR is ``folder`` or inside it (the
    runner puts its own temp folder there, and every server it starts inherits it)."""
    marker = f"TMPDIR={folder}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        try:
            variables = (entry / "environ").read_bytes().split(b"\0")
            if any(v.startswith(marker) for v in variables):
                found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except OSError:  # not a process, or one that has just ended
            continue
    return found


@pytest.mark.slow
def test_quick_gateway_run_prints_the_figure_rows(tmp_path):
    """Figure 12 serves the app, sends 20 waiting /v1 calls with the gallery read beside
    them, reports every call's image, and stops its server."""
    _, summary = quick_run("gateway", tmp_path)
    assert "| 12 | QUICK: 20 calls on a 2 s provider; GET /api/gallery p95 during" in summary
    assert "idle p95" in summary
    assert "slowest of the 20 /v1/images/generations calls" in summary
    # Every call answered 200 with its picture (a count, not a timing).
    assert "| 20/20 " in summary, summary
    assert processes_started_under(tmp_path) == []


@pytest.mark.slow
@pytest.mark.browser  # Xvfb and Qt WebEngine: run once, with the other window tests
def test_quick_desktop_run_prints_the_figure_rows(tmp_path):
    """Figure 13 opens desktop.py's window under Xvfb twice and stops everything it started."""
    _, summary = quick_run("desktop", tmp_path)
    assert "| 13 | later start to signed-in page (median of 1)" in summary, summary
    assert "close to every process gone (slowest of 2)" in summary
    assert "serve alone" in summary
    assert processes_started_under(tmp_path) == []


def test_unknown_figure_is_refused():
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--only", "nonsense"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "unknown figures: nonsense" in result.stderr


@pytest.mark.slow
def test_quick_identity_run_prints_the_figure_rows(tmp_path):
    """Figure 14 resolves limits, writes audit entries and checks codes (each accepted)."""
    _, summary = quick_run("identity", tmp_path)
    assert "| 14a | effective limits, member of 3 groups, p50 of 30" in summary, summary
    assert "| 14b | one audit entry (audit.record)" in summary
    assert "| 14c | two-factor code check" in summary and "password check" in summary
