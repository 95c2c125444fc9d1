"""The gallery as a person uses it, at 1366 x 900 and 390 x 844 in both themes: the image action
bar on a tile and in the lightbox, filters as chips in the URL (and the back button), selection
mode with a bulk toast, the lightbox (button, Esc, back gesture, swipe, focus in and back, its
controls on screen), new images arriving live, no sideways scroll, axe and the CSP."""

import datetime
import json

import pytest
from django.utils import timezone
from PIL import Image as PILImage

from gallery.models import Image
from projects.models import Project
from tests.browser.helpers import signed_in_page, wait_until
from tests.gallery.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture
def open_page(new_page, live_server, client, owner):
    """open_page(viewport, theme="dark", user=owner) -> a signed-in page, watched by the
    browser plugin's ``new_page`` (a console error or CSP violation fails the test)."""

    def factory(viewport=WIDE, theme="dark", user=None):
        page = signed_in_page(
            new_page, live_server, client, user or owner, viewport, theme, accept_downloads=True
        )
        page.context.grant_permissions(
            ["clipboard-read", "clipboard-write"], origin=live_server.url
        )
        return page

    return factory


def count_tiles(page) -> int:
    return page.locator("#grid .tile[data-id]").count()


def wait_tiles(page, n):
    wait_until(page, f"document.querySelectorAll('#grid .tile[data-id]').length === {n}")


def toast_with(page, text):
    page.wait_for_selector(f'#toasts .toast:has-text("{text}")')


def some_images(owner, n=6, **extra):
    sizes = [(64, 64), (96, 54), (54, 96), (80, 60), (60, 80), (128, 48)]
    return [
        make_image(
            owner,
            prompt=f"a red fox in snow {i}",
            width=sizes[i % 6][0],
            height=sizes[i % 6][1],
            **extra,
        )
        for i in range(n)
    ]


def test_action_bar_on_a_tile_in_four_clicks_and_in_the_lightbox(open_page, owner, tmp_path):
    project = Project.objects.create(owner=owner, name="Moodboard")
    older, image = some_images(owner, 2)
    page = open_page(WIDE)
    page.goto(f"{page.base}/gallery/")
    tile = page.locator(f'.tile[data-id="{image.pk}"]')
    bar = tile.locator("[data-image-actions]")
    tile.hover()

    # Favorite, add to project, download: four clicks, no page change.
    start_url = page.url
    clicks = 0
    bar.locator('[data-action="favorite"]').click()
    clicks += 1
    toast_with(page, "Added to favorites")
    bar.locator('[data-action="project"]').click()
    clicks += 1
    menu = bar.locator('.ia-menu[role="menu"]')
    menu.locator(f'[data-project="{project.pk}"]').click()
    clicks += 1
    toast_with(page, "Added to Moodboard")
    with page.expect_download() as caught:
        bar.locator('[data-action="download"]').click()
        clicks += 1
    assert clicks <= 4 and page.url == start_url
    download = caught.value
    day = f"{timezone.localtime(image.created_at):%Y-%m-%d}"
    assert download.suggested_filename == f"{day}-a-red-fox-in-snow-1-{image.pk}.png"
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    picture = PILImage.open(saved)
    assert json.loads(picture.info["imagegen"])["prompt"] == "a red fox in snow 1"
    image.refresh_from_db()
    assert image.favorite is True and image.project_id == project.pk
    assert bar.locator('[data-action="favorite"]').get_attribute("aria-pressed") == "true"

    # Rating by keyboard: open the menu, pick 4.
    bar.locator('[data-action="rating"]').focus()
    page.keyboard.press("Enter")
    page.wait_for_selector('.tile .ia-menu[aria-label="Rating"]:not([hidden])')
    page.keyboard.press("ArrowDown")  # from the checked "No rating" round to 5, then 4
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    toast_with(page, "Rated 4 of 5")
    assert Image.objects.get(pk=image.pk).rating == 4
    assert bar.locator('[data-action="rating"]').get_attribute("aria-label") == "Rating: 4 of 5"

    # Copy prompt.
    tile.hover()
    bar.locator('[data-action="copy"]').click()
    toast_with(page, "Prompt copied")
    assert page.evaluate("navigator.clipboard.readText()") == "a red fox in snow 1"

    # In the lightbox: the same bar, in sync with the tile.
    tile.locator(".tile-open").click()
    details = page.locator("#lightbox-details")
    details.locator('[data-action="favorite"][aria-pressed="true"]').wait_for()
    details.locator('[data-action="favorite"]').click()
    toast_with(page, "Removed from favorites")
    assert bar.locator('[data-action="favorite"]').get_attribute("aria-pressed") == "false"
    assert details.locator(".details-favorite").inner_text() == "No"
    details.locator('[data-action="project"]').click()
    page.locator('#lightbox-details .ia-menu [data-project=""]').click()
    toast_with(page, "Removed from its project")
    assert details.locator(".details-project").inner_text() == "—"
    with page.expect_download() as caught:
        details.locator('[data-action="download"]').click()
    assert caught.value.suggested_filename == f"{day}-a-red-fox-in-snow-1-{image.pk}.png"

    # Delete asks first; dismissing keeps the image, accepting deletes it and shows the next.
    page.once("dialog", lambda dialog: dialog.dismiss())
    details.locator('[data-action="delete"]').click()
    page.wait_for_timeout(200)
    assert Image.objects.filter(pk=image.pk).exists()
    page.once("dialog", lambda dialog: dialog.accept())
    details.locator('[data-action="delete"]').click()
    toast_with(page, "Image deleted")
    page.wait_for_selector(f'#lightbox-details .details[data-id="{older.pk}"]')
    assert not Image.objects.filter(pk=image.pk).exists()
    assert page.locator(f'.tile[data-id="{image.pk}"]').count() == 0


