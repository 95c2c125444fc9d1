"""The Generate page's image inputs in a real browser (issue #16): upload a file into the
input tray, paint a mask with the mouse, inpaint with the offline provider and see the result
card with its lineage, at 1366 and 390 px in both themes (axe: nothing serious); the tray's
other ways in (the gallery picker with search, paste, a gallery image dropped from another
tab), reordering and removing with the keyboard, a refused upload said in words; the mask
editor's keyboard shortcuts, undo/redo, invert and eraser; ``?operation=outpaint&input=…``.

Every test fails on a CSP violation or a console error (the browser plugin's ``new_page``)."""

import io
import random

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageDraw

from gallery.models import GenerationInput, Image, Origin
from generation.models import Generation, Status
from settings_app.models import Preferences
from tests.gallery.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SIZES = {"1366": WIDE, "390": PHONE}


def picture(width=320, height=240, seed=3) -> bytes:
    """A small scene (sky, hills, a sun), so a screenshot shows what the mask covers."""
    rng = random.Random(seed)
    image = PILImage.new("RGB", (width, height), (120, 170, 230))
    draw = ImageDraw.Draw(image)
    draw.ellipse((width * 0.62, height * 0.1, width * 0.82, height * 0.37), fill=(250, 210, 80))
    for index in range(4):
        top = height * (0.45 + index * 0.12)
        colour = (40 + index * 20, 120 + rng.randrange(40), 60)
        draw.polygon(
            [(0, height), (0, top), (width * 0.5, top - 30), (width, top), (width, height)],
            fill=colour,
        )
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@pytest.fixture
def run_jobs_inline(settings):
    """Jobs run inside the request (the test settings' sync queue): the card the submission
    answers is already finished."""
    settings.GENERATION_THREADS = 0
    settings.OFFLINE_PROVIDER_DELAY_MS = 0


@pytest.fixture
def open_page(new_page, live_server, client, owner):
    """``open_page(path, viewport, theme)``: a signed-in page of the owner at ``path``."""

    def make(path="/generate/", viewport=WIDE, theme="dark"):
        prefs = Preferences.for_user(owner)
        prefs.theme = theme
        prefs.save(update_fields=["theme"])
        client.force_login(owner)
        page = new_page(viewport["width"], viewport["height"])
        page.context.add_cookies(
            [
                {
                    "name": "sessionid",
                    "value": client.cookies["sessionid"].value,
                    "url": live_server.url,
                }
            ]
        )
        page.goto(live_server.url + path)
        page.wait_for_selector("#generate-form")
        page.wait_for_function("window.ImagegenInputs && window.ImagegenMaskEditor")
        return page

    return make


def choose(page, operation):
    page.click(f'.segment[data-operation="{operation}"]')
    page.wait_for_function(
        f"document.querySelector('#generate-form').dataset.operation === '{operation}'"
    )


def tray_ids(page) -> list[str]:
    return page.eval_on_selector_all(
        "#tray-list input[name=input_images]:not([disabled])", "inputs => inputs.map(i => i.value)"
    )


def paint(page, strokes):
    """Drag the mouse over the stage for each stroke ((x0, y0), (x1, y1)), in fractions of
    the picture as shown; the picture's box comes from the editor's fitted view."""
    box = page.locator("#me-canvas").bounding_box()
    for (x0, y0), (x1, y1) in strokes:
        page.mouse.move(box["x"] + box["width"] * x0, box["y"] + box["height"] * y0)
        page.mouse.down()
        for step in range(1, 11):
            t = step / 10
            page.mouse.move(
                box["x"] + box["width"] * (x0 + (x1 - x0) * t),
                box["y"] + box["height"] * (y0 + (y1 - y0) * t),
            )
        page.mouse.up()


