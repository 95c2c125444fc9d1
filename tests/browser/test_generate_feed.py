"""The Generate page in a real browser, at 1366×900 and 390×844 in both themes: the feed keeps
every card (new ones on top, a validation error touches only the fields), cards say why they
wait and update live, Cancel gives feedback, aspect chips set the size, a provider without a
key disables Generate, a resized prompt box survives a submit, no preview request goes out
for an empty prompt, nothing scrolls sideways on a phone, and axe finds nothing serious.

Every test fails on a CSP violation or a console error."""

import json

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Image
from generation import services
from generation.models import Generation, Status
from projects.models import Project
from settings_app.models import Preferences
from tests.generation.helpers import make_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"1366": WIDE, "390": PHONE}


class Session:
    """A signed-in page of one viewport and theme, from the browser plugin's ``new_page``
    (which fails the test on a console error or CSP violation), with its axe and screenshot
    helpers at hand."""

    def __init__(self, tools, live_server, client, user, viewport, theme="dark"):
        new_page, self._problems, self._axe, self._screenshot = tools
        prefs = Preferences.for_user(user)
        prefs.theme = theme
        prefs.save(update_fields=["theme"])
        client.force_login(user)
        self.page = new_page(viewport["width"], viewport["height"])
        self.context = self.page.context
        self.context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        self.url = live_server.url
        self.theme = theme

    def open(self, path="/generate/"):
        self.page.goto(self.url + path)
        self.page.wait_for_selector("#generate-form")
        return self.page

    def assert_clean(self):
        """No console error or CSP violation so far (the plugin checks again at the end)."""
        self.page.wait_for_timeout(50)
        assert self._problems.found == [], self._problems.found

    def axe(self):
        return self._axe(self.page)

    def shot(self, name):
        self._screenshot(self.page, f"generate-{name}")


@pytest.fixture
def session(new_page, page_problems, axe, screenshot, live_server, client, owner):
    tools = (new_page, page_problems, axe, screenshot)

    def make(viewport=WIDE, theme="dark", user=None):
        return Session(tools, live_server, client, user or owner, viewport, theme)

    return make


@pytest.fixture
def nothing_runs(monkeypatch):
    """Submissions stay queued (no job is handed to the queue), so a test sees them wait."""
    monkeypatch.setattr(services, "enqueue_generation", lambda generation_id: None)


