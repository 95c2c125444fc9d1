"""Figure 9: live updates (Server-Sent Events, issue #15): latency to the DOM and idle cost.

    .venv/bin/python bench/bench_live.py [--quick]

Serves the app (``manage.py serve --no-worker``: gunicorn's asgi worker, 2 workers as
``make run``) on a throwaway SQLite file and signs a user in (a session cookie).

(a) Latency: Debian's chromium (Playwright) opens /settings/, where live.js connects; a
listener added by the bench writes each ``imagegen:generation`` event into the DOM and
records ``Date.now()`` right after. The bench changes a generation's state the way the worker
does (``runner.claim``, then ``mark_failed``), taking ``time.time()`` just before: both
stamps are the same machine's wall clock. Reported: p50 and p90 over the samples, beside
the same page's ``fetch()`` of a small fragment (what one poll would cost, at best).
Target: p50 ≤ 300 ms.

(b) Idle cost: CPU time (utime + stime from /proc/PID/stat) of the server's process tree
over 30 s (10 s with --quick) with 100 open, idle streams, beside the same time with none
(measured first, in the same run). Target: 100 idle pages ≤ 5% of one core.
"""

import os
import socket
import tempfile
import time

from common import (
    Row,
    Server,
    base_parser,
    emit,
    fmt_ms,
    met,
    p50,
    percentile,
    process_tree,
    server_env,
    setup_django,
    temp_sqlite_url,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
IDLE_STREAMS = 100
TICKS = os.sysconf("SC_CLK_TCK")

LISTEN = """() => {
  window.__stamps = [];
  const out = document.createElement("output");
  out.id = "live-out";
  document.body.appendChild(out);
  document.addEventListener("imagegen:generation", (event) => {
    out.textContent = event.detail.id + " " + event.detail.status;
    window.__stamps.push([event.detail.id, event.detail.status, Date.now()]);
  });
}"""


def cpu_seconds(pids) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / TICKS


def open_stream(port: int, cookie: str) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"GET /live/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n"
        "Accept: text/event-stream\r\n\r\n".encode()
    )
    seen = b""
    while b"retry: 2000" not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            raise RuntimeError(f"stream closed: {seen!r}")
        seen += chunk
    return sock


def wait_for_stamp(page, generation_id, status, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pk, seen_status, stamp in page.evaluate("() => window.__stamps"):
            if pk == generation_id and seen_status == status:
                return stamp
        time.sleep(0.005)
    raise RuntimeError(f"no {status} event for generation {generation_id}")


def main(argv=None) -> list[Row]:
    args = base_parser(__doc__).parse_args(argv)
    samples, idle_seconds = (20, 10) if args.quick else (60, 30)
    folder = tempfile.mkdtemp(prefix="bench-live-")
    url, storage = temp_sqlite_url(folder), os.path.join(folder, "storage")
    setup_django(url, storage)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    from generation import runner
    from generation.models import Generation

    user = get_user_model().objects.create(username="watcher", password="!")
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    cookie = f"{settings.SESSION_COOKIE_NAME}={session}"
    server = Server(server_env(url, storage), no_worker=True, web_workers=2)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    latencies, fetches = [], []
    try:
        # (b) first, with no browser open: the reference, then 100 idle streams.
        pids = process_tree(server.proc.pid)
        time.sleep(2)
        before = cpu_seconds(pids)
        time.sleep(idle_seconds)
        idle_none = (cpu_seconds(pids) - before) / idle_seconds * 100
        streams = [open_stream(server.port, cookie) for _ in range(IDLE_STREAMS)]
        time.sleep(2)  # let the watchers start and settle
        before = cpu_seconds(pids)
        time.sleep(idle_seconds)
        idle_100 = (cpu_seconds(pids) - before) / idle_seconds * 100
        for sock in streams:
            sock.close()

        # (a) latency to the DOM of a real page.
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context()
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server.url}]
            )
            page = context.new_page()
            page.goto(server.url + "/settings/", wait_until="load")
            page.evaluate(LISTEN)  # live.js re-dispatches on document: later events reach it
            time.sleep(1)  # connected and the watcher started
            for n in range(samples // 2):
                generation = Generation.objects.create(
                    owner=user,
                    provider="offline",
                    model="offline-shapes",
                    prompt=f"live {n}",
                    width=64,
                    height=64,
                )
                wait_for_stamp(page, generation.pk, "queued")
                time.sleep(0.05 + (n % 7) * 0.031)  # not in step with the watcher's polls
                started = time.time() * 1000
                claimed = runner.claim(generation.pk)
                latencies.append(wait_for_stamp(page, generation.pk, "running") - started)
                time.sleep(0.05 + (n % 5) * 0.043)
                started = time.time() * 1000
                claimed.mark_failed("bench")
                latencies.append(wait_for_stamp(page, generation.pk, "failed") - started)
            fragment = server.url + "/dashboard/in-progress/"
            for _ in range(samples):
                fetches.append(
                    page.evaluate(
                        "async (u) => { const t = performance.now(); const r = await fetch(u);"
                        " await r.text(); return performance.now() - t; }",
                        fragment,
                    )
                )
            browser.close()
    finally:
        server.stop()

    rows = [
        Row(
            "9",
            f"live update, DB state change → DOM, p50 of {len(latencies)} (watcher polls every "
            "200 ms)",
            fmt_ms(p50(latencies)),
            f"one fetch() of a fragment {fmt_ms(p50(fetches))}",
            "",
            "p50 ≤ 300 ms",
            met(p50(latencies) <= 300),
        ),
        Row(
            "9",
            "live update, DB state change → DOM, p90",
            fmt_ms(percentile(latencies, 90)),
            f"max {fmt_ms(max(latencies))}",
            "",
            "report",
            "",
        ),
        Row(
            "9",
            f"CPU of the server over {idle_seconds} s with {IDLE_STREAMS} idle open streams "
            "(% of one core)",
            f"{idle_100:.2f}%",
            f"no stream open {idle_none:.2f}%",
            f"+{idle_100 - idle_none:.2f} pts",
            "≤ 5%",
            met(idle_100 <= 5),
        ),
    ]
    emit("Figure 9: live updates", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
