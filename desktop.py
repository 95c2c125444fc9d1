#!/usr/bin/env python3
"""The studio on one computer, in a window of its own: ``python desktop.py``.

Starts the same app as ``make run`` (the web server and the job worker, the offline provider
ready) on 127.0.0.1 and a free port, with everything it keeps (database, images, a ``.env``
with fresh secrets) in the user's data folder, and opens it in a native window (pywebview;
Qt on Linux). There is no login screen: one local user is created on first start, and the
window signs in with a one-time ticket that only it is given (imagegen/core/desktop.py).
Closing the window stops the server and the worker. docs/desktop.md has the details.

    python desktop.py                 # the window
    python desktop.py --browser       # the default web browser instead (no GUI toolkit)
    python desktop.py --dev           # DEBUG and the autoreloading server
    python desktop.py --data-dir DIR  # another data folder

Run with any Python 3.11: unless it is the checkout's ``.venv`` (``make install`` or ``make
desktop`` make it), the script runs itself again with that one, whose packages the app pins.
"""

import argparse
import contextlib
import hashlib
import html
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path

ROOT = Path(__file__).resolve().parent
APP_NAME = "imagegen"
HOST = "127.0.0.1"
# How long the server may take to answer its first request (a first start migrates).
READY_SECONDS = 120
# The window's title and focus requests are checked this often.
POLL_SECONDS = 1.0
DEFAULT_SIZE = (1280, 860)
MIN_SIZE = (480, 400)
REEXEC_MARK = "IMAGEGEN_DESKTOP_REEXEC"


def say(message: str) -> None:
    sys.stdout.write(f"{APP_NAME} desktop: {message}\n")
    sys.stdout.flush()


# --- Start-up, standard library only --------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="desktop.py", description="The studio for one person, in its own window."
    )
    parser.add_argument("--dev", action="store_true", help="DEBUG and the autoreloading server")
    parser.add_argument("--data-dir", type=Path, help="where the database, images and .env live")
    parser.add_argument(
        "--browser",
        action="store_true",
        help="open the default web browser instead of a window (no GUI toolkit needed)",
    )
    return parser.parse_args(argv)


def venv_python() -> Path:
    return ROOT / ".venv" / "bin" / "python"


def run_in_venv_if_needed() -> None:
    """Rerun this script with the checkout's .venv unless this Python is that one: another
    Python, even one with Django, has other packages than the ones the app pins."""
    target = venv_python()
    if target.exists():
        if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
            return
        if not os.environ.get(REEXEC_MARK):
            os.environ[REEXEC_MARK] = "1"
            os.execv(target, [str(target), str(Path(__file__).resolve()), *sys.argv[1:]])
    try:
        import django  # noqa: F401 - only whether it imports
    except ImportError:
        say("the app's requirements are not installed: run `make desktop` first.")
        raise SystemExit(2) from None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def local_username() -> str:
    """The OS user's name as a Django username (letters, digits and @.+-_), else "me"."""
    try:
        import getpass

        name = getpass.getuser()
    except Exception:  # getpass raises several types when no name can be found
        name = ""
    return re.sub(r"[^\w.@+-]", "", name)[:150] or "me"


