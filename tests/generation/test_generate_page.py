"""The Generate page's server side: the feed and its cards (one by id, another user's a 404),
a submission answered as new cards or as every field error at once, the missing-key callout,
aspect chips from the model, a price line for every model, "Generate into this project"."""

import pytest

from generation.models import Generation, Status
from generation.page import aspect_chips, price_line
from imagegen.providers import get_provider
from projects.models import Project
from settings_app.models import Preferences
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

SCRIPT = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}
FRAGMENT = {"HTTP_X_REQUESTED_WITH": "fetch"}
FORM = {
    "prompt": "a paper boat",
    "provider": "offline",
    "model": "offline-shapes",
    "width": 96,
    "height": 96,
    "num_images": 2,
}


def test_the_feed_shows_in_flight_and_recent_generations_newest_first(
    owner_client, owner, outsider
):
    old = make_generation(owner, prompt="an old finished one", status=Status.SUCCEEDED)
    running = make_generation(owner, prompt="a running one", status=Status.RUNNING)
    queued = make_generation(owner, prompt="a queued one")
    make_generation(outsider, prompt="not yours")
    body = owner_client.get("/generate/").content.decode()
    assert "not yours" not in body
    ids = [f'id="generation-{g.pk}"' for g in (queued, running, old)]
    assert all(i in body for i in ids)
    assert body.index(ids[0]) < body.index(ids[1]) < body.index(ids[2])
    assert 'class="recent"' not in body  # the old "Recent" list is gone
    assert 'href="/gallery/"' in body  # "More in the gallery"


def test_a_card_says_why_it_waits(owner_client, owner, settings):
    settings.GENERATION_MAX_CONCURRENT = 3
    for _ in range(3):
        make_generation(owner, status=Status.RUNNING)
    first = make_generation(owner)
    second = make_generation(owner)
    card = owner_client.get(f"/generations/{second.pk}/status/").content.decode()
    assert "Waiting: 3 of 3 of your generations running; 2nd in your queue" in card
    assert card.count("gen-skeleton") == 1 and 'viewBox="0 0 64 64"' in card
    assert f'data-cancel-url="/generations/{second.pk}/cancel/"' in card
    first_card = owner_client.get(f"/generations/{first.pk}/status/").content.decode()
    assert "Waiting: 3 of 3 of your generations running" in first_card


def test_another_users_card_is_a_404(outsider, owner, client):
    generation = make_generation(owner)
    client.force_login(outsider)
    assert client.get(f"/generations/{generation.pk}/status/").status_code == 404
    assert client.post(f"/generations/{generation.pk}/cancel/", **FRAGMENT).status_code == 404
    assert client.post(f"/generations/{generation.pk}/retry/", **FRAGMENT).status_code == 404
    assert Generation.objects.get(pk=generation.pk).status == Status.QUEUED
    assert Generation.objects.count() == 1


def test_a_failed_card_shows_the_providers_reason_and_retry_queues_a_new_card(owner_client, owner):
    failed = make_generation(
        owner, status=Status.FAILED, error="OpenAI refused: billing hard limit reached"
    )
    card = owner_client.get(f"/generations/{failed.pk}/status/").content.decode()
    assert "OpenAI refused: billing hard limit reached" in card
    assert f'data-retry-url="/generations/{failed.pk}/retry/"' in card
    response = owner_client.post(f"/generations/{failed.pk}/retry/", **SCRIPT)
    assert response.status_code == 201
    retried = Generation.objects.exclude(pk=failed.pk).get()
    assert response.json()["ids"] == [retried.pk]
    assert f'id="generation-{retried.pk}"' in response.json()["cards"]


def test_cancel_answers_the_updated_card(owner_client, owner):
    generation = make_generation(owner)
    response = owner_client.post(f"/generations/{generation.pk}/cancel/", **FRAGMENT)
    assert response.status_code == 200
    assert 'data-status="canceled"' in response.content.decode()


def test_a_submission_answers_its_cards_and_leaves_the_page_alone(owner_client):
    response = owner_client.post("/generate/", FORM, **SCRIPT)
    assert response.status_code == 201
    generation = Generation.objects.get()
    body = response.json()
    assert body["ids"] == [generation.pk]
    assert body["cards"].count("gen-skeleton") == 2  # one placeholder per image
    assert "<form" not in body["cards"]


def test_every_invalid_field_is_reported_at_once(owner_client):
    form = {**FORM, "width": 100000, "height": 100000, "steps": 1000}
    response = owner_client.post("/generate/", form, **SCRIPT)
    assert response.status_code == 200  # the errors, for the page to show
    errors = response.json()["errors"]
    assert {"width", "height", "steps"} <= set(errors), errors
    # The form's own checks and the model's are merged: a seed the form refuses and a size
    # the model refuses are both reported.
    response = owner_client.post("/generate/", {**form, "seed": "-1"}, **SCRIPT)
    assert {"width", "height", "steps", "seed"} <= set(response.json()["errors"])
    assert not Generation.objects.exists()


