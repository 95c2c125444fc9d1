"""Figure 8: the gallery page with 50 thumbnails in headless Chromium (Debian's, via Playwright).

    .venv/bin/python bench/bench_gallery_browser.py [--quick]

Serves the app (``manage.py serve --no-worker``) on a throwaway SQLite file with 50 distinct
1024² images (512² in quick mode; the thumbnails are the same size) made through the
real ingest path, logs a browser in (a session cookie), and
opens /gallery/ with a viewport tall enough that all 50 lazy thumbnails load. Reported, from
the DevTools protocol: bytes transferred and time to the load event on a cold cache; what a
reload fetches; and, forcing revalidation of every thumbnail (``fetch(url, {cache:
"no-cache"})``, which sends If-None-Match), how many answer 304 with no body. Target: report
the figures; thumbnails cacheable (ETag/304).
"""

import os
import tempfile

from common import (
    Row,
    Server,
    base_parser,
    emit,
    make_stored_images,
    met,
    server_env,
    setup_django,
    temp_sqlite_url,
)

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
IMAGES = 50


def main(argv=None) -> list[Row]:
    parser = base_parser(__doc__)
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        rows = [
            Row(
                "8",
                "gallery page in Chromium",
                "skipped",
                "",
                "",
                "",
                "",
                "Debian's chromium is missing (`make chromium` installs it)",
            )
        ]
        emit("Figure 8: gallery page in a browser", rows, args.json)
        return rows
    folder = tempfile.mkdtemp(prefix="bench-browser-")
    url, storage = temp_sqlite_url(folder), os.path.join(folder, "storage")
    extra = {"ITEMS_PER_PAGE": IMAGES}
    setup_django(url, storage, **extra)
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.test import Client

    user = get_user_model().objects.create(username="viewer", password="!")
    make_stored_images(
        user, IMAGES, 512 if args.quick else 1024, "gallery picture number"
    )  # thumbnails are 256² either way
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    server = Server(server_env(url, storage, **extra), no_worker=True)
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            context = browser.new_context(viewport={"width": 1280, "height": 8000})
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": server.url}]
            )
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            log = {"bytes": 0, "responses": {}, "cached": 0}

            def finished(event):
                log["bytes"] += event.get("encodedDataLength", 0)

            def received(event):
                response = event["response"]
                log["responses"][event["requestId"]] = (
                    response["url"],
                    response["status"],
                    response.get("fromDiskCache", False),
                )

            cdp.on("Network.loadingFinished", finished)
            cdp.on("Network.responseReceived", received)
            cdp.on(
                "Network.requestServedFromCache",
                lambda event: log.__setitem__("cached", log["cached"] + 1),
            )

            def reset():
                log.update(bytes=0, responses={}, cached=0)
                log["mark"] = len(server.log_text())

            def served():
                """(status → count) of thumbnail requests in gunicorn's access log since reset."""
                import re

                text = server.log_text()[log.get("mark", 0) :]
                found = re.findall(r'"GET /files/thumbnails/\d+ HTTP/[\d.]+" (\d{3})', text)
                return {code: found.count(code) for code in set(found)}

            def thumbs():
                return [r for r in log["responses"].values() if "/files/thumbnails/" in r[0]]

            reset()
            page.goto(server.url + "/gallery/", wait_until="networkidle")
            cold_served = served()
            cold_bytes = log["bytes"]
            load_ms = page.evaluate(
                "() => { const n = performance.getEntriesByType('navigation')[0];"
                " return n.loadEventEnd - n.startTime; }"
            )
            shown = page.locator("img[src*='/files/thumbnails/']").count()
            reset()
            page.reload(wait_until="networkidle")
            reload_bytes = log["bytes"]
            reload_cached = log["cached"]
            reload_served = served()
            reset()
            page.evaluate("""async () => {
                const urls = [...document.querySelectorAll("img[src*='/files/thumbnails/']")]
                    .map(img => img.src);
                await Promise.all(urls.map(u => fetch(u, {cache: 'no-cache'})));
            }""")
            page.wait_for_timeout(500)
            revalidate_bytes = log["bytes"]
            revalidate_served = served()
            browser.close()
    finally:
        server.stop()
    # DevTools reports a revalidated response with the cached status (200); the server's
    # access log says what was actually sent.
    n304 = revalidate_served.get("304", 0)
    reload_network = sum(reload_served.values())
    thumb_bytes = cold_bytes  # whole page, HTML, CSS, JS and thumbnails
    rows = [
        Row(
            "8",
            f"gallery page, cold cache: bytes transferred ({shown} thumbnails shown, "
            f"thumbnail answers {cold_served})",
            f"{thumb_bytes / 1024:.0f} KiB",
            "—",
            "",
            "report",
            "",
        ),
        Row(
            "8",
            "gallery page, cold cache: time to load event",
            f"{load_ms:.0f} ms",
            "—",
            "",
            "report",
            "",
        ),
        Row(
            "8",
            "reload: thumbnail requests reaching the server",
            f"{reload_network} of {shown}",
            "—",
            "",
            "report",
            "",
            f"{reload_bytes / 1024:.0f} KiB transferred on reload; {reload_cached} requests "
            "served from the browser cache (Cache-Control: private, max-age, immutable)",
        ),
        Row(
            "8",
            "forced revalidation of every thumbnail (If-None-Match)",
            f"{n304} of {sum(revalidate_served.values())} answered 304",
            "—",
            "",
            f"all {shown} → 304",
            met(shown > 0 and n304 == shown),
            f"{revalidate_bytes / 1024:.1f} KiB transferred for the revalidation",
        ),
    ]
    emit("Figure 8: gallery page in a browser", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
