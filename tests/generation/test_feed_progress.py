"""The feed card's progress bar (issue #17), server side: a running generation whose backend
reports progress shows a role="progressbar" with its percentage and estimate, one without
progress keeps the spinner, a finished one has no bar (a GPU job's says its GPU time and
backend), and the live event carries the new progress."""

import re
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from generation import live
from generation.models import Generation, Status
from imagegen.providers.backends import Backend, BackendKind
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db


class Elements(HTMLParser):
    """Every start tag of a fragment as (tag, attributes)."""

    def __init__(self, html):
        super().__init__()
        self.found = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, dict(attrs)))

    def where(self, **wanted):
        return [
            (tag, attrs)
            for tag, attrs in self.found
            if all(attrs.get(k.replace("_", "-")) == v for k, v in wanted.items())
        ]


def card(client, generation) -> str:
    response = client.get(f"/generations/{generation.pk}/status/")
    assert response.status_code == 200
    return response.content.decode()


def text(html) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def running(owner, progress, ran=timedelta(seconds=10), **fields):
    return make_generation(
        owner,
        status=Status.RUNNING,
        started_at=timezone.now() - ran,
        progress=progress,
        **fields,
    )


def test_a_running_generation_at_40_percent_shows_the_bar_the_percentage_and_the_estimate(
    owner_client, owner
):
    generation = running(owner, 0.4)
    html = card(owner_client, generation)
    bars = Elements(html).where(role="progressbar")
    assert len(bars) == 1
    _, bar = bars[0]
    assert bar["aria-valuenow"] == "40"
    assert (bar["aria-valuemin"], bar["aria-valuemax"]) == ("0", "100")
    assert bar["aria-label"] == f"Generation {generation.pk}: 40 %"
    # The fill is the SVG rect's width attribute (the CSP allows no inline style).
    assert Elements(html).where(**{"class": "gen-progress-fill"})[0][1]["width"] == "40"
    words = text(html)
    assert "40 %" in words
    # 10 s for 40 %: 15 s left at that pace (generation/progress.py).
    assert re.search(r"About 1[45] s left", words), words
    assert "spinner" not in html


def test_the_bar_is_on_the_generate_page_and_on_the_generations_own_page(owner_client, owner):
    generation = running(owner, 0.73)
    for path in ("/generate/", f"/generations/{generation.pk}/"):
        bars = Elements(owner_client.get(path).content.decode()).where(role="progressbar")
        assert [attrs["aria-valuenow"] for _, attrs in bars] == ["73"], path


def test_a_running_generation_without_progress_keeps_the_spinner_and_no_bar(owner_client, owner):
    html = card(owner_client, running(owner, None))
    assert Elements(html).where(role="progressbar") == []
    assert "gen-progress" not in html
    assert "spinner" in html and "Working on it" in text(html)


def test_a_queued_card_still_says_why_it_waits(owner_client, owner):
    # The card's queue standing and the model's progress field are two things on one row.
    html = card(owner_client, make_generation(owner))
    assert Elements(html).where(role="progressbar") == []
    assert "Queued: waiting for a free worker" in text(html)


@pytest.mark.parametrize("status", [Status.SUCCEEDED, Status.FAILED, Status.CANCELED])
def test_a_finished_generation_has_no_bar(owner_client, owner, status):
    generation = running(owner, 1.0)
    Generation.objects.filter(pk=generation.pk).update(
        status=status, finished_at=timezone.now(), error="Out of memory"
    )
    html = card(owner_client, generation)
    assert Elements(html).where(role="progressbar") == []
    assert "gen-progress" not in html and " %" not in text(html)


def test_a_finished_gpu_job_says_its_gpu_time_and_backend(owner_client, owner):
    backend = Backend.objects.create(
        kind=BackendKind.COMFYUI, name="gpu-1", base_url="http://10.0.0.5:8188"
    )
    done = make_generation(
        owner,
        status=Status.SUCCEEDED,
        finished_at=timezone.now(),
        progress=1.0,
        gpu_seconds=12.34,
        backend=backend,
    )
    assert "GPU 12.3 s on gpu-1" in text(card(owner_client, done))
    # A hosted API's card has no GPU line; a running GPU job's has none yet either.
    assert "GPU" not in text(card(owner_client, make_generation(owner, status=Status.FAILED)))
    assert "GPU" not in text(card(owner_client, running(owner, 0.5, gpu_seconds=3.0)))


def test_the_live_event_carries_the_new_progress(owner):
    _, marker = live.generation_changes(None)
    generation = running(owner, None)
    events, marker = live.generation_changes(marker)
    assert [e[2] for e in events] == [{"id": generation.pk, "status": "running"}]

    for value in (0.2, 0.6):
        # What the runner does about twice a second: the value, and updated_at with it.
        Generation.objects.filter(pk=generation.pk).update(
            progress=value, updated_at=timezone.now()
        )
        events, marker = live.generation_changes(marker)
        assert [e[2] for e in events] == [
            {"id": generation.pk, "status": "running", "progress": value}
        ]
        assert events[0][0] == {owner.pk}

    # Finished: the event says so, without a progress (the card loses its bar).
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.SUCCEEDED, progress=1.0, updated_at=timezone.now()
    )
    events, marker = live.generation_changes(marker)
    assert [e[2] for e in events] == [{"id": generation.pk, "status": "succeeded"}]
