"""The benchmark runner runs end to end (timings are never asserted: they belong to bench/)."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_ingest_run_prints_the_figure_row(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--only", "ingest"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    summary = result.stdout.split("All figures", 1)[1]
    assert "| 1 | ingest 1024² PNG" in summary
    assert "bare decode" in summary
    # The bench never touches the developer's database or storage.
    assert str(ROOT / "database") not in result.stdout


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
