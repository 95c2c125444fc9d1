"""The gallery page's result count: its cost beside the page, for the heavy user.

    .venv/bin/python bench/bench_gallery_page.py [--quick] [--db URL] [--generations N]

Times, for member ``user00`` (half of all images), ``count_visible`` (the "1,234 images"
line: a COUNT over at most COUNT_CAP + 1 rows) unfiltered, with a search word and with a
rating filter, and the whole ``GET /gallery/`` HTML page (which includes the count) through
Django in this process. Target: the count stays a bounded cost (≤ 25 ms p50) whatever the
gallery's size, and the page ≤ 150 ms p50.
"""

from common import Row, emit, fmt_ms, met, p50, samples_ms
from data import database_run, scale_note


def main(argv=None) -> list[Row]:
    args, vendor, total, repeat = database_run(__doc__, argv, 20, 50)

    from data import ids
    from django.test import Client

    from gallery.listing import COUNT_CAP, count_visible
    from gallery.models import Image

    heavy = ids()["heavy"]
    client = Client()
    client.force_login(heavy)

    def count(params):
        def call():
            count_visible(heavy, Image.objects.all(), {"sort": "newest", **params}, cap=COUNT_CAP)

        return call

    def page():
        response = client.get("/gallery/")
        assert response.status_code == 200, response.status_code

    rows = []
    for label, params in (
        ("count, no filter", {}),
        ("count, search 'lighthouse'", {"q": "lighthouse"}),
        ("count, rating ≥ 4", {"rating_min": 4}),
    ):
        ms = p50(samples_ms(count(params), repeat))
        rows.append(
            Row("gc", f"{label} ({vendor})", fmt_ms(ms), target="p50 ≤ 25 ms", met=met(ms <= 25))
        )
    ms = p50(samples_ms(page, repeat))
    rows.append(
        Row(
            "gc",
            "GET /gallery/ HTML page, count included",
            fmt_ms(ms),
            target="p50 ≤ 150 ms",
            met=met(ms <= 150),
            note=scale_note(total),
        )
    )
    emit("Gallery page: the result count", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
