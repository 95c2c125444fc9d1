"""The process that `manage.py serve` becomes once its Django set-up is done.

``serve`` checks the configuration, creates the admin and runs the recovery sweep, then
replaces itself (``os.execv``, same process id) with this module, which only starts the web
server and the job worker and watches them. It imports nothing of Django, so the supervisor
costs a few MB instead of a whole Django process (bench figure 3: memory of the tree).

    python -m imagegen.core.supervisor '<json: {"children": {"name": [argv...]}, "cwd": ...}>'

Ctrl-C or SIGTERM stops every child; if one exits the others are stopped too, so the app is
never left half running. The exit code is the first child's failure code (0 on a clean stop).
"""

import json
import os
import signal
import subprocess
import sys
import time

from imagegen.core.umask import set_private_umask

POLL_SECONDS = 0.5
STOP_SECONDS = 30
# Set by a launcher that starts the app for itself (desktop.py) to its own process id: when
# that process goes, however it goes (killed, crashed), the app stops too instead of running
# on unseen. The supervisor notices that it has a new parent.
STOP_WITH_PARENT = "IMAGEGEN_STOP_WITH_PARENT"


def supervise(children: dict[str, list[str]], cwd: str | None = None, message: str = "") -> int:
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    set_private_umask()  # the children (gunicorn, the worker) inherit it
    procs: dict[str, subprocess.Popen] = {}
    exit_code = 0
    parent = int(os.environ.get(STOP_WITH_PARENT) or 0)
    try:
        # Started inside the try: if one cannot start, those already running are stopped.
        for name, argv in children.items():
            procs[name] = subprocess.Popen(argv, cwd=cwd)
        if message:
            sys.stdout.write(message + "\n")
            sys.stdout.flush()
        while not stopping:
            if parent and os.getppid() != parent:
                sys.stderr.write("The process that started the app has gone; stopping.\n")
                sys.stderr.flush()
                break
            for name, proc in procs.items():
                if proc.poll() is not None:
                    sys.stderr.write(
                        f"The {name} exited with code {proc.returncode}; stopping the rest.\n"
                    )
                    sys.stderr.flush()
                    exit_code = proc.returncode or 1
                    stopping = True
                    break
            if not stopping:
                time.sleep(POLL_SECONDS)
    finally:
        stop_all(procs)
    return exit_code


def stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str]) -> int:
    spec = json.loads(argv[1])
    return supervise(spec["children"], spec.get("cwd"), spec.get("message", ""))


if __name__ == "__main__":
    sys.exit(main(sys.argv))
