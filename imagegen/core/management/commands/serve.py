"""Run the web server (gunicorn) and the job worker (django-q2 cluster) together.

After its Django set-up (admin, the recovery sweep of ``recover_generations``) the command
replaces itself with ``imagegen.core.supervisor``, a process without Django that starts both
children and watches them: Ctrl-C or SIGTERM stops both, and if either exits the other is
stopped too, so the app is never left half running.
"""

import json
import os
import sys

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections


class Command(BaseCommand):
    help = "Serve the app with gunicorn and run the django-q2 worker cluster beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument(
            "--web-workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "2"))
        )
        parser.add_argument(
            "--web-threads", type=int, default=int(os.environ.get("WEB_THREADS", "4"))
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
        web = [
            sys.executable,
            "-m",
            "gunicorn",
            "imagegen.wsgi:application",
            "--bind",
            bind,
            "--workers",
            str(web_workers),
            "--threads",
            str(web_threads),
            "--timeout",
            "120",
            "--graceful-timeout",
            "20",
            "--access-logfile",
            "-",
        ]
        children = {"web server": web}
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
            "message": self.style.SUCCESS(
                f"imagegen is running on http://{host}:{port}/ (Ctrl-C stops it)"
            ),
        }
        # Become the supervisor: same process id, but without Django in memory.
        connections.close_all()
        sys.stdout.flush()
        sys.stderr.flush()
        os.execv(
            sys.executable, [sys.executable, "-m", "imagegen.core.supervisor", json.dumps(spec)]
        )