def open_advanced(page):
    if not page.evaluate("document.querySelector('#advanced').open"):
        page.click("#advanced > summary")


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("size", ["1366", "390"])
def test_generate_three_while_two_run_see_five_cards_with_reasons_and_cancel_one(
    session, owner, nothing_runs, size, theme
):
    failed = make_generation(
        owner, status=Status.FAILED, prompt="a failed one", error="fal.ai: NSFW content detected"
    )
    for prompt in ("an older running fox", "a running owl"):
        make_generation(owner, status=Status.RUNNING, prompt=prompt)
    s = session(SIZES[size], theme)
    page = s.open()
    if size == "1366":
        s.shot(f"after-{size}-{theme}-empty-form")
    page.fill("#id_prompt", "a {red|green|blue} kite")
    page.click("#generate-button")
    page.wait_for_function("document.querySelectorAll('#feed .gen-card').length === 6")

    cards = page.locator("#feed .gen-card")
    statuses = [cards.nth(i).get_attribute("data-status") for i in range(6)]
    assert statuses == ["queued", "queued", "queued", "running", "running", "failed"]
    texts = [cards.nth(i).inner_text() for i in range(3)]
    # Newest on top: the third of the user's queue, then the second, then the first.
    assert "Queued: 3rd in your queue" in texts[0]
    assert "Queued: 2nd in your queue" in texts[1]
    assert "Queued: waiting for a free worker" in texts[2]
    assert "fal.ai: NSFW content detected" in page.locator(f"#generation-{failed.pk}").inner_text()
    # One placeholder per image, shaped like the requested size.
    assert page.locator("#feed .gen-card[data-status=queued] svg.gen-skeleton").count() == 3

    if size == "390":
        # The newest card is scrolled into view on a phone, below the form.
        # (a smooth scroll: wait for it to arrive)
        page.wait_for_function(
            "(() => { const top = document.querySelector('#feed .gen-card')"
            ".getBoundingClientRect().top; return top >= 0 && top < innerHeight; })()"
        )
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    s.shot(f"after-{size}-{theme}")

    # Cancel the newest: the card says so, and a toast confirms it.
    newest = Generation.objects.order_by("-pk").first()
    page.click(f"#generation-{newest.pk} .gen-cancel")
    page.wait_for_selector(f"#generation-{newest.pk}[data-status=canceled]")
    page.wait_for_selector(".toast:has-text('canceled')")
    assert Generation.objects.get(pk=newest.pk).status == Status.CANCELED
    assert page.locator("#feed .gen-card").count() == 6

    # A state change reaches the card through live.js's event: one GET for that card.
    oldest_new = Generation.objects.filter(prompt__endswith="kite").order_by("pk").first()
    Generation.objects.filter(pk=oldest_new.pk).update(status=Status.RUNNING)
    # (Its first event also ends the slow poll that stands in for live.js, so only the
    # requests the event asks for are made below.)
    page.evaluate(
        "(id) => document.dispatchEvent(new CustomEvent('imagegen:generation',"
        " {detail: {id: id, status: 'failed'}}))",
        failed.pk,
    )
    page.wait_for_timeout(500)
    asked = []
    page.on("request", lambda r: asked.append(r.url.removeprefix(s.url)))
    page.evaluate(
        "(id) => document.dispatchEvent(new CustomEvent('imagegen:generation',"
        " {detail: {id: id, status: 'running'}}))",
        oldest_new.pk,
    )
    page.wait_for_selector(f"#generation-{oldest_new.pk}[data-status=running]")
    page.wait_for_timeout(300)
    # That card, and the one still waiting (its place in the queue moved): not the feed.
    middle = Generation.objects.filter(prompt__endswith="kite", status=Status.QUEUED).get()
    assert sorted(asked) == sorted(
        f"/generations/{pk}/status/" for pk in (oldest_new.pk, middle.pk)
    ), asked
    # After a reconnect (imagegen:resync) every card still in flight is read again.
    Generation.objects.filter(pk=middle.pk).update(status=Status.FAILED, error="Out of credit")
    page.evaluate("document.dispatchEvent(new CustomEvent('imagegen:resync'))")
    page.wait_for_selector(f"#generation-{middle.pk}[data-status=failed]")
    assert "Out of credit" in page.inner_text(f"#generation-{middle.pk}")

    assert s.axe() == []
    s.assert_clean()


def test_validation_error_marks_every_field_and_keeps_the_feed(session, owner):
    make_generation(owner, status=Status.RUNNING, prompt="keep me in the feed")
    s = session()
    page = s.open()
    page.fill("#id_prompt", "far too big")
    open_advanced(page)
    page.fill("#id_width", "100000")
    page.fill("#id_height", "100000")
    page.click("#generate-button")
    page.wait_for_selector('.field-error[data-field="height"]:not([hidden])')
    assert "out of range" in page.inner_text('.field-error[data-field="width"]')
    assert "out of range" in page.inner_text('.field-error[data-field="height"]')
    assert page.get_attribute("#id_width", "aria-invalid") == "true"
    assert "keep me in the feed" in page.inner_text("#feed")
    assert page.input_value("#id_prompt") == "far too big"
    assert not Generation.objects.filter(prompt="far too big").exists()
    s.assert_clean()


def test_a_resized_prompt_box_keeps_its_height_after_a_submit(session, nothing_runs):
    s = session()
    page = s.open()
    # What dragging the resize handle does: the browser sets the element's height.
    page.evaluate("document.querySelector('#id_prompt').style.height = '260px'")
    page.fill("#id_prompt", "a tall prompt box")
    page.click("#generate-button")
    page.wait_for_selector("#feed .gen-card")
    height = page.evaluate("document.querySelector('#id_prompt').getBoundingClientRect().height")
    assert round(height) == 260
    s.assert_clean()


