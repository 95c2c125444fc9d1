"""The feed card's progress bar in a real browser (issue #17): a running generation's progress
moves in the database (0.2 → 0.6, as the runner writes it) and the bar follows on the page
without a reload, in place (the live event carries the value); the finished card loses it.
At 1366 and 390 px in both themes axe finds nothing serious, nothing scrolls sideways, and
with reduced motion the bar does not animate.

Every test fails on a CSP violation or a console error (the browser plugin)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from generation.models import Generation, Status
from imagegen.providers.backends import Backend, BackendKind
from tests.browser.helpers import signed_in_page, wait_until
from tests.generation.helpers import make_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"1366": WIDE, "390": PHONE}


def running(owner, progress, prompt="a lighthouse at dusk, oil on canvas"):
    return make_generation(
        owner,
        status=Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=8),
        progress=progress,
        prompt=prompt,
        provider="offline",
        width=768,
        height=512,
    )


def bar_state(page, pk):
    return page.evaluate(
        """(pk) => {
            const bar = document.querySelector(`#generation-${pk} [role=progressbar]`);
            if (!bar) return null;
            const fill = bar.querySelector(".gen-progress-fill");
            return {
                now: bar.getAttribute("aria-valuenow"),
                label: bar.getAttribute("aria-label"),
                fill: fill.getAttribute("width"),
                width: fill.getBoundingClientRect().width / bar.getBoundingClientRect().width,
                text: document.querySelector(`#generation-${pk}`).innerText,
            };
        }""",
        pk,
    )


def set_progress(generation, value):
    """What the runner does about twice a second: the value, and updated_at with it."""
    Generation.objects.filter(pk=generation.pk).update(progress=value, updated_at=timezone.now())


def test_the_bar_follows_the_progress_in_the_database_without_a_reload(
    new_page, live_server, client, owner
):
    generation = running(owner, 0.2)
    page = signed_in_page(new_page, live_server, client, owner, WIDE, "dark")
    page.goto(live_server.url + "/generate/")
    state = bar_state(page, generation.pk)
    assert state["now"] == "20" and state["fill"] == "20"
    assert state["label"] == f"Generation {generation.pk}: 20 %"
    assert "20 %" in state["text"]
    assert 0.15 < state["width"] < 0.25
    # Let the stream's first (re)sync read settle, then mark the page and the card: a reload
    # would lose the first, a re-read card the second.
    page.wait_for_timeout(1000)
    page.evaluate(
        "(pk) => { window.__samePage = true;"
        " document.getElementById(`generation-${pk}`).__sameCard = true; }",
        generation.pk,
    )

    set_progress(generation, 0.6)
    wait_until(
        page,
        f"document.querySelector('#generation-{generation.pk} [role=progressbar]')"
        "?.getAttribute('aria-valuenow') === '60'",
    )
    page.wait_for_timeout(600)  # the width's transition
    state = bar_state(page, generation.pk)
    assert state["fill"] == "60" and state["label"] == f"Generation {generation.pk}: 60 %"
    assert "60 %" in state["text"] and "20 %" not in state["text"]
    assert 0.55 < state["width"] < 0.65
    # 8 s and more for 60 %: a few seconds left, counted from the new pace.
    assert "s left" in state["text"] or "any moment" in state["text"]
    assert page.evaluate("window.__samePage === true")
    assert page.evaluate(
        f"document.getElementById('generation-{generation.pk}').__sameCard === true"
    ), "the bar should move in place, not by reading the card again"

    # Finished: the card is read again and has no bar.
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, progress=1.0, finished_at=timezone.now(), updated_at=timezone.now()
    )
    page.wait_for_selector(f"#generation-{generation.pk}[data-status=succeeded]")
    assert bar_state(page, generation.pk) is None
    assert page.evaluate("window.__samePage === true")


def test_a_card_without_progress_gets_its_bar_when_the_first_value_arrives(
    new_page, live_server, client, owner
):
    generation = running(owner, None)
    page = signed_in_page(new_page, live_server, client, owner, WIDE, "light")
    page.goto(live_server.url + "/generate/")
    assert bar_state(page, generation.pk) is None
    assert page.locator(f"#generation-{generation.pk} .spinner").count() == 1
    set_progress(generation, 0.35)
    wait_until(page, f"document.querySelector('#generation-{generation.pk} [role=progressbar]')")
    assert bar_state(page, generation.pk)["now"] == "35"
    assert page.locator(f"#generation-{generation.pk} .spinner").count() == 0


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", ["1366", "390"])
def test_a_running_card_at_40_percent_passes_axe_and_fits(
    new_page, live_server, client, owner, axe, screenshot, size, theme
):
    gpu = Backend.objects.create(
        kind=BackendKind.COMFYUI, name="gpu-1", base_url="http://10.0.0.5:8188"
    )
    done = make_generation(
        owner,
        status=Status.SUCCEEDED,
        prompt="a finished one before it, on the team's GPU",
        finished_at=timezone.now(),
        started_at=timezone.now() - timedelta(seconds=14),
        progress=1.0,
        gpu_seconds=12.34,
        backend=gpu,
    )
    waiting = running(owner, None, prompt="a running one whose backend reports no steps")
    generation = running(owner, 0.4)
    page = signed_in_page(new_page, live_server, client, owner, SIZES[size], theme)
    page.goto(live_server.url + "/generate/")
    assert bar_state(page, generation.pk)["now"] == "40"
    assert bar_state(page, waiting.pk) is None
    assert bar_state(page, done.pk) is None
    assert "GPU 12.3 s on gpu-1" in page.inner_text(f"#generation-{done.pk} .gen-meta")
    page.wait_for_timeout(1000)  # the stream's first (re)sync reads the running cards again
    assert bar_state(page, generation.pk)["now"] == "40"
    screenshot(page, f"feed-progress-{size}-{theme}")
    assert axe(page) == []
    assert page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    )
    # The bar spans the card's width, whatever the viewport.
    widths = page.evaluate(
        f"""[document.querySelector('#generation-{generation.pk} .gen-progress-bar')
              .getBoundingClientRect().width,
             document.querySelector('#generation-{generation.pk} .gen-prompt')
              .getBoundingClientRect().width]"""
    )
    assert widths[0] >= widths[1] - 1 and widths[0] > 200


def test_with_reduced_motion_the_bar_does_not_animate(new_page, live_server, client, owner):
    generation = running(owner, 0.4)
    durations = {}
    for motion in ("no-preference", "reduce"):
        page = signed_in_page(
            new_page, live_server, client, owner, PHONE, "dark", reduced_motion=motion
        )
        page.goto(live_server.url + "/generate/")
        durations[motion] = page.evaluate(
            f"""getComputedStyle(document.querySelector(
                '#generation-{generation.pk} .gen-progress-fill')).transitionDuration"""
        )
        animations = page.evaluate(
            f"document.querySelector('#generation-{generation.pk}')"
            ".getAnimations({subtree: true}).map((a) => a.animationName || a.transitionProperty)"
        )
        if motion == "reduce":
            assert animations == []
    assert durations["no-preference"] != "0s"
    assert durations["reduce"] == "0s"


def test_progress_moves_do_not_refetch_the_dashboard(new_page, live_server, client, owner):
    """A GPU job writes its progress twice a second; the dashboard shows no bar, so only state
    changes (live.js's imagegen:generation, not imagegen:progress) re-fetch its figure."""
    generation = running(owner, 0.1)
    page = signed_in_page(new_page, live_server, client, owner, WIDE, "light")
    page.goto(live_server.url + "/dashboard/")
    page.wait_for_timeout(1500)  # the first (re)sync re-fetch settles
    fetched = []
    page.on("request", lambda r: fetched.append(r.url) if "in-progress" in r.url else None)
    for value in (0.2, 0.3, 0.4, 0.5):
        set_progress(generation, value)
        page.wait_for_timeout(450)
    page.wait_for_timeout(800)
    # The page's first event of a job it has not heard of counts as news (it cannot know
    # the status did not change); the moves after it are not.
    assert len(fetched) <= 1, fetched
    before = len(fetched)
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, finished_at=timezone.now(), updated_at=timezone.now()
    )
    page.wait_for_timeout(1500)
    assert len(fetched) == before + 1  # a state change still re-fetches it