def test_a_viewer_sees_no_change_actions(open_page, owner, viewer, shared_project):
    make_image(owner, project=shared_project, prompt="shared fox")
    page = open_page(WIDE, user=viewer)
    page.goto(f"{page.base}/gallery/")
    actions = page.locator("#grid [data-image-actions] [data-action]")
    assert sorted(actions.evaluate_all("els => els.map(e => e.dataset.action)")) == [
        "copy",
        "download",
        "remix",
        "tools",
    ]


def test_filters_chips_url_round_trip_and_back(open_page, owner):
    some_images(owner, 3)
    make_image(owner, prompt="a lighthouse at night", favorite=True)
    make_image(owner, prompt="a lighthouse by day")
    page = open_page(WIDE)
    page.goto(f"{page.base}/gallery/")
    wait_tiles(page, 5)
    assert page.inner_text("#result-count") == "5 images"

    page.fill("#filter-q", "lighthouse")
    wait_tiles(page, 2)
    assert "q=lighthouse" in page.url
    assert page.inner_text("#result-count") == "2 images"

    page.click("#filters-toggle")
    assert page.get_attribute("#filters-toggle", "aria-expanded") == "true"
    page.select_option("#filter-favorite", "true")
    wait_tiles(page, 1)
    assert "favorite=true" in page.url and "q=lighthouse" in page.url
    page.keyboard.press("Escape")
    assert page.is_hidden("#filters-panel")
    chip = page.locator(".filter-chips .chip", has_text="Favorites")
    assert chip.count() == 1
    assert page.inner_text("#filters-toggle .count-badge") == "1"

    # The URL is the view: a fresh load shows the same.
    shared = page.url
    page.goto(shared)
    wait_tiles(page, 1)
    assert page.input_value("#filter-q") == "lighthouse"
    assert page.input_value("#filter-favorite") == "true"

    # Removing the chip widens the view; back restores the previous filter set.
    page.click('.chip-remove[data-remove-filter="favorite"]')
    wait_tiles(page, 2)
    assert "favorite" not in page.url
    page.go_back()
    wait_tiles(page, 1)
    assert "favorite=true" in page.url
    assert page.input_value("#filter-favorite") == "true"
    page.go_back()  # to before the favorites filter... and before the search
    page.go_back()
    wait_tiles(page, 5)

    # Filters that hide everything: say so, and offer to clear them.
    page.fill("#filter-q", "zebra")
    page.wait_for_selector("text=No images match these filters")
    page.click(".empty-state [data-clear-filters]")
    wait_tiles(page, 5)
    assert page.input_value("#filter-q") == ""


