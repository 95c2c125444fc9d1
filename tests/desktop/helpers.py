"""What the desktop tests share: the launcher's environment, its process tree, waiting."""

import os
import socket
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def launcher_env(**extra) -> dict:
    """This process's environment without the test run's own Django, database and storage
    settings (desktop.py sets its own), plus ``extra``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "PYTEST", "DESKTOP"))
        and k not in ("DATABASE_URL", "REDIS_URL", "ENV_FILE", "STORAGE_DIR", "STATIC_ROOT")
    }
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def descendants(pid: int) -> set[int]:
    """Every living process below ``pid`` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its parent counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def run_desktop(*args: str, env: dict | None = None, python: str | None = None):
    """``python desktop.py ARGS`` to its end (a refusal, a report): its CompletedProcess."""
    import subprocess
    import sys

    return subprocess.run(
        [python or sys.executable, "desktop.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def launch_desktop(*args: str, env: dict, log, python: str | None = None):
    """``python desktop.py ARGS`` left running, in a process group of its own, its output
    in ``log``."""
    import subprocess
    import sys

    return subprocess.Popen(
        [python or sys.executable, "desktop.py", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
