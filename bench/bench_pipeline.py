"""Figure 2: pipeline overhead, POST /api/generate → succeeded, ORM broker and Redis broker.

    .venv/bin/python bench/bench_pipeline.py [--quick] [--broker orm|redis|both]

The offline provider at zero delay renders one 1024² image. A real django-q2 cluster
(``manage.py qcluster``, 2 workers, our worker threads) runs beside this process on a
throwaway SQLite file; this process submits through the API (in-process client) one
generation at a time and polls the row until it is ``succeeded``. The reference is the
offline render called directly; overhead = end-to-end p50 − render p50. With Redis the
cluster uses ``REDIS_URL`` (default redis://127.0.0.1:6379/14) and its own cluster name, so
it never shares a queue with anyone. Targets: overhead p50 ≤ 150 ms (ORM), ≤ 50 ms (Redis).
"""

import os
import subprocess
import sys
import tempfile
import time

from common import (
    ROOT,
    Row,
    base_parser,
    emit,
    fmt_ms,
    met,
    p50,
    samples_ms,
    server_env,
    setup_django,
    stop_group,
    temp_sqlite_url,
)

TARGETS = {"orm": 150, "redis": 50}
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")


def redis_reachable() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
        return True
    except Exception:
        return False


def run_one(broker: str, repeat: int, json_path: str | None) -> list[Row]:
    folder = tempfile.mkdtemp(prefix=f"bench-pipeline-{broker}-")
    extra = {"Q_CLUSTER_NAME": f"bench-pipeline-{os.getpid()}", "Q_WORKERS": 2}
    if broker == "redis":
        extra["REDIS_URL"] = REDIS_URL
    url = temp_sqlite_url(folder)
    storage = os.path.join(folder, "storage")
    setup_django(url, storage, **extra)
    env = server_env(url, storage, **extra)
    log = open(os.path.join(folder, "qcluster.log"), "wb")  # noqa: SIM115 (closed below)
    cluster = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        from django.contrib.auth import get_user_model
        from rest_framework.test import APIClient

        from generation.models import Generation
        from imagegen.providers.offline import render

        user = get_user_model().objects.create(username="pipeline", password="!")
        client = APIClient()
        client.force_authenticate(user)
        seed = iter(range(1, 10_000))

        def reference():
            render("a lighthouse at dusk", next(seed), 1024, 1024)

        def end_to_end():
            response = client.post(
                "/api/generate",
                {
                    "provider": "offline",
                    "prompt": "a lighthouse at dusk",
                    "width": 1024,
                    "height": 1024,
                    "seed": next(seed),
                },
                format="json",
            )
            assert response.status_code in (200, 201, 202), response.content
            pk = response.json()["id"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                status = Generation.objects.filter(pk=pk).values_list("status", flat=True)[0]
                if status == "succeeded":
                    return
                assert status in ("queued", "running"), status
                time.sleep(0.002)
            raise RuntimeError("generation did not finish in 60 s")

        ref = p50(samples_ms(reference, repeat))
        total = p50(samples_ms(end_to_end, repeat, warmup=3))
        overhead = total - ref
        target = TARGETS[broker]
        rows = [
            Row(
                "2",
                f"pipeline overhead, {broker} broker (end to end {fmt_ms(total)})",
                fmt_ms(overhead),
                f"direct render {fmt_ms(ref)}",
                f"{total / ref:.2f}× e2e/render",
                f"≤ {target} ms",
                met(overhead <= target),
            )
        ]
    finally:
        stop_group(cluster)
        log.close()
    emit(f"Figure 2: pipeline ({broker} broker)", rows, json_path)
    return rows


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    parser.add_argument("--broker", choices=["orm", "redis", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=None)
    args = parser.parse_args(argv)
    repeat = args.repeat or (8 if args.quick else 30)
    if args.broker != "both":
        if args.broker == "redis" and not redis_reachable():
            rows = [
                Row(
                    "2",
                    "pipeline overhead, redis broker",
                    "skipped",
                    "",
                    "",
                    "≤ 50 ms",
                    "",
                    f"Redis not reachable at {REDIS_URL}",
                )
            ]
            emit("Figure 2: pipeline (redis broker)", rows, args.json)
            return rows
        return run_one(args.broker, repeat, args.json)
    # Each broker in its own process: settings (and the broker) are fixed at Django setup.
    for broker in ("orm", "redis"):
        cmd = [sys.executable, __file__, "--broker", broker, "--repeat", str(repeat)]
        if args.json:
            cmd += ["--json", args.json]
        subprocess.run(cmd, check=False)
    return []


if __name__ == "__main__":
    main()
