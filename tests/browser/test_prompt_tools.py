"""The prompt tools on the Generate page, in a real browser: style picker with preview,
enhance-then-accept (against the fake OpenRouter), history autocomplete, variation count,
and the keyboard shortcuts."""

import pytest

from generation.models import Generation, HiddenPrompt, Status
from tests.fakes.openrouter_server import FakeOpenRouter
from tests.generation.helpers import make_generation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def generate_page(page, live_server, owner, client):
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/generate/")
    return page


def test_style_picker_previews_the_final_prompt_and_ctrl_enter_generates(generate_page):
    page = generate_page
    page.fill("#id_prompt", "a lighthouse at dusk")
    page.click("#advanced > summary")
    page.select_option("#id_style", label="Watercolor")
    preview = page.locator("#style-preview [data-final-prompt]")
    preview.wait_for()
    assert preview.inner_text().startswith("watercolor painting of a lighthouse at dusk,")
    assert "Negative: photo, 3d render" in page.locator("#style-preview").inner_text()

    page.fill("#id_width", "128")
    page.fill("#id_height", "128")
    page.focus("#id_prompt")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector(".status-panel[data-status=succeeded]")

    generation = Generation.objects.get()
    assert generation.style.key == "watercolor"
    assert generation.prompt_text == "a lighthouse at dusk"
    assert generation.prompt == preview.inner_text()


# The 18-combination prompt is refused by the preview on purpose (Chrome logs the 400).
@pytest.mark.allow_console(r"status of 400 .*/api/prompts/variations/preview")
def test_variation_count_is_previewed_and_fans_out(generate_page):
    page = generate_page
    page.click("#advanced > summary")
    page.fill("#id_width", "64")
    page.fill("#id_height", "64")
    page.fill("#id_prompt", "a {red|blue|green} kite")
    box = page.locator("#variation-preview")
    page.wait_for_function("document.querySelector('#variation-preview').dataset.count === '3'")
    assert box.inner_text().startswith("3 generations")

    page.fill("#id_prompt", "{a|b|c} {d|e|f} {g|h}")
    page.wait_for_selector("#variation-preview.error")
    assert "18 combinations" in box.inner_text()

    page.fill("#id_prompt", "a {red|blue} kite")
    page.click("button.primary")
    page.wait_for_function(
        "document.querySelectorAll('.status-panel[data-status=succeeded]').length === 2"
    )
    assert sorted(Generation.objects.values_list("prompt", flat=True)) == [
        "a blue kite",
        "a red kite",
    ]


# The test's bad key makes Enhance answer 400 on purpose (Chrome logs it).
@pytest.mark.allow_console(r"status of 400 .*/api/prompts/enhance")
def test_enhanced_prompt_replaces_the_prompt_only_when_accepted(
    generate_page, settings, monkeypatch
):
    page = generate_page
    with FakeOpenRouter() as fake:
        settings.OPENROUTER_BASE_URL = fake.base_url + "/api/v1"
        monkeypatch.setenv("OPENROUTER_API_KEY", "sk-or-v1-test-good")
        page.reload()  # Enhance is offered once there is a key to enhance with
        page.fill("#id_prompt", "a fox")
        page.click("#enhance-button")
        suggestion = page.locator("#enhance-result [data-enhance-text]")
        suggestion.wait_for()
        enhanced = "a fox, highly detailed, cinematic lighting, sharp focus"
        assert suggestion.inner_text() == enhanced
        assert page.input_value("#id_prompt") == "a fox"  # not replaced yet

        page.click("#enhance-dismiss")
        assert page.input_value("#id_prompt") == "a fox"

        page.click("#enhance-button")
        page.click("#enhance-accept")
        assert page.input_value("#id_prompt") == enhanced
        assert page.locator("#enhance-result").is_hidden()
        assert len(fake.requests) == 2

        fake.set_scenario("unauthorized")
        page.click("#enhance-button")
        error = page.locator("#enhance-error")
        error.wait_for()
        assert error.inner_text() == "OpenRouter rejected the API key: check it in Settings."


def test_history_autocomplete_fills_and_deletes(generate_page, owner):
    make_generation(owner, prompt="a red fox in snow", negative_prompt="blurry")
    make_generation(owner, prompt="an owl at night")
    page = generate_page
    page.fill("#id_prompt", "fox")
    item = page.locator("#history-suggestions li")
    item.first.wait_for()
    assert item.count() == 1 and "a red fox in snow" in item.first.inner_text()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    assert page.input_value("#id_prompt") == "a red fox in snow"
    assert page.input_value("#id_negative_prompt") == "blurry"
    assert page.locator("#history-suggestions").is_hidden()

    page.fill("#id_prompt", "owl")
    item.first.wait_for()
    page.click("#history-suggestions li .remove")
    page.wait_for_function("!document.querySelector('#history-suggestions li')")
    assert HiddenPrompt.objects.filter(owner=owner, prompt="an owl at night").exists()


def test_slash_focuses_the_prompt_and_question_mark_shows_the_help(generate_page):
    page = generate_page
    page.click("h1")
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "id_prompt"
    assert page.input_value("#id_prompt") == ""  # the slash was not typed

    page.click("h1")
    page.keyboard.press("?")
    help_dialog = page.locator("#shortcut-help")
    help_dialog.wait_for()
    assert "Ctrl" in help_dialog.inner_text() and "Esc" in help_dialog.inner_text()
    page.keyboard.press("Escape")
    assert help_dialog.is_hidden()


def test_escape_cancels_the_running_generation(generate_page, owner, settings):
    # The user is at their concurrency cap, so the new generation waits queued.
    for _ in range(settings.GENERATION_MAX_CONCURRENT):
        make_generation(owner, status=Status.RUNNING)
    page = generate_page
    page.fill("#id_prompt", "wait for me")
    page.click("#advanced > summary")
    page.fill("#id_width", "64")
    page.fill("#id_height", "64")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#feed .status-panel[data-status=queued]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#feed .status-panel[data-status=canceled]")
    assert Generation.objects.get(prompt="wait for me").status == Status.CANCELED


def test_shortcuts_preference_off_disables_ctrl_enter(page, live_server, owner, client):
    from settings_app.models import Preferences

    prefs = Preferences.for_user(owner)
    prefs.shortcuts_enabled = False
    prefs.save(update_fields=["shortcuts_enabled"])
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/generate/")
    assert page.get_attribute("body", "data-shortcuts") == "off"
    page.fill("#id_prompt", "no shortcuts please")
    page.focus("#id_prompt")
    page.keyboard.press("Control+Enter")
    page.wait_for_timeout(700)
    assert not Generation.objects.exists()


def test_history_search_keeps_the_typed_text_out_of_urls(generate_page, owner):
    make_generation(owner, prompt="a secret red fox")
    page = generate_page
    urls = []
    page.on("request", lambda r: urls.append(r.url))
    page.fill("#id_prompt", "secret")
    page.locator("#history-suggestions li").first.wait_for()
    assert not [url for url in urls if "secret" in url]


def test_variation_count_is_previewed_for_an_edit_of_tray_images(page, live_server, owner, client):
    """The preview sends the tray's images as a list of ids (a single string was a 400, so
    the count never showed for an image operation)."""
    from tests.gallery.factories import make_image

    image = make_image(owner, width=64, height=64)
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/generate/?operation=edit&input={image.pk}")
    page.fill("#id_prompt", "make it {red|blue}")
    page.wait_for_function("document.querySelector('#variation-preview').dataset.count === '2'")
    assert page.locator("#variation-preview").inner_text().startswith("2 generations")