def status(page) -> str:
    return page.inner_text("#me-status")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize(
    ("size", "theme"), [("1366", "dark"), ("1366", "light"), ("390", "dark"), ("390", "light")]
)
def test_upload_paint_a_mask_inpaint_and_see_the_lineage(
    open_page, owner, run_jobs_inline, tmp_path, axe, screenshot, size, theme
):
    page = open_page(viewport=SIZES[size], theme=theme)
    choose(page, "inpaint")
    assert page.is_visible("#input-tray") and page.is_visible("#mask-panel")
    assert page.inner_text("#generate-button") == "Inpaint"
    assert not page.is_visible("[data-section=size]")  # the size follows the input

    file = tmp_path / "hills.png"
    file.write_bytes(picture())
    page.set_input_files("#tray-files", str(file))
    page.wait_for_selector("#tray-list .tray-item[data-id]")
    page.wait_for_selector('#toasts .toast:has-text("Uploaded 1 image")')
    upload = Image.objects.get(origin=Origin.UPLOAD)
    assert tray_ids(page) == [str(upload.pk)]
    assert page.inner_text("#tray-count") == "1 of 1"
    screenshot(page, f"generate-inputs-{size}-{theme}-tray")

    # The mask editor: paint a band across the middle with the mouse.
    page.click("#mask-open")
    page.wait_for_selector("#mask-editor[open]")
    page.wait_for_selector("#me-loading", state="hidden")
    assert "Nothing painted yet" in status(page)
    paint(page, [((0.3, 0.5), (0.7, 0.5))])
    page.wait_for_function("document.querySelector('#me-status').textContent.includes('covers')")
    screenshot(page, f"generate-inputs-{size}-{theme}-mask-editor")
    assert axe(page) == []
    page.click('[data-me="done"]')
    page.wait_for_selector("#mask-editor", state="hidden")
    assert "covers" in page.inner_text("#mask-status")
    assert page.inner_text("#mask-open") == "Change the mask"

    page.fill("#id_prompt", "a wooden door")
    page.click("#generate-button")
    card = page.locator("#feed .gen-card[data-status=succeeded]").first
    card.locator("img.result-image").wait_for()
    generation = Generation.objects.get(operation="inpaint")
    assert generation.status == Status.SUCCEEDED
    # The card says what it did and what from, the input's thumbnail linked.
    assert "Inpaint" in card.inner_text() and f"#{upload.pk}" in card.inner_text()
    assert card.locator(f'.gen-input[href="/files/images/{upload.pk}"] img').count() == 1
    assert "with a painted mask" in card.inner_text()

    # The mask went as a PNG at the input's own size: white where painted, black elsewhere.
    mask = GenerationInput.objects.get(generation=generation, role="mask")
    assert (mask.width, mask.height) == (upload.width, upload.height) == (320, 240)
    with default_storage.open(mask.file, "rb") as handle:
        pixels = PILImage.open(handle).convert("L")
        pixels.load()
    assert pixels.getpixel((160, 120)) == 255  # the middle of the band
    assert pixels.getpixel((5, 5)) == 0 and pixels.getpixel((315, 235)) == 0
    # The mask and the form survive: another inpaint of the same image needs no new painting.
    assert "covers" in page.inner_text("#mask-status")

    assert no_sideways_scroll(page)
    card.scroll_into_view_if_needed()
    screenshot(page, f"generate-inputs-{size}-{theme}-result")
    assert axe(page) == []


