"""Run the web server (gunicorn) and the job worker (django-q2 cluster) together.

After its Django set-up (admin, the recovery sweep of ``recover_generations``) the command
replaces itself with ``imagegen.core.supervisor``, a process without Django that starts both
children and watches them: Ctrl-C or SIGTERM stops both, and if either exits the other is
stopped too, so the app is never left half running.

gunicorn alone is no front end for the internet: slow clients ("slow loris") can hold its
threads. The command starts it hardened as far as gunicorn can be (below) and, when bound
beyond loopback, says on its startup line that a reverse proxy must sit in front
(docs/deploy.md, "nginx").
"""

import ipaddress
import json
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

# A connection left idle after a response is closed after this many seconds.
KEEP_ALIVE_SECONDS = 2
# A worker whose main loop is stuck this long is restarted (gthread keeps the loop free while
# threads answer, so a long download is not cut).
WORKER_TIMEOUT_SECONDS = 60
# Request line, header count and header size limits: what a browser or API client needs.
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190
PROXY_WARNING = (
    "Listening beyond localhost: put a reverse proxy (nginx, docs/deploy.md) in front; "
    "gunicorn alone can be held up by slow clients."
)


def gunicorn_command(bind: str, workers: int, threads: int) -> list[str]:
    """The gunicorn command line `serve` runs."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "imagegen.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        "--keep-alive",
        str(KEEP_ALIVE_SECONDS),
        "--timeout",
        str(WORKER_TIMEOUT_SECONDS),
        "--graceful-timeout",
        "20",
        "--limit-request-line",
        str(LIMIT_REQUEST_LINE),
        "--limit-request-fields",
        str(LIMIT_REQUEST_FIELDS),
        "--limit-request-field_size",
        str(LIMIT_REQUEST_FIELD_SIZE),
        "--access-logfile",
        "-",
    ]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:  # a host name: it may resolve to anything
        return False


def startup_message(host: str, port: int) -> str:
    url_host = f"[{host}]" if ":" in host else host
    line = f"imagegen is running on http://{url_host}:{port}/ (Ctrl-C stops it)"
    return line if is_loopback(host) else f"{line}. {PROXY_WARNING}"


class Command(BaseCommand):
    help = "Serve the app with gunicorn and run the django-q2 worker cluster beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )
        parser.add_argument(
            "--web-threads", type=int, default=int(os.environ.get("WEB_THREADS", "8"))
        )
        parser.add_argument(
            "--no-worker",
            action="store_true",
            help="Serve the web app only (workers run elsewhere).",
        )

    def handle(self, *args, host, port, web_workers, web_threads, no_worker, **options):
        call_command("ensure_admin")
        # By name: the generation app sits above this package (see CONTRIBUTING.md).
        call_command("recover_generations", at_start=True, stdout=self.stdout)

        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        children = {"web server": gunicorn_command(bind, web_workers, web_threads)}
        if not no_worker:
            children["job worker"] = [sys.executable, "manage.py", "qcluster"]
        if settings.MALLOC_ARENA_MAX:
            # glibc gives every thread that allocates its own arena (up to 8 per core), and
            # freed image buffers stay in them: with 32 generation threads that was ~250 MB
            # of RSS at bench figure 3's peak. Two arenas cost no measurable speed here.
            os.environ["MALLOC_ARENA_MAX"] = str(settings.MALLOC_ARENA_MAX)
        spec = {
            "children": children,
            "cwd": str(settings.BASE_DIR),
            "message": self.style.SUCCESS(startup_message(host, port)),
        }
        # Become the supervisor: same process id, but without Django in memory.
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(
            sys.executable, [sys.executable, "-m", "imagegen.core.supervisor", json.dumps(spec)]
        )
