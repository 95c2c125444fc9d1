"""`manage.py serve` becomes `imagegen.core.supervisor` (no Django in memory) once set up: it
stops every child when one exits, with that child's code, and never imports Django."""

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from imagegen.core import supervisor
from imagegen.core.supervisor import supervise
from tests.desktop.helpers import alive

ROOT = Path(__file__).resolve().parents[2]


def test_supervisor_does_not_import_django():
    code = (
        "import sys, imagegen.core.supervisor; "
        "sys.exit(1 if any(m.split('.')[0] == 'django' for m in sys.modules) else 0)"
    )
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT).returncode == 0


def test_a_child_exiting_stops_the_others_with_its_code(tmp_path):
    marker = tmp_path / "sleeper-started"
    sleeper = [
        sys.executable,
        "-c",
        f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)",
    ]
    failing = [
        sys.executable,
        "-c",
        f"import pathlib, sys, time\n"
        f"while not pathlib.Path({str(marker)!r}).exists(): time.sleep(0.05)\n"
        f"sys.exit(3)",
    ]
    started = time.monotonic()
    assert supervise({"web server": sleeper, "job worker": failing}) == 3
    assert time.monotonic() - started < 50  # the sleeper was stopped, not waited out


def test_a_child_that_cannot_start_stops_those_already_started(tmp_path, monkeypatch):
    started = []

    class RecordingPopen(subprocess.Popen):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(supervisor.subprocess, "Popen", RecordingPopen)
    sleeper = [sys.executable, "-c", "import time; time.sleep(60)"]
    missing = [str(tmp_path / "no-such-program")]
    with pytest.raises(FileNotFoundError):
        supervise({"web server": sleeper, "job worker": missing})
    assert len(started) == 1
    assert started[0].poll() is not None  # stopped, not left running on its own


def test_with_stop_with_parent_set_the_app_stops_when_its_launcher_is_killed(tmp_path):
    """desktop.py sets IMAGEGEN_STOP_WITH_PARENT: killed outright, it leaves nothing running."""
    pids = tmp_path / "pids"
    sleeper = [
        sys.executable,
        "-c",
        f"import os, pathlib, time; pathlib.Path({str(pids)!r}).write_text(str(os.getpid()));"
        "time.sleep(120)",
    ]
    spec = json.dumps({"children": {"web server": sleeper}})
    launcher = (
        "import os, subprocess, sys, time, pathlib\n"
        "env = {**os.environ, 'IMAGEGEN_STOP_WITH_PARENT': str(os.getpid())}\n"
        f"subprocess.Popen([sys.executable, '-m', 'imagegen.core.supervisor', {spec!r}], env=env)\n"
        f"while not pathlib.Path({str(pids)!r}).exists(): time.sleep(0.05)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    subprocess.run([sys.executable, "-c", launcher], cwd=ROOT, timeout=60)
    child = int(pids.read_text())
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and alive(child):
        time.sleep(0.1)
    assert not alive(child)