def test_mask_editor_shortcuts_undo_redo_invert_and_eraser(open_page, owner, screenshot):
    image = make_image(owner, data=picture(), title="hills")
    page = open_page(f"/generate/?operation=inpaint&input={image.pk}")
    # "Fix a part" lands in the open editor.
    page.wait_for_selector("#mask-editor[open]")
    page.wait_for_selector("#me-loading", state="hidden")
    pressed = "document.querySelector('[data-tool=\"{}\"]').getAttribute('aria-pressed')"
    assert page.evaluate(pressed.format("brush")) == "true"

    size = lambda: int(page.input_value("#me-size"))  # noqa: E731
    before = size()
    page.keyboard.press("]")
    assert size() > before
    page.keyboard.press("[")
    page.keyboard.press("[")
    assert size() < before

    paint(page, [((0.2, 0.3), (0.8, 0.3))])
    page.wait_for_function("document.querySelector('#me-status').textContent.includes('covers')")
    painted = status(page)
    page.keyboard.press("Control+z")
    page.wait_for_function("document.querySelector('#me-status').textContent.includes('Undone')")
    assert "Nothing painted yet" in status(page)
    page.keyboard.press("Control+Shift+z")
    page.wait_for_function("document.querySelector('#me-status').textContent.includes('Redone')")
    assert status(page).endswith(painted.split(". ")[-1])

    page.keyboard.press("i")
    page.wait_for_function("document.querySelector('#me-status').textContent.includes('Inverted')")
    inverted = float(page.evaluate("window.ImagegenMaskEditor.coverage()"))
    assert inverted > 0.5

    page.keyboard.press("e")
    assert page.evaluate(pressed.format("eraser")) == "true"
    assert page.evaluate(pressed.format("brush")) == "false"
    paint(page, [((0.1, 0.8), (0.9, 0.8))])
    page.wait_for_function(f"window.ImagegenMaskEditor.coverage() < {inverted}")
    page.keyboard.press("b")
    assert page.evaluate(pressed.format("brush")) == "true"

    zoom = page.inner_text("#me-zoom")
    page.click('[data-me="zoom-in"]')
    assert page.inner_text("#me-zoom") != zoom
    page.mouse.wheel(0, 300)  # the wheel zooms too
    page.keyboard.press("0")
    assert page.inner_text("#me-zoom") == zoom

    # Esc closes the editor and nothing else (the page's Esc cancels a running generation);
    # opened on arrival, it leaves the focus in the prompt, the next thing to fill in.
    page.keyboard.press("Escape")
    page.wait_for_selector("#mask-editor", state="hidden")
    assert page.evaluate("document.activeElement.id") == "id_prompt"
    assert "covers" in page.inner_text("#mask-status")
    page.click("#mask-open")  # opened from its button, it gives the focus back to it
    page.wait_for_selector("#mask-editor[open]")
    page.keyboard.press("Escape")
    page.wait_for_selector("#mask-editor", state="hidden")
    assert page.evaluate("document.activeElement.id") == "mask-open"
    screenshot(page, "generate-inputs-1366-dark-mask-panel")