def test_no_preview_request_while_the_prompt_is_empty(session):
    s = session()
    page = s.open()
    previews = []
    page.on("request", lambda r: previews.append(r.url) if "variations" in r.url else None)
    page.click(".aspect-chip >> nth=1")
    page.select_option("#id_provider", "fal")
    page.wait_for_selector('.model-info[data-model^="fal-ai/"]')
    page.select_option("#id_provider", "offline")
    page.wait_for_selector('.model-info[data-model="offline-shapes"]')
    page.fill("#id_num_images", "2")
    page.fill("#id_prompt", "   ")
    page.wait_for_timeout(600)  # longer than the preview's debounce
    assert previews == []
    page.fill("#id_prompt", "a {red|blue} kite")  # the watcher above does see requests
    page.wait_for_function("document.querySelector('#variation-preview').dataset.count === '2'")
    assert previews
    s.assert_clean()


def test_missing_key_callout_disables_generate_and_enhance(session, monkeypatch):
    s = session()
    page = s.open()
    assert page.is_enabled("#generate-button")
    assert page.is_disabled("#enhance-button")  # no OpenRouter or OpenAI key for enhancing
    page.select_option("#id_provider", "openai")
    callout = page.locator("#key-callout")
    callout.wait_for()
    assert page.is_disabled("#generate-button")
    link = callout.locator("a")
    assert link.get_attribute("href") == "/settings/#provider-keys"
    assert "Settings → Provider keys" in link.inner_text()
    assert page.locator("text=No API key for OpenAI").count() == 1
    page.select_option("#id_provider", "offline")
    page.wait_for_selector('.model-info[data-model="offline-shapes"]')
    assert page.is_enabled("#generate-button") and callout.count() == 0
    s.assert_clean()


def test_aspect_chips_set_the_size_the_model_accepts(session):
    s = session()
    page = s.open()
    page.click(".aspect-chip:text-is('16:9')")
    assert (page.input_value("#id_width"), page.input_value("#id_height")) == ("1408", "792")
    assert page.get_attribute(".aspect-chip:text-is('16:9')", "aria-pressed") == "true"
    page.wait_for_function("document.querySelector('#price-line').textContent.includes('Free')")
    # A fixed-size model takes the size of the nearest ratio it lists (3:2 for 16:9).
    page.select_option("#id_provider", "openai")
    page.wait_for_selector('.model-info[data-model^="gpt-image"]')
    page.wait_for_function("document.querySelector('#id_width').value === '1536'")
    assert page.input_value("#id_height") == "1024"
    assert page.get_attribute(".aspect-chip:text-is('3:2')", "aria-pressed") == "true"
    page.wait_for_function(
        "document.querySelector('#price-line').textContent.includes('per image at 1536×1024')"
    )
    s.assert_clean()


def test_advanced_stays_as_this_user_left_it(session, outsider):
    s = session()
    page = s.open()
    assert not page.evaluate("document.querySelector('#advanced').open")
    page.click("#advanced > summary")
    page.reload()
    page.wait_for_selector("#generate-form")
    page.wait_for_function("document.querySelector('#advanced').open")
    other = session(user=outsider).open()  # another user (another browser) starts closed
    assert not other.evaluate("document.querySelector('#advanced').open")
    s.assert_clean()


@pytest.mark.parametrize("theme", ["dark", "light"])
def test_generate_into_a_project_and_axe_with_a_finished_card(
    session, owner, shared_project, theme, run_jobs_inline
):
    s = session(PHONE, theme)
    page = s.open(f"/generate/?project={shared_project.pk}")
    assert page.input_value("#id_project") == str(shared_project.pk)
    page.fill("#id_prompt", "a small lighthouse")
    page.click(".aspect-chip:text-is('3:2')")
    page.click("#generate-button")
    card = page.locator("#feed .gen-card").first
    card.wait_for()
    page.wait_for_selector("#feed .gen-card[data-status=succeeded] img.result-image")
    assert Generation.objects.get().project == shared_project
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    s.shot(f"after-390-{theme}-succeeded")
    assert s.axe() == []
    s.assert_clean()


@pytest.fixture
def run_jobs_inline(settings):
    """Jobs run inside the request (the test settings' sync queue, no threads): the card the
    submission answers is already finished."""
    settings.GENERATION_THREADS = 0
    settings.OFFLINE_PROVIDER_DELAY_MS = 0