def write_env_file(path: Path) -> None:
    """The data folder's .env: fresh secrets and the desktop user's name, written once."""
    if path.exists():
        return
    import secrets

    text = (
        "# Written by desktop.py on first start; settings from .env.example may be added.\n"
        f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"ENCRYPTION_KEY={secrets.token_urlsafe(50)}\n"
        f"DESKTOP_USER={local_username()}\n"
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def read_env_file(path: Path) -> dict[str, str]:
    """The variables a .env file sets, read by django-environ as the settings read it
    (quotes, ``export``), without touching this process's environment."""
    import environ

    class FileValues(environ.Env):
        ENVIRON = {}  # read_env fills this instead of os.environ

    FileValues.read_env(str(path), overwrite=True)
    return FileValues.ENVIRON


def read_env_value(path: Path, name: str) -> str:
    return read_env_file(path).get(name, "")


class InstanceLock:
    """One desktop.py per data folder: an OS lock on a file that also says who holds it.
    The OS drops the lock when the holder exits, however it exits."""

    def __init__(self, path: Path):
        self.path = path
        self.handle = None

    def acquire(self) -> bool:
        import fcntl  # POSIX: desktop.py refuses Windows (its server is gunicorn)

        handle = open(self.path, "a+")  # noqa: SIM115 - held for the whole run
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            return False
        self.handle = handle
        return True

    def record(self, **facts) -> None:
        self.handle.seek(0)
        self.handle.truncate()
        self.handle.write(json.dumps({"pid": os.getpid(), **facts}))
        self.handle.flush()

    def holder(self) -> dict:
        try:
            return json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return {}

    def release(self) -> None:
        if self.handle is not None:
            self.handle.seek(0)
            self.handle.truncate()
            self.handle.close()
            self.handle = None


class Geometry:
    """The window's size and position, kept in the data folder between runs."""

    def __init__(self, path: Path):
        self.path = path
        self.values = {"width": DEFAULT_SIZE[0], "height": DEFAULT_SIZE[1], "x": None, "y": None}
        with contextlib.suppress(OSError, ValueError, TypeError, AttributeError):
            saved = json.loads(path.read_text())
            for key in self.values:
                if isinstance(saved.get(key), int):
                    self.values[key] = saved[key]
        self.values["width"] = max(self.values["width"], MIN_SIZE[0])
        self.values["height"] = max(self.values["height"], MIN_SIZE[1])

    def resized(self, width, height):
        self.values.update(width=int(width), height=int(height))

    def moved(self, x, y):
        self.values.update(x=int(x), y=int(y))

    def save(self) -> None:
        with contextlib.suppress(OSError):
            self.path.write_text(json.dumps(self.values))


# --- The app --------------------------------------------------------------------------------


class Stopped(Exception):
    """The window was closed, or a signal came, while the studio was starting."""


# What a team server may have exported that has no place in desktop mode: another job queue
# or storage, HTTPS-only cookies, proxy trust, the first admin's account.
SERVER_ONLY = (
    "REDIS_URL",
    "STORAGE_BACKEND",
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "TRUST_PROXY_HEADERS",
    "USE_X_FORWARDED_HOST",
    "ADMIN_USERNAME",
    "ADMIN_PASSWORD",
    "ALLOW_SIGNUP",
)


class Studio:
    """The server (web and worker, under one supervisor process) for one data folder."""

    def __init__(self, data: Path, dev: bool):
        self.data = data
        self.dev = dev
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.log_path = data / "logs" / "desktop.log"
        self.ticket_file = data / "sign-in-ticket"
        self.process: subprocess.Popen | None = None
        self.username = ""
        # Set once stopping begins; start() and stop() take the lock, so no server is
        # started after a stop.
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def check(self) -> None:
        if self.stopping.is_set():
            raise Stopped

    def environment(self, current) -> dict:
        """The environment for this process's Django and its children: ``current`` without
        the server-only settings, the data folder's .env over it (an exported SECRET_KEY
        must not encrypt keys the next start cannot read), then what desktop mode fixes."""
        env_file = self.data / ".env"
        from_file = read_env_file(env_file)
        env = {k: v for k, v in current.items() if k not in SERVER_ONLY}
        env.update(from_file)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "imagegen.settings",
                "ENV_FILE": str(env_file),
                "DEBUG": "true" if self.dev else "false",
                "DATABASE_URL": f"sqlite:///{self.data / 'app.db'}",
                "STORAGE_DIR": str(self.data / "storage"),
                "STATIC_ROOT": str(self.data / "static"),
                "HOST": HOST,
                "PORT": str(self.port),
                "ALLOWED_HOSTS": HOST,
                "CSRF_TRUSTED_ORIGINS": self.url,
                "DESKTOP": "true",
                "DESKTOP_USER": from_file.get("DESKTOP_USER") or local_username(),
                "DESKTOP_TICKET_FILE": str(self.ticket_file),
                "Q_WORKERS": "1",
                # The server stops by itself should this process be killed (supervisor.py).
                "IMAGEGEN_STOP_WITH_PARENT": str(os.getpid()),
                # Its own cookie name: see SESSION_COOKIE_NAME in imagegen/settings.py.
                "SESSION_COOKIE_NAME": "imagegen_desktop_"
                + hashlib.sha256(str(self.data).encode()).hexdigest()[:12],
            }
        )
        return env

    def configure(self) -> None:
        """Point this process's Django (and the children's) at the data folder."""
        write_env_file(self.data / ".env")
        env = self.environment(os.environ)
        self.username = env["DESKTOP_USER"]
        os.environ.clear()
        os.environ.update(env)
        sys.path.insert(0, str(ROOT))
        import django

        django.setup()

    def prepare(self) -> None:
        """Migrate, collect the static files, make sure the one user exists, recover."""
        from django.contrib.sessions.models import Session
        from django.core.management import call_command

        self.check()
        call_command("migrate", interactive=False, verbosity=0)
        self.check()
        if not self.dev:  # runserver serves them from the apps under DEBUG
            self.collect_static()
        self.ensure_user()
        Session.objects.all().delete()  # a sign-in lasts one run
        call_command("recover_generations", at_start=True)
        self.check()

    def collect_static(self) -> None:
        """collectstatic, unless the static files are the ones collected last time: it takes
        about 2 s even when nothing changed (bench figure 13), listing them takes 3 ms."""
        import hashlib

        from django.conf import settings
        from django.contrib.staticfiles.finders import get_finders
        from django.core.management import call_command

        digest = hashlib.sha256(str(settings.STATIC_ROOT).encode())
        for finder in get_finders():
            for path, storage in sorted(finder.list([]), key=lambda found: found[0]):
                stat = os.stat(storage.path(path))
                digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        stamp = Path(settings.STATIC_ROOT) / ".collected-from"
        manifest = Path(settings.STATIC_ROOT) / "staticfiles.json"
        if manifest.exists() and stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        call_command("collectstatic", interactive=False, verbosity=0)
        stamp.write_text(digest.hexdigest())

    def ensure_user(self) -> None:
        from django.contrib.auth import get_user_model

        user, created = get_user_model().objects.get_or_create(
            username=self.username,
            defaults={"is_staff": True, "is_superuser": True},
        )
        if created:  # the window signs in; no password exists to guess or forget
            user.set_unusable_password()
        user.is_active = user.is_staff = user.is_superuser = True
        user.save()

    def children(self) -> list[str]:
        """The supervisor `make run` uses, over what `serve` would start (gunicorn, one web
        worker, and the job worker), or with --dev over runserver and the job worker.
        Started directly: `serve` would set Django up a second time (bench figure 13)."""
        from imagegen.core.management.commands.serve import supervisor_spec

        spec = supervisor_spec(HOST, self.port, web_workers=1, web_threads=4)
        if self.dev:
            runserver = [sys.executable, "manage.py", "runserver", f"{HOST}:{self.port}"]
            spec["children"]["web server"] = runserver
        return [sys.executable, "-m", "imagegen.core.supervisor", json.dumps(spec)]

    def start(self) -> None:
        from django.db import connections

        connections.close_all()  # the children open their own
        self.log_path.parent.mkdir(exist_ok=True)
        argv = self.children()
        with self.lock:
            self.check()
            log = None if self.dev else open(self.log_path, "ab")  # noqa: SIM115
            self.process = subprocess.Popen(
                argv,
                cwd=ROOT,
                stdout=log,
                stderr=subprocess.STDOUT if log else None,
                start_new_session=True,  # one process group, killed whole if need be
            )
            if log:
                log.close()  # the child holds its own descriptor

    def wait_until_ready(self) -> None:
        # Straight to the loopback address: an http_proxy in the environment must not see it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        process = self.process  # stop() may clear the attribute meanwhile
        deadline = time.monotonic() + READY_SECONDS
        while time.monotonic() < deadline:
            self.check()
            if process.poll() is not None:
                raise RuntimeError(f"the server exited with code {process.returncode}")
            try:
                with opener.open(f"{self.url}/login/", timeout=2) as response:
                    if response.status == 200:
                        return
            except (OSError, urllib.error.URLError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server did not answer within {READY_SECONDS} s")

    def sign_in_page(self) -> str:
        """A page that posts a fresh one-time ticket to the server: for the window only."""
        from imagegen.core.desktop import issue_ticket, sign_in_form

        return sign_in_form(f"{self.url}/desktop/sign-in/", issue_ticket(self.ticket_file))

    def open_in_browser(self) -> None:
        """The same page, for the default browser: a file in the data folder that only this
        OS user can read, deleted once the ticket is spent or has expired."""
        from django.conf import settings

        page = self.data / "sign-in.html"
        page.unlink(missing_ok=True)
        fd = os.open(page, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.sign_in_page())
        try:
            opened = webbrowser.open(page.as_uri())
        except Exception:  # a broken $BROWSER raises all sorts
            opened = False
        if not opened:
            say(f"no web browser could be opened: open {page} in one to sign in.")

        def clean_up():
            deadline = time.monotonic() + settings.DESKTOP_TICKET_SECONDS
            while self.ticket_file.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            page.unlink(missing_ok=True)

        threading.Thread(target=clean_up, daemon=True).start()

    def generating(self) -> int:
        from django.db import close_old_connections

        from generation.models import Generation, Status

        close_old_connections()
        return Generation.objects.filter(
            owner__username=self.username, status__in=(Status.QUEUED, Status.RUNNING)
        ).count()

    def stop(self) -> None:
        """Stop the supervisor (it stops the web server and the worker, which finishes the
        generations in flight if it can) for up to DESKTOP_STOP_SECONDS, then kill whatever
        is left of its process group, and queue again what was still running: no worker of
        this data folder is left to finish it. No server starts after this."""
        with self.lock:
            self.stopping.set()
            process, self.process = self.process, None  # a second call has nothing to do
        self.ticket_file.unlink(missing_ok=True)
        (self.data / "sign-in.html").unlink(missing_ok=True)
        if process is None:
            return
        from django.conf import settings

        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=settings.DESKTOP_STOP_SECONDS)
            except subprocess.TimeoutExpired:
                say(
                    f"the server did not stop within {settings.DESKTOP_STOP_SECONDS} s "
                    "(DESKTOP_STOP_SECONDS); stopping it now."
                )
        # The whole group, not only the supervisor: a worker process that outlived it would
        # finish a generation that is about to be queued again.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        from generation.recovery import recover_after_shutdown

        counts = recover_after_shutdown()
        if any(counts.values()):
            say(f"generations in flight when the window closed: {counts}")

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def title_for(count: int) -> str:
    return f"{APP_NAME} — {count} generating" if count else APP_NAME