# Provoked on purpose: another user's image id is a 404, a broken file a 400.
@pytest.mark.allow_console(
    r"status of 404 \(Not Found\) \(on http://[^ ]+/api/gallery/\d+\)$",
    r"status of 400 \(Bad Request\) \(on http://[^ ]+/api/gallery/upload\)$",
)
def test_the_tray_takes_picks_pastes_drops_reorders_and_removes(
    open_page, owner, outsider, tmp_path, axe, screenshot
):
    fox = make_image(owner, prompt="a red fox in snow", title="fox")
    owl = make_image(owner, prompt="an owl at night", title="owl")
    theirs = make_image(outsider, prompt="not yours")
    page = open_page()
    assert page.evaluate("document.querySelector('#generate-form').dataset.operation") == "generate"
    assert not page.is_visible("#input-tray")

    # The gallery picker (it switches Generate to Edit): search, choose, add.
    choose(page, "edit")
    page.click("#tray-pick")
    page.wait_for_selector("#image-picker[open]")
    page.wait_for_selector(f'.picker-item[data-id="{fox.pk}"]')
    assert page.locator(f'.picker-item[data-id="{theirs.pk}"]').count() == 0
    page.fill("#picker-q", "owl")
    page.wait_for_function(
        f"document.querySelectorAll('.picker-item').length === 1 && "
        f"document.querySelector('.picker-item[data-id=\"{owl.pk}\"]')"
    )
    page.click(f'.picker-item[data-id="{owl.pk}"]')
    assert page.get_attribute(f'.picker-item[data-id="{owl.pk}"]', "aria-pressed") == "true"
    assert page.inner_text("#picker-add") == "Add"
    screenshot(page, "generate-inputs-1366-dark-picker")
    assert axe(page) == []
    page.click("#picker-add")
    page.wait_for_selector("#image-picker", state="hidden")
    assert tray_ids(page) == [str(owl.pk)]

    # A gallery image dropped from another tab (the gallery's drag data: its ids).
    page.evaluate(
        """([ids]) => {
          const data = new DataTransfer();
          data.setData("application/x-image-ids", JSON.stringify(ids));
          data.effectAllowed = "move";
          const target = document.querySelector("#id_prompt");
          const init = {bubbles: true, cancelable: true, dataTransfer: data};
          target.dispatchEvent(new DragEvent("dragover", init));
          target.dispatchEvent(new DragEvent("drop", init));
        }""",
        [[fox.pk]],
    )
    page.wait_for_function("document.querySelectorAll('#tray-list .tray-item').length === 2")
    assert tray_ids(page) == [str(owl.pk), str(fox.pk)]

    # Another user's image id dropped: refused in words, nothing added.
    page.evaluate(
        """([url]) => {
          const data = new DataTransfer();
          data.setData("text/uri-list", url);
          const init = {bubbles: true, cancelable: true, dataTransfer: data};
          document.body.dispatchEvent(new DragEvent("drop", init));
        }""",
        [f"/files/images/{theirs.pk}"],
    )
    page.wait_for_selector(f'#toasts .toast:has-text("Not an image you can use: #{theirs.pk}")')
    assert len(tray_ids(page)) == 2

    # A pasted image (Ctrl/Cmd+V of a file) is uploaded, then added.
    page.evaluate(
        """async ([bytes]) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "image.png", {type: "image/png"}));
          const init = {bubbles: true, cancelable: true, clipboardData: data};
          document.dispatchEvent(new ClipboardEvent("paste", init));
        }""",
        [list(picture(64, 48))],
    )
    page.wait_for_function("document.querySelectorAll('#tray-list .tray-item').length === 3")
    pasted = Image.objects.get(origin=Origin.UPLOAD)
    assert tray_ids(page) == [str(owl.pk), str(fox.pk), str(pasted.pk)]

    # Drag to reorder (a mouse): the pasted image first, then back to the end.
    page.drag_and_drop(
        f'.tray-item[data-id="{pasted.pk}"] .tray-thumb',
        f'.tray-item[data-id="{owl.pk}"] .tray-thumb',
    )
    page.wait_for_function(
        f"document.querySelector('#tray-list input[name=input_images]').value === '{pasted.pk}'"
    )
    assert tray_ids(page) == [str(pasted.pk), str(owl.pk), str(fox.pk)]
    page.focus(f'.tray-item[data-id="{pasted.pk}"] [data-tray-move="1"]')
    page.keyboard.press("Enter")
    page.keyboard.press("Enter")
    assert tray_ids(page) == [str(owl.pk), str(fox.pk), str(pasted.pk)]

    # Keyboard: move the fox first, remove the owl; focus stays on the tray.
    page.focus(f'.tray-item[data-id="{fox.pk}"] [data-tray-move="-1"]')
    page.keyboard.press("Enter")
    assert tray_ids(page) == [str(fox.pk), str(owl.pk), str(pasted.pk)]
    assert page.evaluate("document.activeElement.closest('.tray-item').dataset.id") == str(fox.pk)
    assert page.inner_text(f'.tray-item[data-id="{fox.pk}"] [data-role]') == "To edit"
    page.focus(f'.tray-item[data-id="{owl.pk}"] [data-tray-remove]')
    page.keyboard.press("Enter")
    assert tray_ids(page) == [str(fox.pk), str(pasted.pk)]
    assert page.inner_text("#tray-count") == "2 of 4"

    # A file the server refuses: its own words, and the tray as it was.
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but not really a picture")
    page.set_input_files("#tray-files", str(bad))
    page.wait_for_selector("#tray-error:not([hidden])")
    assert "broken.png" in page.inner_text("#tray-error")
    assert tray_ids(page) == [str(fox.pk), str(pasted.pk)]

    # Upscale takes one input: the others stay, marked unused, and are not sent.
    choose(page, "upscale")
    assert tray_ids(page) == [str(fox.pk)]
    assert page.inner_text(f'.tray-item[data-id="{pasted.pk}"] [data-role]') == "Not used"
    assert not page.is_visible("#id_prompt")
    page.click("#generate-button")
    page.wait_for_selector('#toasts .toast:has-text("Queued generation")')
    upscale = Generation.objects.get(operation="upscale")
    assert list(upscale.inputs.values_list("image_id", flat=True)) == [fox.pk]
    assert (upscale.width, upscale.height) == (fox.width * 2, fox.height * 2)


