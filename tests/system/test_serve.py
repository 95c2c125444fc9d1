"""`manage.py serve` runs gunicorn and a real django-q2 cluster against a file database; a
generation submitted over HTTP succeeds; Ctrl-C stops both. Run with each job broker."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def redis_available() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
        return True
    except OSError:
        return False


@contextmanager
def serving(env, port, tmp_path, stop_signal, stopped: dict):
    """`manage.py serve` in a subprocess, yielding its base URL once its login page answers;
    on leaving, stopped by ``stop_signal``, with its exit ``code`` and log ``output`` put in
    ``stopped``."""
    log = open(tmp_path / "serve.log", "w+")  # noqa: SIM115 - read after the process ends
    proc = subprocess.Popen(
        [sys.executable, "manage.py", "serve"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request(f"{base}/login/")[0] == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, "serve exited early"
            assert time.monotonic() < deadline, "server did not come up"
            time.sleep(0.3)
        yield base
    finally:
        proc.send_signal(stop_signal)
        try:
            stopped["code"] = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        finally:
            log.seek(0)
            stopped["output"] = log.read()
            log.close()
            # Shown by pytest only when the test fails: the server's side of a failure (a
            # 500's traceback) is in this log, not in the client's error.
            print(f"--- manage.py serve's log ---\n{stopped['output']}")  # noqa: T201


def request(url, data=None, token=None, timeout=10):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(
        url, data=body, headers=headers, method="POST" if data is not None else "GET"
    )
    with urllib.request.urlopen(req, timeout=timeout) as response:
        return response.status, response.read()


def admin_token(base: str) -> str:
    """An API token of the admin `serve` creates (ADMIN_USERNAME / ADMIN_PASSWORD below)."""
    _, body = request(
        f"{base}/api/auth/token", {"username": "chief", "password": "a-long-admin-password"}
    )
    return json.loads(body)["token"]


@pytest.fixture
def app_env(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "PYTEST"))}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "imagegen.settings",
            "ENV_FILE": os.devnull,
            "SECRET_KEY": "s" * 50,
            "ENCRYPTION_KEY": "e" * 50,
            "DEBUG": "false",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
            "STORAGE_DIR": str(tmp_path / "storage"),
            "STATIC_ROOT": str(tmp_path / "static"),
            "HOST": "127.0.0.1",
            "PORT": str(port),
            "ADMIN_USERNAME": "chief",
            "ADMIN_PASSWORD": "a-long-admin-password",
            "Q_WORKERS": "1",
            "WEB_CONCURRENCY": "1",
            "OFFLINE_PROVIDER_DELAY_MS": "300",
        }
    )
    env.pop("REDIS_URL", None)
    for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v", "0"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            timeout=120,
        )
    return env, port


@pytest.mark.parametrize("broker", ["orm", "redis"])
def test_serve_generates_through_a_real_worker_and_stops_cleanly(app_env, broker, tmp_path):
    env, port = app_env
    if broker == "redis":
        if not redis_available():
            pytest.skip("no Redis on 127.0.0.1:6379")
        env = {**env, "REDIS_URL": "redis://127.0.0.1:6379/15"}
    stopped = {}
    with serving(env, port, tmp_path, signal.SIGINT, stopped) as base:
        token = admin_token(base)
        _, body = request(
            f"{base}/api/generate",
            {"prompt": "a real worker", "width": 128, "height": 128, "num_images": 2},
            token=token,
        )
        generation = json.loads(body)

        deadline = time.monotonic() + 60
        while generation["status"] not in ("succeeded", "failed", "canceled"):
            assert time.monotonic() < deadline, f"stuck: {generation}"
            time.sleep(0.3)
            generation = json.loads(
                request(f"{base}/api/generation/{generation['id']}", token=token)[1]
            )
        assert generation["status"] == "succeeded", generation["error"]
        assert len(generation["images"]) == 2
        assert generation["images"][0]["url"].startswith(base + "/files/images/")
        status, data = request(generation["images"][0]["url"], token=token)
        assert status == 200 and data.startswith(b"\x89PNG")
        status, _ = request(f"{base}/static/css/app.css")
        assert status == 200
    assert stopped["code"] == 0, stopped["output"]
    with pytest.raises(OSError):
        request(f"{base}/login/", timeout=2)


def test_serve_streams_live_events_and_stops_with_a_stream_open(app_env, tmp_path):
    """A signed-in page's stream (gunicorn's asgi worker) gets the events of a generation run
    by the real worker; SIGTERM ends the open streams instead of waiting them out."""
    import httpx

    env, port = app_env
    stopped = {}
    with serving(env, port, tmp_path, signal.SIGTERM, stopped) as base:
        page = httpx.Client(base_url=base, timeout=30)
        page.get("/login/")
        signed_in = page.post(
            "/login/",
            data={
                "username": "chief",
                "password": "a-long-admin-password",
                "csrfmiddlewaretoken": page.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/login/"},
        )
        assert signed_in.status_code == 302
        token = admin_token(base)

        events = []
        with page.stream("GET", "/live/events") as stream:
            assert stream.headers["content-type"] == "text/event-stream"
            lines = stream.iter_lines()
            assert next(lines) == "retry: 2000"
            time.sleep(0.5)  # the watcher takes its start markers
            _, body = request(
                f"{base}/api/generate",
                {"prompt": "live", "width": 64, "height": 64, "num_images": 1},
                token=token,
            )
            generation = json.loads(body)["id"]
            for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[6:]))
                if {"id": generation, "status": "succeeded"} in events:
                    break
        # Changes within one poll of the watcher arrive as one event with the status it read
        # (queued → running can be a single "running"), so only the last one is certain.
        assert {event["id"] for event in events} == {generation}
        assert events[-1] == {"id": generation, "status": "succeeded"}

        # A stream left open while the server stops.
        held = page.stream("GET", "/live/events")
        held_lines = held.__enter__().iter_lines()
        assert next(held_lines) == "retry: 2000"
    assert stopped["code"] == 0, stopped["output"]
    # Ended by the server: the chunked body closes properly (a cut would raise here).
    assert [line for line in held_lines if line] == []
    assert "Forcing close" not in stopped["output"], stopped["output"]


def test_serve_answers_the_openai_sdk_and_a_client_that_leaves_cancels(app_env, tmp_path):
    """The issue's "done when" on the real server: the official SDK at /v1 with an API token
    gets a decodable 512×512 image that is in the user's gallery; a client that disconnects
    while waiting (gunicorn's asgi worker, Django's ASGI handler) cancels its generation."""
    import base64
    import io

    import httpx
    import openai
    from PIL import Image as PILImage

    env, port = app_env
    env = {**env, "OFFLINE_PROVIDER_DELAY_MS": "4000"}
    stopped = {}
    with serving(env, port, tmp_path, signal.SIGTERM, stopped) as base:
        token = admin_token(base)
        client = openai.OpenAI(base_url=f"{base}/v1", api_key=token, max_retries=0)
        result = client.images.generate(model="offline-shapes", prompt="…", size="512x512")
        image = PILImage.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
        assert image.size == (512, 512)
        bearer = {"Authorization": f"Bearer {token}"}
        gallery = httpx.get(f"{base}/api/gallery", headers=bearer).json()["results"]
        assert [(g["origin"], g["width"]) for g in gallery] == [("api", 512)]

        # An edit sent chunked, without Content-Length, as the JavaScript SDK sends a file
        # stream: gunicorn's asgi worker and Django's handler read it whole.
        picture = io.BytesIO()
        PILImage.new("RGB", (96, 64), (20, 120, 200)).save(picture, format="PNG")
        boundary = "gatewayboundary"
        parts = [
            f'--{boundary}\r\nContent-Disposition: form-data; name="prompt"\r\n\r\nblue\r\n',
            f'--{boundary}\r\nContent-Disposition: form-data; name="model"\r\n\r\n'
            "offline-shapes\r\n",
            f'--{boundary}\r\nContent-Disposition: form-data; name="image[]"; '
            'filename="a.png"\r\nContent-Type: image/png\r\n\r\n',
        ]

        def chunks():
            for part in parts:
                yield part.encode()
            yield picture.getvalue()
            yield f"\r\n--{boundary}--\r\n".encode()

        edited = httpx.post(
            f"{base}/v1/images/edits",
            content=chunks(),
            headers={**bearer, "Content-Type": f"multipart/form-data; boundary={boundary}"},
            timeout=30,
        )
        assert edited.status_code == 200, edited.text
        out = PILImage.open(io.BytesIO(base64.b64decode(edited.json()["data"][0]["b64_json"])))
        assert out.size == (96, 64)

        with pytest.raises(httpx.ReadTimeout):
            httpx.post(
                f"{base}/v1/images/generations",
                json={"model": "offline-shapes", "prompt": "never read", "size": "64x64"},
                headers=bearer,
                timeout=1.5,
            )
        deadline = time.monotonic() + 20
        while True:
            newest = httpx.get(f"{base}/api/generations", headers=bearer).json()["results"][0]
            if newest["status"] == "canceled":
                break
            assert time.monotonic() < deadline, newest
            time.sleep(0.3)
        assert newest["prompt"] == "never read"
    assert stopped["code"] == 0, stopped["output"]