STARTING_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{app}</title><style>
body {{ margin: 0; height: 100vh; display: grid; place-items: center; background: #15171c;
  color: #e8eaf0; font: 16px system-ui, sans-serif; }}
p {{ color: #a9afbd; }} pre {{ text-align: left; white-space: pre-wrap; max-width: 90vw; }}
</style></head><body><main><h1>{app}</h1>{body}</main></body></html>"""


def starting_page(body: str) -> str:
    return STARTING_PAGE.format(app=APP_NAME, body=body)


# --- The window -----------------------------------------------------------------------------


def open_window(studio: Studio, geometry: Geometry, focus_file: Path) -> None:
    import webview

    window = webview.create_window(
        APP_NAME,
        html=starting_page("<p>Starting the studio…</p>"),
        width=geometry.values["width"],
        height=geometry.values["height"],
        x=geometry.values["x"],
        y=geometry.values["y"],
        min_size=MIN_SIZE,
        text_select=True,
    )
    window.events.resized += geometry.resized
    window.events.moved += geometry.moved
    window.events.closing += geometry.save
    stopping = studio.stopping
    starter = []

    def closed():
        stopping.set()
        for other in list(webview.windows):  # an inspector window must not keep the app up
            if other is not window:
                other.destroy()

    window.events.closed += closed

    def close(signum, frame):
        stopping.set()
        window.destroy()

    signal.signal(signal.SIGTERM, close)

    def run():
        """On pywebview's thread once the window exists: start the app, sign in, then keep
        the title and focus requests up to date until the window closes."""
        starter.append(threading.current_thread())
        if stopping.is_set():  # a signal before the window existed
            window.destroy()
            return
        try:
            studio.prepare()
            studio.start()
            studio.wait_until_ready()
        except Stopped:  # closed while starting: main() stops what was started
            return
        except Exception as exc:  # shown in the window; the log says more
            window.load_html(
                starting_page(
                    f"<p>The studio could not start: {html.escape(str(exc))}.</p>"
                    f"<p>Its log is {html.escape(str(studio.log_path))}:</p>"
                    f"<pre>{html.escape(studio.log_tail())}</pre>"
                )
            )
            return
        say(f"serving {studio.url}/ (data in {studio.data}); close the window to stop.")
        save_downloads_with_a_dialog(window)
        # Given the server's address as its base, the page is the studio's own origin, and
        # its form posts there (Qt refuses a local page's requests to a web address).
        window.load_html(studio.sign_in_page(), base_uri=f"{studio.url}/")
        shown = None
        while not stopping.wait(POLL_SECONDS):
            with contextlib.suppress(Exception):  # a busy database: next time
                title = title_for(studio.generating())
                if title != shown:
                    window.set_title(title)
                    shown = title
            if focus_file.exists():
                focus_file.unlink(missing_ok=True)
                window.restore()
                window.show()
                window.on_top = True
                window.on_top = False

    if qt_backend() and hasattr(os, "geteuid") and os.geteuid() == 0:
        # Chromium (inside Qt WebEngine) will not start its sandbox as root.
        flags = os.environ.get("QTWEBENGINE_CHROMIUM_FLAGS", "")
        os.environ["QTWEBENGINE_CHROMIUM_FLAGS"] = f"{flags} --no-sandbox".strip()
    webview.settings["ALLOW_DOWNLOADS"] = not qt_backend()
    # --dev: the inspector opens from the page's context menu ("Inspect"), not as a second
    # window that would keep the app running once the studio's window is closed.
    webview.settings["OPEN_DEVTOOLS_IN_DEBUG"] = False
    start = {"gui": "qt"} if qt_backend() else {}
    if studio.dev:
        start["debug"] = True
    webview.start(run, private_mode=True, **start)
    # The window is gone. Stop what was started, and wait for the start-up thread (it may
    # be in a migration), so that the lock is released only when nothing runs on the data.
    studio.stop()
    for thread in starter:
        thread.join(timeout=READY_SECONDS)


def window_problem() -> str:
    """Why no window can open here, or "" (Qt would abort the process with less to say)."""
    try:
        import webview  # noqa: F401 - only whether it imports
    except ImportError:
        return "the window needs pywebview and Qt, which `make desktop` installs"
    if qt_backend() and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return "there is no display to open a window on (neither DISPLAY nor WAYLAND_DISPLAY)"
    return ""


def qt_backend() -> bool:
    return sys.platform.startswith("linux")


def save_downloads_with_a_dialog(window) -> None:
    """Qt only: downloads (an image, a ZIP export) open a native save dialog, the server's
    file name suggested in the user's Downloads folder. pywebview's own Qt handler calls
    Qt 5's API, which Qt 6 lacks, so it is replaced; the slot is connected on Qt's thread."""
    if not qt_backend():
        return
    import platformdirs
    from qtpy.QtWidgets import QFileDialog

    browser = window.native
    folder = Path(platformdirs.user_downloads_dir())
    if not folder.is_dir():
        folder = Path.home()

    def requested(download):
        suggested = download.downloadFileName() or "download"
        path, _ = QFileDialog.getSaveFileName(browser, "Save", str(folder / suggested))
        if not path:
            download.cancel()
            return
        download.setDownloadDirectory(str(Path(path).parent))
        download.setDownloadFileName(Path(path).name)
        download.accept()

    def connect():
        browser.profile.downloadRequested.connect(requested)

    browser.create_window_trigger.emit(connect)  # pywebview runs it on Qt's thread


def open_browser(studio: Studio, focus_file: Path) -> None:
    stopping = studio.stopping

    def close(signum, frame):
        stopping.set()

    signal.signal(signal.SIGTERM, close)
    signal.signal(signal.SIGINT, close)
    try:
        studio.prepare()
        studio.start()
        studio.wait_until_ready()
    except Stopped:
        return
    say(f"serving {studio.url}/ (data in {studio.data}); Ctrl-C stops it.")
    studio.open_in_browser()
    while not stopping.wait(POLL_SECONDS):
        if studio.process.poll() is not None:
            say(f"the server exited with code {studio.process.returncode}; stopping.")
            return
        if focus_file.exists():  # a second desktop.py: sign a new browser tab in
            focus_file.unlink(missing_ok=True)
            studio.open_in_browser()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if os.name == "nt":
        say("the server (gunicorn) does not run on Windows: use WSL 2 (docs/desktop.md).")
        return 2
    run_in_venv_if_needed()
    import platformdirs

    data = Path(args.data_dir or platformdirs.user_data_dir(APP_NAME, appauthor=False))
    data = data.expanduser().resolve()
    if set(str(data)) & set("#?%"):  # they would end the database's URL early
        say(f"choose a data folder whose path has no #, ? or %: {data}")
        return 2
    data.mkdir(parents=True, exist_ok=True)
    data.chmod(0o700)
    focus_file = data / "desktop.focus"
    lock = InstanceLock(data / "desktop.lock")
    if not lock.acquire():
        holder = lock.holder()
        focus_file.touch()
        say(
            f"already running for {data} (process {holder.get('pid', '?')}, "
            f"{holder.get('url', 'starting')}); asked it to come to the front."
        )
        return 0
    if not args.browser:
        problem = window_problem()
        if problem:
            lock.release()
            say(f"{problem}; or run `python desktop.py --browser` for the default browser.")
            return 2
    studio = Studio(data, args.dev)
    lock.record(url=studio.url, data=str(data))
    try:
        studio.configure()
        if args.browser:
            open_browser(studio, focus_file)
        else:
            open_window(studio, Geometry(data / "window.json"), focus_file)
    except RuntimeError as exc:
        say(f"the studio could not start: {exc}. The log ({studio.log_path}) ends with:")
        sys.stdout.write(studio.log_tail() + "\n")
        return 1
    finally:
        studio.stop()
        focus_file.unlink(missing_ok=True)
        lock.release()
    say("stopped.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
