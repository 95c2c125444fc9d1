"""The dashboard's figure tables read well on a phone (390 px, and 360) and stay as they are on a
laptop (1366 px), in light and dark.

On a phone: the page never scrolls sideways; an amount, a count or a duration never breaks
inside itself ("$1.\\n86"), a header breaks only between its words ("Provid er"); a table
wider than the phone scrolls inside its own region, which is labelled and reachable by
keyboard (axe's scrollable-region-focusable) and scrolls with the arrow keys. On a laptop no
table needs its region to scroll. Neither width has serious or critical axe violations.
"""

import pytest

from generation.models import Generation, Status
from generation.usage.rollup import record_generation_finished
from projects.models import Project
from tests.browser.helpers import signed_in_page
from tests.dashboard.helpers import finished

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 780}
LAPTOP = {"width": 1366, "height": 768}
URL = "/dashboard/?from=2025-03-01&to=2025-03-07&scope=team"
TABLES = ("#usage-models", "#usage-operations", "#usage-users", "#usage-projects")


def gpu_job(owner, created, seconds, cost, **options):
    """A finished job on the team's own GPU that took ``seconds`` (as in
    tests/dashboard/test_gpu_seconds.py): the GPU time column and card appear."""
    options.setdefault("provider", "comfyui")
    generation = finished(owner, created, cost=cost, estimate=False, record=False, **options)
    Generation.objects.filter(pk=generation.pk).update(gpu_seconds=seconds)
    assert record_generation_finished(generation)
    return generation


@pytest.fixture
def busy_week(owner, admin_user):
    """A week with cloud and GPU jobs, long model and project names, four-digit amounts and
    five-digit latencies: the widest "Providers and models" table (8 columns)."""
    garden = Project.objects.create(owner=owner, name="Garden party invitations")
    gpu_job(owner, "2025-03-01 09:00", 3720.0, "1.86", model="sdxl-base-1.0", project=garden)
    gpu_job(owner, "2025-03-02 09:00", 200.0, "0.10", model="flux1-dev-fp8", images=4)
    finished(
        owner,
        "2025-03-03 10:00",
        cost="1234.56",
        estimate=False,
        provider="fal",
        model="fal-ai/flux-pro/v1.1-ultra",
        latency_ms=12_345,
        images=4,
        project=garden,
    )
    finished(owner, "2025-03-03 11:00", status=Status.FAILED, error="Rate limited by fal")
    finished(
        admin_user,
        "2025-03-04 10:00",
        cost="0.04",
        estimate=False,
        provider="openai",
        model="gpt-image-1",
        operation="edit",
    )
    return garden


# Per element, the number of lines its text takes (distinct tops of its text's line boxes)
# and of words in it (split at breakable spaces: "1000\u00a0bytes" is one word).
LINES = """(el) => {
  const range = document.createRange();
  range.selectNodeContents(el);
  const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
                        .map(r => Math.round(r.top)));
  const words = el.textContent.trim().split(/[ \\t\\n]+/).filter(Boolean).length;
  return {text: el.textContent.trim(), lines: tops.size, words};
}"""


def lines_of(page, selector):
    return [
        page.locator(selector).nth(i).evaluate(LINES) for i in range(page.locator(selector).count())
    ]


def region_of(page, table):
    """The scrolling region around ``table``: role, tabindex, name and sizes."""
    return page.locator(table).evaluate(
        """(t) => { const r = t.parentElement;
          const label = document.getElementById(r.getAttribute('aria-labelledby') || '');
          return {role: r.getAttribute('role'), tabindex: r.getAttribute('tabindex'),
                  name: r.getAttribute('aria-label') || (label && label.textContent.trim()),
                  scrollWidth: r.scrollWidth, clientWidth: r.clientWidth,
                  overflowX: getComputedStyle(r).overflowX}; }"""
    )


def open_dashboard(new_page, live_server, client, admin_user, viewport, theme):
    page = signed_in_page(new_page, live_server, client, admin_user, viewport, theme)
    page.goto(page.base + URL)
    page.locator("#usage-models").wait_for()
    for table in TABLES:  # the seeded week fills every table
        assert page.locator(f"{table} tbody tr").count() >= 1, table
    assert page.locator("#usage-models thead th").count() == 8  # with GPU time
    return page


@pytest.mark.parametrize(
    "viewport,theme", [(PHONE, "light"), (PHONE, "dark"), (SMALL_PHONE, "light")]
)
def test_on_a_phone_figures_stay_whole_and_wide_tables_scroll_in_their_region(
    new_page, live_server, client, admin_user, busy_week, axe, screenshot, viewport, theme
):
    page = open_dashboard(new_page, live_server, client, admin_user, viewport, theme)

    # The page itself never scrolls sideways.
    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width

    # Amounts, counts, latencies and GPU times: one line each, in every table.
    cells = lines_of(page, "table.figures td.num")
    assert len(cells) >= 30
    broken = [c for c in cells if c["lines"] != 1]
    assert not broken, broken
    assert any(c["text"] == "$1234.56" for c in cells)
    assert any(c["text"] == "1 h 02 min" for c in cells)
    # Headers and the cards' figures break between words only, never inside one.
    for selector in ("table.figures th", ".cards .stat .value"):
        texts = lines_of(page, selector)
        split = [t for t in texts if t["lines"] > t["words"]]
        assert not split, (selector, split)
    # Model names are not cut either.
    names = lines_of(page, "#usage-models td:nth-child(2)")
    assert [n for n in names if n["lines"] > n["words"]] == []

    # Each table sits in a labelled, focusable region; the 8-column one is wider than the
    # phone and scrolls inside it, and the arrow keys scroll it.
    for table in TABLES:
        region = region_of(page, table)
        assert region["role"] == "region" and region["tabindex"] == "0", (table, region)
        assert region["name"], (table, region)
        assert region["overflowX"] == "auto", (table, region)
    models = region_of(page, "#usage-models")
    assert models["scrollWidth"] > models["clientWidth"], models
    scroller = page.locator("#usage-models").locator("xpath=..")
    scroller.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.wait_for_timeout(300)  # smooth scrolling
    assert scroller.evaluate("(r) => r.scrollLeft") > 0

    assert axe(page) == []
    scroller.evaluate("(r) => { r.scrollLeft = 0; r.blur(); }")
    screenshot(page, f"dashboard-phone-{viewport['width']}-{theme}")


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_on_a_laptop_no_table_needs_to_scroll(
    new_page, live_server, client, admin_user, busy_week, axe, screenshot, theme
):
    page = open_dashboard(new_page, live_server, client, admin_user, LAPTOP, theme)

    width = page.evaluate("() => [document.scrollingElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width
    for table in TABLES:
        region = region_of(page, table)
        assert region["scrollWidth"] <= region["clientWidth"], (table, region)
    # Nothing wraps at this width: every figure and header takes one line.
    for selector in ("table.figures td.num", "table.figures th", "#usage-models td"):
        wrapped = [t for t in lines_of(page, selector) if t["lines"] != 1]
        assert not wrapped, (selector, wrapped)
    split = [t for t in lines_of(page, ".cards .stat .value") if t["lines"] > t["words"]]
    assert not split, split
    # The two wide tables span the page's width, as before.
    card = page.locator("#usage-models").evaluate(
        "(t) => [t.getBoundingClientRect().width, t.closest('section').clientWidth]"
    )
    assert card[0] >= card[1] - 40, card

    assert axe(page) == []
    screenshot(page, f"dashboard-laptop-1366-{theme}")
