"""The web server is killed (SIGKILL, mid-request) while clients submit generations, then
started again: every accepted generation runs exactly once, none is lost or duplicated."""

import signal
import threading
import time

import httpx
import pytest

from tests.reliability.procs import App

pytestmark = [pytest.mark.slow]
ADMIN = {"username": "chief", "password": "a-long-admin-password"}


def wait_up(base, proc, app, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        try:
            # An API answer (405 to a GET) needs no collected static files.
            if httpx.get(f"{base}/api/auth/token", timeout=2).status_code == 405:
                return
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, app.logs()[-3000:]
        assert time.monotonic() < deadline, "the web server did not come up"
        time.sleep(0.2)


def test_web_server_killed_mid_request_loses_and_duplicates_nothing(tmp_path):
    app = App(
        tmp_path,
        ADMIN_USERNAME=ADMIN["username"],
        ADMIN_PASSWORD=ADMIN["password"],
        OFFLINE_PROVIDER_DELAY_MS=100,
        WEB_THREADS=4,
        # Six clients submit as fast as they can: the default queue cap would refuse them.
        MAX_QUEUED_GENERATIONS_PER_USER=0,
    ).migrate()
    base = f"http://127.0.0.1:{app.port}"
    try:
        web = app.start("serve", "--no-worker", name="web")
        worker = app.start_worker()
        wait_up(base, web, app)
        token = httpx.post(f"{base}/api/auth/token", json=ADMIN, timeout=10).json()["token"]

        accepted, errors, attempted = [], [], [0]
        stop = threading.Event()
        lock = threading.Lock()

        def client(n):
            with httpx.Client(
                base_url=base, timeout=10, headers={"Authorization": f"Token {token}"}
            ) as http:
                while not stop.is_set():
                    with lock:
                        attempted[0] += 1
                    try:
                        response = http.post(
                            "/api/generate",
                            json={"prompt": f"restart {n}", "width": 64, "height": 64},
                        )
                    except httpx.HTTPError as exc:  # the server is down: try again
                        with lock:
                            errors.append(type(exc).__name__)
                        time.sleep(0.1)
                        continue
                    assert response.status_code == 202, response.text
                    with lock:
                        accepted.append(response.json()["id"])
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        time.sleep(2)
        before = len(accepted)
        app.kill(web, signal.SIGKILL)  # requests are in flight: threads never stop sending
        time.sleep(0.5)
        web = app.start("serve", "--no-worker", name="web")
        wait_up(base, web, app)
        time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(30)

        assert before > 0 and len(accepted) > before and errors  # it really was down
        assert len(set(accepted)) == len(accepted)
        every = [row[0] for row in app.query("SELECT id FROM generation_generation")]
        rows = app.wait_final(every, timeout=120, proc=worker)
        assert set(accepted) <= set(rows)  # every accepted generation is there
        assert len(rows) <= attempted[0]  # and no request made two
        for generation_id, generation in rows.items():
            assert generation["status"] == "succeeded", (generation_id, generation)
            assert generation["attempts"] == 1, (generation_id, generation)  # ran once
        app.assert_consistent()
        assert app.query("SELECT COUNT(*) FROM gallery_image") == [(len(rows),)]
        assert "Traceback" not in app.logs()
    finally:
        app.stop_all()
