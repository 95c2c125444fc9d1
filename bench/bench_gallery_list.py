"""Figure 4: the gallery list, 50 per page, for a user owning half of 1,000,000 images.

    .venv/bin/python bench/bench_gallery_list.py [--quick] [--db URL] [--generations N]

Times ``GET /api/gallery?page_size=50`` through the whole Django/DRF stack in this process
(the "server time": no network, no client), page 1 against a page 400k rows deep (80% of the
user's images; the cursor is built for that position), against the raw-SQL keyset query the
page boils down to. Requests per second is a sequential loop on one thread: one worker.
Targets: p50 ≤ 5 ms, deep page ≤ 1.5 × page 1, ≥ 300 req/s per worker.
"""

import time

from common import Row, emit, fmt_ms, met, p50, ratio, samples_ms
from data import database_run, scale_note


def main(argv=None) -> list[Row]:
    args, vendor, total, repeat = database_run(__doc__, argv, 30, 100)

    from data import ids
    from django.db import connection
    from rest_framework.test import APIClient

    from gallery.listing import encode_cursor
    from gallery.models import Image

    heavy = ids()["heavy"]
    client = APIClient()
    client.force_authenticate(heavy)
    owned = Image.objects.filter(owner=heavy).count()
    depth = int(owned * 0.8)
    deep_id = Image.objects.filter(owner=heavy).order_by("-id").values_list("id", flat=True)[depth]
    deep_cursor = encode_cursor("newest", [deep_id], False)

    def get(url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert len(response.json()["results"]) == 50

        return call

    def raw_keyset():
        with connection.cursor() as cursor:
            cursor.execute(
                'SELECT id, generation_id, owner_id, project_id, "index", file, thumbnail, '
                "width, height, format, bytes, sha256, seed, favorite, rating, title, notes, "
                "created_at FROM gallery_image WHERE owner_id = %s AND id < %s "
                "ORDER BY id DESC LIMIT 51",
                [heavy.pk, deep_id],
            )
            cursor.fetchall()

    page1 = get("/api/gallery?page_size=50")
    deep = get(f"/api/gallery?page_size=50&cursor={deep_cursor}")
    ref = p50(samples_ms(raw_keyset, repeat))
    first = p50(samples_ms(page1, repeat))
    deep_ms = p50(samples_ms(deep, repeat))
    loops = 100 if args.quick else 500
    started = time.perf_counter()
    for _ in range(loops):
        page1()
    rps = loops / (time.perf_counter() - started)

    label = f"{vendor}, {owned:,} of {Image.objects.count():,} images"
    note = scale_note(total)
    rows = [
        Row(
            "4",
            f"gallery page 1, 50 items ({label})",
            fmt_ms(first),
            f"raw keyset SQL {fmt_ms(ref)}",
            ratio(first, ref),
            "p50 ≤ 5 ms",
            met(first <= 5),
            note,
        ),
        Row(
            "4",
            f"gallery page {depth:,} rows deep",
            fmt_ms(deep_ms),
            f"page 1 {fmt_ms(first)}",
            ratio(deep_ms, first),
            "≤ 1.5× page 1",
            met(deep_ms <= 1.5 * first),
        ),
        Row(
            "4",
            "gallery page 1, sequential requests (1 worker)",
            f"{rps:.0f} req/s",
            f"raw keyset SQL {1000 / ref:.0f}/s",
            ratio(1000 / ref, rps),
            "≥ 300 req/s",
            met(rps >= 300),
        ),
    ]
    emit(f"Figure 4: gallery list ({vendor})", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