def test_a_provider_without_a_key_disables_generate_with_a_linked_callout(owner_client, owner):
    prefs = Preferences.for_user(owner)
    prefs.default_provider = "openai"
    prefs.save()
    body = owner_client.get("/generate/").content.decode()
    assert 'id="generate-button" disabled' in body
    assert 'id="key-callout"' in body and 'href="/settings/#provider-keys"' in body
    assert body.count("No API key for OpenAI") == 1

    # The server still refuses, and says the key is what is missing (the page shows the
    # callout instead of repeating the words).
    response = owner_client.post(
        "/generate/", {**FORM, "provider": "openai", "model": "gpt-image-2"}, **SCRIPT
    )
    assert response.status_code == 200 and response.json()["missing_key"] is True
    page = owner_client.post("/generate/", {**FORM, "provider": "openai", "model": "gpt-image-2"})
    html = page.content.decode()
    assert page.status_code == 400
    assert html.count("No API key for OpenAI") == 1 and 'href="/settings/#provider-keys"' in html


def test_generate_into_a_project_preselects_it_only_when_allowed(
    owner_client, owner, outsider, shared_project
):
    body = owner_client.get(f"/generate/?project={shared_project.pk}").content.decode()
    assert f'<option value="{shared_project.pk}" selected>' in body
    theirs = Project.objects.create(owner=outsider, name="Theirs")
    for raw in (str(theirs.pk), "nope", "9" * 40, ""):
        body = owner_client.get(f"/generate/?project={raw}").content.decode()
        assert "selected>Shared" not in body and "Theirs" not in body


def test_aspect_chips_for_every_model():
    offline = get_provider("offline").get_model("offline-shapes")
    chips = {chip.label: (chip.width, chip.height) for chip in aspect_chips(offline)}
    assert chips["1:1"] == (1024, 1024)
    for label, (width, height) in chips.items():
        ratio_w, ratio_h = map(int, label.split(":"))
        assert width * ratio_h == height * ratio_w  # exact ratios at sizes it accepts
        assert min(width, height) >= 64 and max(width, height) <= 2048
    assert {"3:2", "2:3", "16:9", "9:16"} <= set(chips)


def test_aspect_chips_of_a_fixed_size_model_are_its_sizes(owner_client):
    html = owner_client.get("/generate/model-info/?provider=openai&model=gpt-image-2")
    html = html.content.decode()
    assert 'data-width="1536" data-height="1024"' in html and ">3:2</button>" in html
    assert 'data-width="1024" data-height="1536"' in html and ">2:3</button>" in html


@pytest.mark.parametrize(
    ("query", "words"),
    [
        (
            "provider=offline&model=offline-shapes&width=512&height=512",
            "Free (runs on this server)",
        ),
        (
            "provider=openai&model=gpt-image-2&width=1024&height=1024",
            "$0.053 per image at 1024×1024, medium (billed per token)",
        ),
        (
            "provider=openai&model=gpt-image-2&width=1024&height=1024&param_quality=high",
            "$0.211 per image at 1024×1024, high",
        ),
        (
            "provider=fal&model=fal-ai/flux/dev&width=1024&height=1024",
            "$0.050 per image at 1024×1024 ($0.025 per megapixel, rounded up)",
        ),
        ("provider=replicate&model=stability-ai/sdxl&width=1024&height=1024", "per second"),
    ],
)
def test_the_price_line_is_true_for_every_model(owner_client, query, words):
    html = owner_client.get(f"/generate/price/?{query}").content.decode()
    assert words in html
    if "Free" not in words:
        assert 'href="/api/providers"' in html


def test_price_line_without_a_priced_size_gives_the_basis():
    fal = get_provider("fal")
    line = price_line(fal, fal.get_model("fal-ai/flux/dev"), None, None, {})
    assert line.text.startswith("$0.025 per megapixel")


def test_a_running_card_gives_an_estimate_from_the_models_recent_runs(owner_client, owner):
    from datetime import timedelta

    from django.utils import timezone

    now = timezone.now()
    for _ in range(3):  # the model's recent runs took 40 s each
        make_generation(
            owner,
            status=Status.SUCCEEDED,
            started_at=now - timedelta(minutes=5),
            finished_at=now - timedelta(minutes=5) + timedelta(seconds=40),
        )
    running = make_generation(owner, status=Status.RUNNING, started_at=now - timedelta(seconds=10))
    card = owner_client.get(f"/generations/{running.pk}/status/").content.decode()
    assert "data-eta-ms=" in card
    assert "About 30 s left" in card or "About 29 s left" in card
