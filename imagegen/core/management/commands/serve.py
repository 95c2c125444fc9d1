"""Run the web server (gunicorn) and the job worker (django-q2 cluster) together.

gunicorn runs its native ASGI worker (``--worker-class asgi``) with ``imagegen.asgi``: the
live-update streams are coroutines on each worker's event loop, everything else is the WSGI
app in a pool of ``--web-threads`` threads per worker (imagegen/asgi.py says why).

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
# A worker whose event loop is stuck this long is restarted (requests run in a2wsgi's thread
# pool and streams on the loop, so the loop stays free and a long download is not cut). The
# asgi worker also gives up on a request body that sends nothing for this long.
WORKER_TIMEOUT_SECONDS = 60
# Request line, header count and header size limits: what a browser or API client needs.
LIMIT_REQUEST_LINE = 4094
LIMIT_REQUEST_FIELDS = 100
LIMIT_REQUEST_FIELD_SIZE = 8190
PROXY_WARNING = (
    "Listening beyond localhost: put a reverse proxy (nginx, docs/deploy.md) in front; "
    "gunicorn alone can be held up by slow clients."
)


# Open connections per worker, live-update streams included (gunicorn's default, written
# down): a stream is one connection for as long as its page is open.
WORKER_CONNECTIONS = 1000


def gunicorn_command(bind: str, workers: int) -> list[str]:
    """The gunicorn command line `serve` runs. Its thread pool size is not an option of the
    asgi worker (which warns about ``--threads``): imagegen/asgi.py reads WEB_THREADS."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "imagegen.asgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "asgi",
        "--worker-connections",
        str(WORKER_CONNECTIONS),
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
        # Its control socket is one path per OS user (~/.gunicorn/gunicorn.ctl): a second
        # server of the same user (desktop.py beside `make run`) would take it over. Unused.
        "--no-control-socket",
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


def supervisor_spec(host: str, port: int, web_workers: int, web_threads: int, worker=True):
    """What ``imagegen.core.supervisor`` runs for `serve` (desktop.py starts it the same way):
    gunicorn and, with ``worker``, the job worker. Sets the environment they inherit."""
    bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    children = {"web server": gunicorn_command(bind, web_workers)}
    os.environ["WEB_THREADS"] = str(web_threads)  # the a2wsgi pool (imagegen/asgi.py)
    if worker:
        children["job worker"] = [sys.executable, "manage.py", "qcluster"]
    if settings.MALLOC_ARENA_MAX:
        # glibc gives every thread that allocates its own arena (up to 8 per core), and
        # freed image buffers stay in them: with 32 generation threads that was ~250 MB
        # of RSS at bench figure 3's peak. Two arenas cost no measurable speed here.
        os.environ["MALLOC_ARENA_MAX"] = str(settings.MALLOC_ARENA_MAX)
    return {"children": children, "cwd": str(settings.BASE_DIR)}


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

        spec = supervisor_spec(host, port, web_workers, web_threads, worker=not no_worker)
        spec["message"] = self.style.SUCCESS(startup_message(host, port))
        # Become the supervisor: same process id, but without Django in memory.
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(
            sys.executable, [sys.executable, "-m", "imagegen.core.supervisor", json.dumps(spec)]
        )
