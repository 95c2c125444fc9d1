"""desktop.py's parts that need no window: its data folder's .env, the one-instance lock,
the remembered geometry, the title, the user's name, and its start with a bare Python."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import desktop
from tests.desktop.helpers import run_desktop

ROOT = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = getattr(sys, "_base_executable", sys.executable)


def test_the_env_file_gets_fresh_secrets_once_and_only_its_owner_reads_it(tmp_path):
    path = tmp_path / ".env"
    desktop.write_env_file(path)
    first = path.read_text()
    assert path.stat().st_mode & 0o777 == 0o600
    secret = desktop.read_env_value(path, "SECRET_KEY")
    key = desktop.read_env_value(path, "ENCRYPTION_KEY")
    assert len(secret) >= 50 and len(key) >= 50 and secret != key
    assert desktop.read_env_value(path, "DESKTOP_USER")
    desktop.write_env_file(path)  # a second start keeps them: the keys decrypt the data
    assert path.read_text() == first
    other = tmp_path / "other.env"
    desktop.write_env_file(other)
    assert desktop.read_env_value(other, "SECRET_KEY") != secret


@pytest.mark.parametrize(
    ("login", "expected"),
    [("ada", "ada"), ("Ada Lovelace", "AdaLovelace"), ("d.o'neil", "d.oneil"), ("€/:", "me")],
)
def test_the_desktop_user_is_named_after_the_os_user(monkeypatch, login, expected):
    monkeypatch.setattr("getpass.getuser", lambda: login)
    assert desktop.local_username() == expected


def test_no_os_user_name_gives_me(monkeypatch):
    def no_name():
        raise OSError("no user name")

    monkeypatch.setattr("getpass.getuser", no_name)
    assert desktop.local_username() == "me"


def test_one_instance_per_data_folder(tmp_path):
    first = desktop.InstanceLock(tmp_path / "desktop.lock")
    assert first.acquire()
    first.record(url="http://127.0.0.1:1234")
    second = desktop.InstanceLock(tmp_path / "desktop.lock")
    assert not second.acquire()
    assert second.holder() == {"pid": os.getpid(), "url": "http://127.0.0.1:1234"}
    first.release()
    assert second.acquire()  # free again once the first has gone
    second.release()


def test_a_lock_left_by_a_killed_run_does_not_block_the_next(tmp_path):
    """The OS drops the lock with the process, however it ended."""
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import desktop, os, pathlib;"
        "lock = desktop.InstanceLock(pathlib.Path(sys.argv[2])); assert lock.acquire();"
        "lock.record(url='x'); os._exit(9)"
    )
    lock_path = tmp_path / "desktop.lock"
    done = subprocess.run([sys.executable, "-c", script, str(ROOT), str(lock_path)])
    assert done.returncode == 9
    lock = desktop.InstanceLock(lock_path)
    assert lock.acquire()
    lock.release()


def test_geometry_is_remembered_and_bad_files_fall_back(tmp_path):
    path = tmp_path / "window.json"
    geometry = desktop.Geometry(path)
    assert geometry.values == {"width": 1280, "height": 860, "x": None, "y": None}
    geometry.resized(1000, 700)
    geometry.moved(30, 20)
    geometry.save()
    assert desktop.Geometry(path).values == {"width": 1000, "height": 700, "x": 30, "y": 20}
    for text in ("not json", "[]", '{"width": "wide", "x": 5}', '{"width": 10, "height": 5}'):
        path.write_text(text)
        values = desktop.Geometry(path).values
        assert values["width"] >= 480 and values["height"] >= 400, text
        assert values["x"] in (None, 5), text


def test_the_title_counts_what_is_generating():
    assert desktop.title_for(0) == "imagegen"
    assert desktop.title_for(3) == "imagegen — 3 generating"


def test_help_needs_no_venv():
    done = run_desktop("--help", python=SYSTEM_PYTHON)
    assert done.returncode == 0
    for option in ("--dev", "--data-dir", "--browser"):
        assert option in done.stdout


def test_a_second_start_on_a_busy_data_folder_reports_the_first_and_asks_it_to_focus(tmp_path):
    lock = desktop.InstanceLock(tmp_path / "desktop.lock")
    assert lock.acquire()
    lock.record(url="http://127.0.0.1:4321", data=str(tmp_path))
    try:
        # With the Python the venv was made from, as a user types `python desktop.py`: it
        # has no Django, so this also shows the script going on with .venv's Python.
        done = run_desktop("--data-dir", str(tmp_path), python=SYSTEM_PYTHON)
    finally:
        lock.release()
    assert done.returncode == 0
    assert "already running" in done.stdout and "http://127.0.0.1:4321" in done.stdout
    assert (tmp_path / "desktop.focus").exists()
    assert not (tmp_path / ".env").exists()  # it touched nothing else


def test_without_pywebview_the_window_says_what_to_install(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "webview.py").write_text("raise ImportError('no pywebview here')")
    env = {**os.environ, "PYTHONPATH": str(blocker)}
    done = run_desktop("--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "make desktop" in done.stdout and "--browser" in done.stdout
    lock = desktop.InstanceLock(tmp_path / "data" / "desktop.lock")
    assert lock.acquire()  # released on the way out
    lock.release()


def test_the_lock_file_names_no_secret(tmp_path):
    lock = desktop.InstanceLock(tmp_path / "desktop.lock")
    assert lock.acquire()
    lock.record(url="http://127.0.0.1:1", data=str(tmp_path))
    assert set(json.loads((tmp_path / "desktop.lock").read_text())) == {"pid", "url", "data"}
    lock.release()


def test_without_a_display_the_window_says_to_use_the_browser(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = run_desktop("--data-dir", str(tmp_path / "data"), env=env)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "no display" in done.stdout and "--browser" in done.stdout


def studio_for(tmp_path) -> "desktop.Studio":
    data = tmp_path / "data"
    data.mkdir(parents=True)
    desktop.write_env_file(data / ".env")
    return desktop.Studio(data, dev=False)


def test_the_data_folders_settings_beat_the_shells_and_server_only_ones_are_dropped(tmp_path):
    studio = studio_for(tmp_path)
    with open(studio.data / ".env", "a") as env_file:
        env_file.write(
            "# a comment=ignored\nCOMFYUI_BASE_URL=http://gpu.local:8188\n"
            "export TIME_ZONE='Europe/Paris'\nOPENAI_BASE_URL=\"http://ai.local/v1\"\n"
        )
    shell = {
        "SECRET_KEY": "exported-by-direnv",
        "ENCRYPTION_KEY": "exported-too",
        "SESSION_COOKIE_SECURE": "true",
        "REDIS_URL": "redis://elsewhere",
        "DATABASE_URL": "postgres://team-server/db",
        "ADMIN_PASSWORD": "x",
        "OFFLINE_PROVIDER_DELAY_MS": "5",
        "PATH": "/usr/bin",
    }
    env = studio.environment(shell)
    assert env["SECRET_KEY"] == desktop.read_env_value(studio.data / ".env", "SECRET_KEY")
    assert env["ENCRYPTION_KEY"] == desktop.read_env_value(studio.data / ".env", "ENCRYPTION_KEY")
    assert env["COMFYUI_BASE_URL"] == "http://gpu.local:8188"
    # Read as the settings read it (django-environ): quotes and `export` are understood.
    assert env["TIME_ZONE"] == "Europe/Paris"
    assert env["OPENAI_BASE_URL"] == "http://ai.local/v1"
    assert "# a comment" not in env
    for dropped in ("SESSION_COOKIE_SECURE", "REDIS_URL", "ADMIN_PASSWORD"):
        assert dropped not in env
    assert env["DATABASE_URL"] == f"sqlite:///{studio.data / 'app.db'}"
    assert env["ALLOWED_HOSTS"] == "127.0.0.1" and env["DESKTOP"] == "true"
    assert env["OFFLINE_PROVIDER_DELAY_MS"] == "5" and env["PATH"] == "/usr/bin"
    assert env["IMAGEGEN_STOP_WITH_PARENT"] == str(os.getpid())
    # Its own session cookie, one per data folder.
    other = studio_for(tmp_path / "other")
    names = {env["SESSION_COOKIE_NAME"], other.environment(shell)["SESSION_COOKIE_NAME"]}
    assert len(names) == 2 and all(n.startswith("imagegen_desktop_") for n in names)


def test_no_server_starts_once_stopping_has_begun(tmp_path):
    """The window closed while the studio was starting (migrating, say)."""
    studio = studio_for(tmp_path)
    studio.stop()
    with pytest.raises(desktop.Stopped):
        studio.start()
    assert studio.process is None
    with pytest.raises(desktop.Stopped):
        studio.check()


def test_readiness_goes_straight_to_loopback_whatever_the_proxy(tmp_path, monkeypatch):
    import http.server
    import threading

    class LoginPage(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200 if self.path == "/login/" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), LoginPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    studio = studio_for(tmp_path)
    studio.url = f"http://127.0.0.1:{server.server_port}"
    studio.process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("no_proxy", "")
    monkeypatch.setenv("NO_PROXY", "")
    try:
        studio.wait_until_ready()  # returns at once; through the proxy it never would
    finally:
        studio.process.kill()
        studio.process.wait()
        server.shutdown()


def test_a_data_folder_whose_path_would_break_the_database_url_is_refused(tmp_path):
    done = run_desktop("--browser", "--data-dir", str(tmp_path / "my#studio"))
    assert done.returncode == 2
    assert "no #, ? or %" in done.stdout
