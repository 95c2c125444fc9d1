"""Run the web server (gunicorn) and the job worker (django-q2 cluster) together.

Both are child processes; Ctrl-C or SIGTERM stops both, and if either exits the other is
stopped too, so the command never leaves half the app running.
"""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from generation.recovery import recover_stale_generations


class Command(BaseCommand):
    help = "Serve the app with gunicorn and run the django-q2 worker cluster beside it."

    def add_arguments(self, parser):
        parser.add_argument("--host", default=settings.HOST)
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--web-workers", type=int,
                            default=int(os.environ.get("WEB_CONCURRENCY", "2")))
        parser.add_argument("--web-threads", type=int,
                            default=int(os.environ.get("WEB_THREADS", "4")))
        parser.add_argument("--no-worker", action="store_true",
                            help="Serve the web app only (workers run elsewhere).")

    def handle(self, *args, host, port, web_workers, web_threads, no_worker, **options):
        call_command("ensure_admin")
        counts = recover_stale_generations()
        if any(counts.values()):
            self.stdout.write(f"Recovered generations left by a previous run: {counts}")

        bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        web = [sys.executable, "-m", "gunicorn", "imagegen.wsgi:application",
               "--bind", bind, "--workers", str(web_workers), "--threads", str(web_threads),
               "--timeout", "120", "--graceful-timeout", "20", "--access-logfile", "-"]
        children = {"web server": subprocess.Popen(web)}
        if not no_worker:
            worker = [sys.executable, "manage.py", "qcluster"]
            children["job worker"] = subprocess.Popen(worker, cwd=settings.BASE_DIR)
        self.stdout.write(self.style.SUCCESS(
            f"imagegen is running on http://{host}:{port}/ (Ctrl-C stops it)"
        ))

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        try:
            while not stopping:
                for name, proc in children.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"The {name} exited with code {proc.returncode}; "
                                          "stopping the rest.")
                        exit_code = proc.returncode or 1
                        stopping = True
                        break
                time.sleep(0.5)
        finally:
            self._stop_all(children)
        if exit_code:
            sys.exit(exit_code)

    def _stop_all(self, children):
        for proc in children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        for proc in children.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
