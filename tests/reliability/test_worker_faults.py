"""Faults against real processes: a qcluster (ORM broker, temp file SQLite database, offline
provider with a delay) is killed, its database locked, its disk filled. After each: nothing
stuck, no half-written file, no Image row without its files, no file without a row."""

import signal
import sqlite3
import threading
import time

import pytest

from tests.reliability.procs import App, only_once

pytestmark = [pytest.mark.slow]

# Short deadlines so the recovery sweep acts within seconds: a silent run is dead after
# GENERATION_TIMEOUT + GENERATION_STALE_GRACE = 6 s.
FAST_RECOVERY = {
    "GENERATION_TIMEOUT": 5,
    "GENERATION_STALE_GRACE": 1,
    "OFFLINE_PROVIDER_DELAY_MS": 2500,
    "GENERATION_MAX_CONCURRENT": 10,
}
STALE_AFTER = 6


def wait_all_running(app, ids, proc, attempts=1, timeout=30):
    deadline = time.monotonic() + timeout
    while any(
        g["status"] != "running" or g["attempts"] != attempts for g in app.generations(ids).values()
    ):
        assert proc.poll() is None, app.logs()[-3000:]
        assert time.monotonic() < deadline, app.generations(ids)
        time.sleep(0.05)


@pytest.fixture
def app(tmp_path):
    app = App(tmp_path, **FAST_RECOVERY).migrate()
    yield app
    app.stop_all()


def kill_mid_generation(app, ids, attempts=1):
    worker = app.start_worker()
    wait_all_running(app, ids, worker, attempts)
    time.sleep(0.5)  # well inside the 2.5 s the offline provider takes
    app.kill(worker, signal.SIGKILL)
    assert all(g["status"] == "running" for g in app.generations(ids).values())
    time.sleep(STALE_AFTER + 1)  # until the dead run's heartbeat is stale


def test_killed_worker_generation_is_requeued_and_succeeds(app):
    ids = app.create_generations(3, num_images=2)
    kill_mid_generation(app, ids)

    worker = app.start_worker()  # its start-up sweep re-queues the dead runs
    found = app.wait_final(ids, timeout=60, proc=worker)
    assert {g["status"] for g in found.values()} == {"succeeded"}, found
    assert {g["attempts"] for g in found.values()} == {2}
    assert "worker stopped; re-queued" in app.logs()
    app.assert_consistent()
    assert len(app.query("SELECT id FROM gallery_image")) == 6


def test_generation_killed_twice_fails_with_a_reason(app):
    ids = app.create_generations(2)
    kill_mid_generation(app, ids)
    kill_mid_generation(app, ids, attempts=2)  # the retry dies too: GENERATION_MAX_ATTEMPTS is 2

    worker = app.start_worker()
    found = app.wait_final(ids, timeout=30, proc=worker)
    for generation in found.values():
        assert generation["status"] == "failed" and generation["attempts"] == 2
        assert "it had already been retried" in generation["error"]
    app.assert_consistent()
    assert app.query("SELECT COUNT(*) FROM gallery_image") == [(0,)]


@only_once
def test_database_locked_for_seconds_generations_still_finish(app):
    worker = app.start_worker(OFFLINE_PROVIDER_DELAY_MS=2000)
    ids = app.create_generations(4)
    wait_all_running(app, ids, worker)

    # Another process's writer holds the lock while every run wants to store its result.
    locker = sqlite3.connect(app.db_path, timeout=30, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    locker.execute("UPDATE auth_user SET first_name = 'locked' WHERE id = -1")
    late = {}
    submit = threading.Thread(target=lambda: late.update(ids=app.create_generations(2)))
    submit.start()  # a submission during the lock waits for it, then goes through
    time.sleep(4)
    assert all(g["status"] != "succeeded" for g in app.generations(ids).values())
    locker.execute("COMMIT")
    locker.close()
    submit.join(60)

    found = app.wait_final(ids + late["ids"], timeout=60, proc=worker)
    assert {g["status"] for g in found.values()} == {"succeeded"}, found
    assert "database is locked" not in app.logs()
    app.assert_consistent()


@pytest.mark.parametrize("prefix", ["images/", "thumbnails/"])
def test_disk_full_through_the_real_worker_leaves_nothing_half_written(tmp_path, prefix):
    marker = tmp_path / "disk-full"
    app = App(
        tmp_path,
        DJANGO_SETTINGS_MODULE="tests.reliability.settings_diskfull",
        DISK_FULL_MARKER=marker,
    ).migrate()
    try:
        marker.write_text(prefix)
        worker = app.start_worker()
        ids = app.create_generations(2, num_images=2)
        found = app.wait_final(ids, timeout=30, proc=worker)
        for generation in found.values():
            assert generation["status"] == "failed"
            assert generation["error"] == "Could not store the image: the disk is full."
        app.assert_consistent()
        assert app.files("images") | app.files("thumbnails") == set()

        marker.unlink()  # space freed: the same worker stores again
        retry = app.create_generations(1, num_images=2)
        assert app.wait_final(retry, proc=worker)[retry[0]]["status"] == "succeeded"
        assert worker.poll() is None
        app.assert_consistent()
    finally:
        app.stop_all()