def test_selection_mode_and_a_bulk_toast(open_page, owner):
    first, second, third = some_images(owner, 3)
    page = open_page(WIDE)
    page.goto(f"{page.base}/gallery/")
    assert page.locator(".tile-select").first.is_hidden()  # no permanent checkboxes
    page.click("#select-toggle")
    page.wait_for_selector("#bulk-bar:not([hidden])")
    page.click(f'.tile[data-id="{first.pk}"] .tile-open')  # selects, does not open
    page.check(f'.tile[data-id="{second.pk}"] .tile-select')
    assert page.inner_text("#bulk-count") == "2"
    assert page.is_hidden("#lightbox")
    page.click('#bulk-bar button[data-bulk="favorite"]')
    toast_with(page, "2 images added to favorites.")
    assert set(Image.objects.filter(favorite=True).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    page.keyboard.press("Escape")
    page.wait_for_selector("#bulk-bar", state="hidden")
    assert page.locator(".tile-select").first.is_hidden()
    # The toast expires (page.js); no permanent "done" message is left in the page.
    assert page.locator("#bulk-message").count() == 0


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1366", "390"])
def test_lightbox_closes_by_button_esc_back_and_swipe_with_focus_restored(
    open_page, owner, viewport
):
    images = some_images(owner, 3)
    newest = images[-1]
    page = open_page(viewport)
    page.goto(f"{page.base}/gallery/")
    opener = page.locator(f'.tile[data-id="{newest.pk}"] .tile-open')

    def is_focused(locator):
        return locator.evaluate("el => el === document.activeElement")

    # Button.
    opener.click()
    page.wait_for_selector("#lightbox:not([hidden])")
    assert page.evaluate("document.activeElement.closest('#lightbox') !== null")
    page.wait_for_selector(f'#lightbox-details .details[data-id="{newest.pk}"]')
    if viewport is PHONE:
        # Every control inside the viewport, also scrolled to the details' end.
        for scroll in (0, 10_000):
            page.evaluate(f"document.getElementById('lightbox').scrollTop = {scroll}")
            for selector in (".lightbox-close", '[data-step="-1"]', '[data-step="1"]'):
                box = page.locator(f"#lightbox {selector}").bounding_box()
                assert box["x"] >= 0 and box["y"] >= 0, selector
                assert box["x"] + box["width"] <= viewport["width"], selector
                assert box["y"] + box["height"] <= viewport["height"], selector
        page.evaluate("document.getElementById('lightbox').scrollTop = 0")
    # Focus is trapped: many Tabs later it is still inside.
    for _ in range(25):
        page.keyboard.press("Tab")
    assert page.evaluate("document.getElementById('lightbox').contains(document.activeElement)")
    page.click("#lightbox .lightbox-close")
    page.wait_for_selector("#lightbox", state="hidden")
    assert is_focused(opener)

    # Esc.
    opener.click()
    page.wait_for_selector("#lightbox:not([hidden])")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    assert is_focused(opener)

    # The back gesture.
    gallery_url = page.url
    opener.click()
    page.wait_for_selector("#lightbox:not([hidden])")
    page.go_back()
    page.wait_for_selector("#lightbox", state="hidden")
    assert page.url == gallery_url and is_focused(opener)

    # Swipe left for the next image, down to close.
    opener.click()
    page.wait_for_selector(f'#lightbox-details .details[data-id="{newest.pk}"]')
    stage = page.locator(".lightbox-stage").bounding_box()
    x, y = stage["x"] + stage["width"] / 2, stage["y"] + stage["height"] / 2
    page.mouse.move(x + 80, y)
    page.mouse.down()
    page.mouse.move(x - 80, y, steps=4)
    page.mouse.up()
    page.wait_for_selector(f'#lightbox-details .details[data-id="{images[-2].pk}"]')
    page.mouse.move(x, y - 60)
    page.mouse.down()
    page.mouse.move(x, y + 60, steps=4)
    page.mouse.up()
    page.wait_for_selector("#lightbox", state="hidden")
    assert is_focused(page.locator(f'.tile[data-id="{images[-2].pk}"] .tile-open'))


def test_new_images_appear_at_the_top_live(open_page, owner):
    yesterday = timezone.now() - datetime.timedelta(days=1)
    old = make_image(owner, prompt="yesterday's fox", created_at=yesterday)
    page = open_page(WIDE)
    page.goto(f"{page.base}/gallery/")
    assert page.inner_text(".day-header") == "Yesterday"
    fresh = make_image(owner, prompt="a brand new fox")
    page.evaluate(
        "id => document.dispatchEvent(new CustomEvent('imagegen:image', {detail: {id}}))",
        fresh.pk,
    )
    page.wait_for_selector(f'#grid .tile[data-id="{fresh.pk}"]')
    order = page.locator("#grid > li.day-header, #grid > li.tile").evaluate_all(
        "els => els.map(e => e.dataset.id || e.textContent.trim())"
    )
    assert order == ["Today", str(fresh.pk), "Yesterday", str(old.pk)]
    assert page.inner_text("#result-count") == "2 images"


@pytest.mark.parametrize("theme", ["dark", "light"])
@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["1366", "390"])
def test_gallery_and_lightbox_look_right(open_page, owner, viewport, theme, axe, screenshot):
    yesterday = timezone.now() - datetime.timedelta(days=1)
    Project.objects.create(owner=owner, name="Moodboard")
    some_images(owner, 5, created_at=yesterday)
    some_images(owner, 7, rating=3)
    Image.objects.filter(pk__in=Image.objects.values("pk")[:3]).update(favorite=True)
    page = open_page(viewport, theme=theme)
    page.goto(f"{page.base}/gallery/?rating_min=1")
    page.click('.chip-remove[data-remove-filter="rating_min"]')
    wait_tiles(page, 12)
    name = f"{viewport['width']}-{theme}"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert axe(page) == []
    screenshot(page, f"gallery-gallery-{name}")

    # The bar on a tile (hover, or "…" on touch), the filters popover, selection mode.
    first = page.locator("#grid .tile").first
    first.locator(".tile-more").click()
    page.wait_for_timeout(300)  # the bar fades in
    screenshot(page, f"gallery-tile-actions-{name}")
    page.click("#filters-toggle")
    assert axe(page) == []
    screenshot(page, f"gallery-filters-{name}")
    page.keyboard.press("Escape")
    page.click("#select-toggle")
    page.locator("#grid .tile-select").nth(1).check()
    screenshot(page, f"gallery-select-{name}")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.keyboard.press("Escape")

    # The lightbox with its details and an open project picker.
    page.locator("#grid .tile-open").nth(1).click()
    page.wait_for_selector("#lightbox-details .details")
    assert axe(page) == []
    screenshot(page, f"gallery-lightbox-{name}")
    page.click('#lightbox-details [data-action="project"]')
    page.wait_for_selector(
        '#lightbox-details .ia-menu[aria-label="Move to project"] [role="menuitemradio"]'
    )
    assert axe(page) == []
    screenshot(page, f"gallery-lightbox-picker-{name}")
    page.keyboard.press("Escape")
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")

    # Empty states.
    page.fill("#filter-q", "zebra")
    page.wait_for_selector("text=No images match these filters")
    assert axe(page) == []
    screenshot(page, f"gallery-empty-{name}")
