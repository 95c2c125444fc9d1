"""Images in, from the gallery (issue #16), as a person does it at 1366 × 900 and 390 × 844 in
both themes: upload with the Upload button (one good file, one refused with the server's
words), drop a file on the gallery, find the "Uploaded" mark and the Origin filter, run
Upscale ×2 from the action bar's "Edit and more" menu after it showed the price ("free" on the
offline provider), open the result from the toast and walk its lineage in the lightbox ("Made
from" the upload, whose "Used in" lists the result). axe-core finds nothing serious, and
nothing scrolls sideways."""

import base64

import pytest

from gallery.models import Image
from tests.browser.helpers import signed_in_page, wait_until
from tests.gallery.factories import image_bytes, make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

KEYS = ("OPENAI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENROUTER_API_KEY")
WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_page(new_page, live_server, client, owner):
    """open_page(viewport, theme) -> a signed-in page of the owner (the browser plugin's
    ``new_page``: a console error or CSP violation fails the test)."""

    def factory(viewport=WIDE, theme="dark"):
        return signed_in_page(
            new_page, live_server, client, owner, viewport, theme, color_scheme=theme
        )

    return factory


def no_sideways_scroll(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


DROP = """async ([name, data]) => {
  const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, {type: "image/png"}));
  const target = document.getElementById("grid");
  const fire = (type) => target.dispatchEvent(
    new DragEvent(type, {dataTransfer: transfer, bubbles: true, cancelable: true}));
  fire("dragenter");
  fire("dragover");
  const shown = !document.getElementById("drop-overlay").hidden;
  fire("drop");
  return shown;
}"""


# The refused upload answers 400, which Chrome logs as a failed resource.
@pytest.mark.allow_console(r"status of 400 \(Bad Request\) \(on http://[^ ]+/api/gallery/upload\)$")
@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1366", "390"])
def test_upload_upscale_and_walk_the_lineage(
    open_page, owner, viewport, theme, axe, screenshot, monkeypatch
):
    for variable in KEYS:
        monkeypatch.delenv(variable, raising=False)
    make_image(owner, prompt="a red fox in the snow", width=96, height=64)
    page = open_page(viewport, theme)
    name = f"{viewport['width']}-{theme}"
    phone = viewport is PHONE
    page.goto(f"{page.base}/gallery/")
    page.wait_for_selector("#grid .tile")

    # Upload with the button: one picture, one file that is not one.
    with page.expect_file_chooser() as chooser:
        page.click("#upload-button")
    picture = image_bytes("PNG", (64, 48))
    chooser.value.set_files(
        [
            {"name": "harbour.png", "mimeType": "image/png", "buffer": picture},
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"just some words"},
        ]
    )
    page.wait_for_selector('#uploads-title:has-text("1 image uploaded, 1 file refused")')
    error = page.locator(".upload-row.is-failed .upload-error")
    assert "not a PNG, JPEG or WebP image" in error.inner_text()
    assert page.locator(".upload-row.is-done").count() == 1
    uploaded = Image.objects.get(origin="upload", title="harbour")
    tile = page.locator(f'#grid .tile[data-id="{uploaded.pk}"]')
    tile.wait_for()
    assert tile.locator(".tile-origin").inner_text() == "Uploaded"
    page.wait_for_selector('#toasts .toast:has-text("1 image uploaded")')
    assert no_sideways_scroll(page)
    assert axe(page) == []
    screenshot(page, f"gallery-ops-uploaded-{name}")
    page.click("#uploads-close")

    # Drop a file on the gallery: the page shows where to drop, then uploads it.
    dropped = base64.b64encode(image_bytes("PNG", (48, 48))).decode()
    assert page.evaluate(DROP, ["dropped.png", dropped]) is True
    page.wait_for_selector('#uploads-title:has-text("1 image uploaded")')
    assert page.is_hidden("#drop-overlay")
    dropped_image = Image.objects.get(origin="upload", title="dropped")
    page.locator(f'#grid .tile[data-id="{dropped_image.pk}"]').wait_for()

    # The Origin filter keeps only uploads, as a chip in the URL.
    page.click("#filters-toggle")
    page.select_option("#filter-origin", "upload")
    wait_until(page, "document.querySelectorAll('#grid .tile[data-id]').length === 2")
    assert "origin=upload" in page.url
    page.keyboard.press("Escape")
    chip = page.locator(".filter-chips .chip", has_text="Uploaded")
    assert chip.count() == 1

    # "Edit and more" on the upload's tile: the price first, then Upscale ×2 runs.
    if phone:
        tile.locator(".tile-more").click()
    else:
        tile.hover()
    tile.locator('[data-action="tools"]').click()
    menu = tile.locator('.ia-menu[aria-label="Edit and more"]')
    upscale = menu.locator('.ia-run[data-label="Upscale ×2"]')
    upscale.wait_for()
    assert menu.locator(f'a[href="/generate/?operation=edit&input={uploaded.pk}"]').count() == 2
    assert menu.locator(f'a[href="/generate/?operation=inpaint&input={uploaded.pk}"]').count()
    assert menu.locator(f'a[href="/generate/?operation=outpaint&input={uploaded.pk}"]').count()
    wait_until(
        page,
        "!document.querySelector('.tile .ia-run[data-label=\"Upscale ×2\"]')"
        ".hasAttribute('aria-disabled')",
    )
    assert upscale.locator(".ia-item-note").inner_text() == "128×96 · free"
    assert menu.locator('.ia-run[data-label="Upscale ×4"] .ia-item-note').inner_text() == (
        "256×192 · free"
    )
    removal = menu.locator('.ia-run[data-label="Remove background"]')
    assert removal.get_attribute("aria-disabled") == "true"
    assert removal.locator(".ia-item-note").inner_text() == (
        "Needs an API key for fal.ai or Replicate (Settings → Provider keys)."
    )
    assert no_sideways_scroll(page)
    assert axe(page) == []
    screenshot(page, f"gallery-ops-menu-{name}")
    upscale.click()
    ready = page.locator('#toasts .toast:has-text("Upscale ×2 is ready.")')
    ready.wait_for()
    result = Image.objects.exclude(origin="upload").get(generation__operation="upscale")
    assert (result.width, result.height) == (128, 96)

    # Open the result from the toast: its lineage says where it came from.
    ready.locator("a", has_text="Open it").click()
    page.wait_for_selector(f'#lightbox-details .details[data-id="{result.pk}"]')
    details = page.locator("#lightbox-details")
    made_from = details.locator(".lineage-group", has_text="Made from")
    assert (
        made_from.locator(f'a[data-open-image="{uploaded.pk}"]').inner_text().startswith("harbour")
    )
    assert details.locator(".details-operation").inner_text() == "Upscaled ×2"
    assert axe(page) == []
    screenshot(page, f"gallery-ops-result-{name}")

    # To the upload, which lists the result under "Used in"; and back.
    made_from.locator(f'a[data-open-image="{uploaded.pk}"]').click()
    page.wait_for_selector(f'#lightbox-details .details[data-id="{uploaded.pk}"]')
    assert page.evaluate("document.activeElement.id") == "lightbox-title"
    used_in = details.locator(".lineage-group", has_text="Used in")
    assert "Upscaled ×2" in used_in.locator(f'a[data-open-image="{result.pk}"]').inner_text()
    assert details.locator(".details-origin").inner_text().startswith("Uploaded")
    assert axe(page) == []
    screenshot(page, f"gallery-ops-source-{name}")
    used_in.locator(f'a[data-open-image="{result.pk}"]').click()
    page.wait_for_selector(f'#lightbox-details .details[data-id="{result.pk}"]')
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    assert no_sideways_scroll(page)


