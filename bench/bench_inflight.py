"""Figure 3: 64 generations from 16 users in flight at once, the offline provider delayed 5 s.

    .venv/bin/python bench/bench_inflight.py [--quick]

Runs ``manage.py serve`` (gunicorn + the django-q2 cluster) on a throwaway SQLite file with
``Q_WORKERS=2``, ``GENERATION_THREADS=32``, ``GENERATION_MAX_CONCURRENT=4`` (so 16 users × 4
fit) and ``OFFLINE_PROVIDER_DELAY_MS=5000``, and serve's own web server defaults (as
``make run``); 16 users submit 4 generations each over HTTP at
the same moment. Reported: time until all 64 succeeded (the ideal is the 5 s delay), the
most running at once (from the rows), and the memory of the server's whole process tree at
its peak: RSS summed from /proc (counts pages shared by forked workers once per process) and
PSS from /proc/PID/smaps_rollup (shares them out). Targets: 64 in flight together, done in
≤ 8 s, RSS ≤ 1 GB.
"""

import os
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from common import (
    Row,
    Server,
    api_token,
    base_parser,
    emit,
    http,
    memory_mb,
    met,
    process_tree,
    server_env,
    setup_django,
    temp_sqlite_url,
)

USERS, EACH, DELAY_MS = 16, 4, 5000


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    args = parser.parse_args(argv)
    folder = tempfile.mkdtemp(prefix="bench-inflight-")
    extra = {
        "Q_WORKERS": 2,
        "GENERATION_THREADS": 32,
        "GENERATION_MAX_CONCURRENT": EACH,
        "OFFLINE_PROVIDER_DELAY_MS": DELAY_MS,
        "Q_CLUSTER_NAME": f"bench-{os.getpid()}",
    }
    url, storage = temp_sqlite_url(folder), os.path.join(folder, "storage")
    setup_django(url, storage, **extra)
    from django.contrib.auth import get_user_model

    from generation.models import Generation

    User = get_user_model()
    tokens = [
        api_token(User.objects.create(username=f"flight{n:02d}", password="!"))
        for n in range(USERS)
    ]
    # The web server as `make run` starts it (serve's defaults), not one sized for the bench.
    server = Server(server_env(url, storage, **extra), web_workers=None, web_threads=None)
    try:
        time.sleep(2)  # let the cluster finish spawning its processes
        idle_rss, idle_pss = memory_mb(process_tree(server.proc.pid))
        idle_count = len(process_tree(server.proc.pid))
        peak = {"running": 0, "rss": 0.0, "pss": 0.0}
        done = threading.Event()

        def watch():
            while not done.is_set():
                running = Generation.objects.filter(status="running").count()
                rss, pss = memory_mb(process_tree(server.proc.pid))
                peak["running"] = max(peak["running"], running)
                peak["rss"], peak["pss"] = max(peak["rss"], rss), max(peak["pss"], pss)
                time.sleep(0.1)

        def submit(job):
            token, n = job
            status, body = http(
                "POST",
                server.url + "/api/generate",
                token,
                {
                    "provider": "offline",
                    "prompt": f"a lighthouse, take {n}",
                    "width": 1024,
                    "height": 1024,
                },
            )
            assert status in (200, 201, 202), (status, body[:300])

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        jobs = [(token, n) for token in tokens for n in range(EACH)]
        started = time.perf_counter()
        with ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(submit, jobs))
        submitted = time.perf_counter() - started
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            counts = dict(
                Generation.objects.values_list("status").annotate(
                    n=__import__("django.db.models", fromlist=["Count"]).Count("id")
                )
            )
            if counts.get("succeeded", 0) == len(jobs) or set(counts) - {
                "queued",
                "running",
                "succeeded",
            }:
                break
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        done.set()
        watcher.join()
        succeeded = Generation.objects.filter(status="succeeded").count()
        times = list(Generation.objects.values_list("created_at", "started_at", "finished_at"))
        first = min(c for c, _, _ in times)
        last_created = max(c for c, _, _ in times)
        last_start = max(s for _, s, _ in times if s)
        runs = sorted((f - s).total_seconds() for _, s, f in times if s and f)
        timeline = (
            f"last submission stored at +{(last_created - first).total_seconds():.2f} s, "
            f"last start at +{(last_start - first).total_seconds():.2f} s; run times "
            f"(start→finish) min {runs[0]:.2f} s, median {runs[len(runs) // 2]:.2f} s, "
            f"max {runs[-1]:.2f} s"
        )
    finally:
        server.stop()
    total = len(jobs)
    rows = [
        Row(
            "3",
            f"{total} generations from {USERS} users: time until all succeeded "
            f"({succeeded}/{total} succeeded; submitting took {submitted:.2f} s)",
            f"{elapsed:.2f} s",
            f"ideal {DELAY_MS / 1000:.0f} s",
            f"{elapsed / (DELAY_MS / 1000):.2f}×",
            "≤ 8 s",
            met(succeeded == total and elapsed <= 8),
            timeline,
        ),
        Row(
            "3",
            "most generations running at once",
            str(peak["running"]),
            f"ideal {total}",
            f"{peak['running'] / total:.2f}×",
            f"all {total}",
            met(peak["running"] >= total),
        ),
        Row(
            "3",
            "memory of server + workers at peak, RSS summed over the process tree",
            f"{peak['rss']:.0f} MB",
            f"idle {idle_rss:.0f} MB",
            f"{peak['rss'] / idle_rss:.2f}×",
            "≤ 1024 MB",
            met(peak["rss"] <= 1024),
        ),
        Row(
            "3",
            "memory of server + workers at peak, PSS (shared pages counted once)",
            f"{peak['pss']:.0f} MB",
            f"idle {idle_pss:.0f} MB",
            f"{peak['pss'] / idle_pss:.2f}×",
            "",
            "",
            f"{idle_count} processes in the tree "
            f"(serve's supervisor, gunicorn master + workers, qcluster + sentinel/pusher/monitor/"
            f"workers)",
        ),
    ]
    emit("Figure 3: generations in flight", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
