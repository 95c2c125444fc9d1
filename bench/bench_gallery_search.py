"""Figure 5: gallery full-text search at 1,000,000 images, against the unfiltered list.

    .venv/bin/python bench/bench_gallery_search.py [--quick] [--db URL] [--generations N]

Times ``GET /api/gallery?page_size=50&q=…`` in this process through the whole stack for the
user owning half of the images: a subject word (in ~2% of prompts), two words that must both
match, and a word prefix ("lightho" finds "lighthouse"); the reference is the same request
without ``q``. Target: p50 ≤ 20 ms.
"""

from common import Row, emit, fmt_ms, met, p50, ratio, samples_ms
from data import database_run, scale_note

TARGET_MS = 20


def main(argv=None) -> list[Row]:
    args, vendor, total, repeat = database_run(__doc__, argv, 20, 50)

    from data import ids
    from rest_framework.test import APIClient

    client = APIClient()
    client.force_authenticate(ids()["heavy"])

    def get(url):
        def call():
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)
            assert response.json()["results"], url

        return call

    ref = p50(samples_ms(get("/api/gallery?page_size=50"), repeat))
    rows = []
    for label, q in (
        ("one word, ~2% of images", "lighthouse"),
        ("two words, both must match", "lighthouse watercolor"),
        ("word prefix", "lightho"),
    ):
        ms = p50(samples_ms(get(f"/api/gallery?page_size=50&q={q.replace(' ', '+')}"), repeat))
        rows.append(
            Row(
                "5",
                f"search q={q!r} ({label}; {vendor})",
                fmt_ms(ms),
                f"unfiltered list {fmt_ms(ref)}",
                ratio(ms, ref),
                f"p50 ≤ {TARGET_MS} ms",
                met(ms <= TARGET_MS),
            )
        )
    rows[0].note = scale_note(total)
    emit(f"Figure 5: gallery search ({vendor})", rows, args.json)
    return rows


if __name__ == "__main__":
    main()