def tools_menu_open(open_page, owner, theme="dark"):
    """A 64×48 image's tile in the gallery at 1366 × 900, its "Edit and more" menu opened:
    the page and the tile."""
    image = make_image(owner, prompt="a small harbour", width=64, height=48)
    page = open_page(WIDE, theme)
    page.goto(f"{page.base}/gallery/")
    tile = page.locator(f'#grid .tile[data-id="{image.pk}"]')
    tile.hover()
    tile.locator('[data-action="tools"]').click()
    return page, tile


# The estimate answers 400 (the reason shown), which Chrome logs as a failed resource.
@pytest.mark.allow_console(
    r"status of 400 \(Bad Request\) \(on http://[^ ]+/api/generate/estimate\)$"
)
def test_a_refused_run_says_why_in_words(open_page, owner, settings):
    """An upscale over the pixel limit: the estimate's own words disable the item."""
    settings.MAX_IMAGE_PIXELS = 64 * 48 * 4 * 4 - 1  # ×4 of a 64×48 picture is one too many
    page, tile = tools_menu_open(open_page, owner)
    four = tile.locator('.ia-run[data-label="Upscale ×4"]')
    four.wait_for()
    wait_until(page, "!!document.querySelector('.ia-run[data-label=\"Upscale ×4\"][data-reason]')")
    reason = four.locator(".ia-item-note").inner_text()
    assert reason == "The result would be 256x192, over the 49,151-pixel limit."
    four.focus()
    page.keyboard.press("Enter")  # disabled: it says why instead of running
    page.wait_for_selector('#toasts .toast:has-text("pixel limit")')
    assert not Image.objects.filter(generation__operation="upscale").exists()


def test_a_paid_run_shows_its_estimated_price(open_page, owner, monkeypatch, screenshot):
    """With a Replicate key, background removal runs there: the menu shows its price before
    anything runs (nothing is clicked: no provider is called)."""
    for variable in KEYS:
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_test")
    page, tile = tools_menu_open(open_page, owner, "light")
    removal = tile.locator('.ia-run[data-label="Remove background"]')
    removal.wait_for()
    assert removal.get_attribute("data-provider") == "replicate"
    wait_until(
        page,
        "!document.querySelector('.ia-run[data-label=\"Remove background\"]')"
        ".hasAttribute('aria-disabled')",
    )
    assert removal.locator(".ia-item-note").inner_text() == "64×48 · est. $0.01"
    assert "Replicate" in removal.get_attribute("title")
    screenshot(page, "gallery-ops-menu-paid-1366-light")