TRUNCATED = """(selector) => {
  const select = document.querySelector(selector);
  const style = getComputedStyle(select);
  const context = document.createElement("canvas").getContext("2d");
  context.font = style.font;
  // The room for text: the box minus its padding and the drop-down arrow.
  const padding = parseFloat(style.paddingLeft) + parseFloat(style.paddingRight);
  const room = select.clientWidth - padding - 24;
  return Array.from(select.options).filter((o) => context.measureText(o.text).width > room)
    .map((o) => o.text);
}"""


@pytest.mark.parametrize("size", ["1366", "390"])
def test_selects_show_whole_names(session, size):
    s = session(SIZES[size], "light")
    page = s.open()
    assert page.evaluate(TRUNCATED, "#id_provider") == []
    for provider in ("openai", "openrouter", "replicate", "fal", "offline"):
        page.select_option("#id_provider", provider)
        page.wait_for_function(
            f"document.querySelector('#id_provider').value === '{provider}' && "
            "document.querySelector('#model-info .model-info') !== null && "
            "!document.querySelector('#model-info').classList.contains('htmx-request')"
        )
        page.wait_for_timeout(400)  # the model list and its info follow the provider
        assert page.evaluate(TRUNCATED, "#id_model") == [], provider
    page.select_option("#id_provider", "openai")
    page.locator("#key-callout").wait_for()
    open_advanced(page)
    page.fill("#id_prompt", "x")
    page.fill("#id_width", "5")
    page.click("#advanced > summary")  # closed again: the error reopens it
    page.evaluate("document.querySelector('#generate-button').disabled = false")
    page.click("#generate-button")
    page.wait_for_selector('.field-error[data-field="width"]:not([hidden])')
    assert page.evaluate("document.querySelector('#advanced').open")
    assert page.locator("text=No API key for OpenAI").count() == 1  # the callout, no repeat
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    s.shot(f"after-{size}-light-advanced-errors")
    assert s.axe() == []
    s.assert_clean()


def test_a_state_change_in_the_database_reaches_its_card_live(session, owner):
    """The whole way: a worker-style update (updated_at moves), the live watcher, the
    stream, live.js, the card's fragment."""
    generation = make_generation(owner, prompt="followed live")
    s = session()
    page = s.open()
    page.wait_for_selector(f"#generation-{generation.pk}[data-status=queued]")
    Generation.objects.filter(pk=generation.pk).update(
        status=Status.FAILED, error="Timed out", updated_at=timezone.now()
    )
    page.wait_for_selector(f"#generation-{generation.pk}[data-status=failed]")
    assert "Timed out" in page.inner_text(f"#generation-{generation.pk}")
    s.assert_clean()


@pytest.mark.parametrize("size", ["1366", "390"])
def test_favorite_add_to_project_and_download_from_the_result_in_four_clicks(
    session, owner, run_jobs_inline, size, tmp_path
):
    """Issue #15: generate → favorite → add to project → download in at most 4 clicks from
    the result card, with no page change. Every click the user makes is counted."""
    project = Project.objects.create(owner=owner, name="Posters")
    s = session(SIZES[size])
    page = s.open()
    page.fill("#id_prompt", "a paper crane")
    page.click("#generate-button")
    card = page.locator("#feed .gen-card[data-status=succeeded]").first
    card.locator("img.result-image").wait_for()
    url = page.url
    bar = card.locator("[data-image-actions]").first
    clicks = 0

    def click(locator):
        nonlocal clicks
        clicks += 1
        locator.click()

    click(bar.locator('[data-action="favorite"]'))
    page.wait_for_selector('#toasts .toast:has-text("favorites")')
    click(bar.locator('[data-action="project"]'))
    click(bar.locator(f'.ia-menu [data-project="{project.pk}"]'))
    page.wait_for_selector('#toasts .toast:has-text("Posters")')
    with page.expect_download() as caught:
        click(bar.locator('[data-action="download"]'))
    assert clicks <= 4
    assert page.url == url  # no page change

    image = Image.objects.get()
    assert image.favorite is True and image.project_id == project.pk
    saved = tmp_path / caught.value.suggested_filename
    caught.value.save_as(saved)
    assert caught.value.suggested_filename.endswith(f"-a-paper-crane-{image.pk}.png")
    assert json.loads(PILImage.open(saved).info["imagegen"])["prompt"] == "a paper crane"
    s.assert_clean()