def test_outpaint_from_the_query_string_shows_its_result_size(open_page, owner, screenshot):
    image = make_image(owner, data=picture(320, 240))
    page = open_page(f"/generate/?operation=outpaint&input={image.pk}", PHONE, "light")
    assert page.is_visible("#outpaint-field") and not page.is_visible("#mask-panel")
    assert "320×240 becomes 427×240" in page.inner_text("#outpaint-result")  # 16:9
    page.click('.chip-radio:has-text("1:1")')
    assert "320×240 becomes 320×320 (40 px top, 40 px bottom)" in page.inner_text(
        "#outpaint-result"
    )
    page.click('.segment:has-text("By margins")')
    page.fill("#id_outpaint_left", "64")
    assert "384×240" in page.inner_text("#outpaint-result")
    assert no_sideways_scroll(page)
    screenshot(page, "generate-inputs-390-light-outpaint")
    # A model that does not outpaint: its own operations, and the form says why it changed.
    page.select_option("#id_provider", "openrouter")
    page.wait_for_function(
        "document.querySelector('#generate-form').dataset.operation === 'generate'"
    )
    visible = page.eval_on_selector_all(
        "#operation-picker .segment:not([hidden])", "els => els.map(e => e.dataset.operation)"
    )
    assert visible == ["generate", "edit"] and page.is_hidden("#input-tray")
    page.wait_for_selector('#toasts .toast:has-text("switched to Generate")')
    assert page.inner_text("#generate-button") == "Generate"
    # A model that only upscales shows its one operation, chosen, and the upscale's fields.
    page.select_option("#id_provider", "fal")
    upscaler = "fal-ai/seedvr/upscale/image"
    page.wait_for_selector(f'#id_model option[value="{upscaler}"]', state="attached")
    page.select_option("#id_model", upscaler)
    page.wait_for_function("document.querySelector('#generate-form').dataset.operation=='upscale'")
    visible = page.eval_on_selector_all(
        "#operation-picker .segment:not([hidden])", "els => els.map(e => e.dataset.operation)"
    )
    assert visible == ["upscale"] and page.is_visible("#operation-picker")
    assert page.is_visible("#scale-field") and page.is_hidden("#id_prompt")
    assert page.inner_text("#generate-button") == "Upscale"


def test_the_picker_on_a_phone(open_page, owner, axe, screenshot):
    images = [make_image(owner, data=picture(seed=n), title=f"hills {n}") for n in range(5)]
    page = open_page("/generate/?operation=edit", PHONE, "light")
    page.click("#tray-pick")
    page.wait_for_selector(f'.picker-item[data-id="{images[0].pk}"]')
    for image in images[:2]:
        page.click(f'.picker-item[data-id="{image.pk}"]')
    assert page.inner_text("#picker-add") == "Add 2 images"
    assert no_sideways_scroll(page)
    screenshot(page, "generate-inputs-390-light-picker")
    assert axe(page) == []
    page.click("#picker-add")
    page.wait_for_function("document.querySelectorAll('#tray-list .tray-item').length === 2")
    # In the tray in the order they were chosen.
    assert tray_ids(page) == [str(images[0].pk), str(images[1].pk)]
    page.set_input_files("#tray-files", [])  # nothing chosen: nothing happens
    page.wait_for_selector('#budget-notice:has-text("free")')  # priced with its inputs
    assert no_sideways_scroll(page)
    screenshot(page, "generate-inputs-390-light-edit-tray")
