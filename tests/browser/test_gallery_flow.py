"""A person filters the gallery, favorites and rates with the keyboard in the lightbox, and
moves images to a project in bulk and by drag-and-drop."""

import pytest

from gallery.models import Image
from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def log_in(page, client, live_server, user):
    client.force_login(user)
    cookie = client.cookies["sessionid"]
    page.context.add_cookies([{"name": "sessionid", "value": cookie.value, "url": live_server.url}])


def test_filter_favorite_with_the_keyboard_and_bulk_move(
    page, live_server, client, owner, settings
):
    first = make_image(owner, prompt="a red lighthouse", width=32, height=32)
    second = make_image(owner, prompt="a lighthouse at night", width=32, height=32)
    forest = make_image(owner, prompt="a blue forest", width=32, height=32)
    project = Project.objects.create(owner=owner, name="Moodboard")
    log_in(page, client, live_server, owner)

    page.goto(f"{live_server.url}/gallery/")
    page.wait_for_function("document.querySelectorAll('#grid .tile[data-id]').length === 3")
    page.fill("#filter-q", "lighthouse")
    page.wait_for_function("document.querySelectorAll('#grid .tile[data-id]').length === 2")
    assert page.locator(f'#grid .tile[data-id="{forest.pk}"]').count() == 0
    assert "q=lighthouse" in page.url

    # Lightbox: open the newest, favorite it with "f", step right, rate it with "4", close.
    page.click(f'.tile[data-id="{second.pk}"] .tile-open')
    page.wait_for_selector(f'#lightbox-details .details[data-id="{second.pk}"]')
    page.keyboard.press("f")
    page.wait_for_selector('#lightbox-details .details[data-favorite="true"]')
    page.keyboard.press("ArrowRight")
    page.wait_for_selector(f'#lightbox-details .details[data-id="{first.pk}"]')
    page.keyboard.press("4")
    page.wait_for_selector('#lightbox-details .details[data-rating="4"]')
    page.keyboard.press("Escape")
    page.wait_for_selector("#lightbox", state="hidden")
    assert Image.objects.get(pk=second.pk).favorite is True
    assert Image.objects.get(pk=first.pk).rating == 4
    assert page.locator(f'.tile[data-id="{second.pk}"].is-favorite').count() == 1

    # Selection mode: select both and move them to the project with the bulk bar.
    page.click("#select-toggle")
    page.check(f'.tile[data-id="{first.pk}"] .tile-select')
    page.check(f'.tile[data-id="{second.pk}"] .tile-select')
    page.wait_for_selector("#bulk-bar:not([hidden])")
    assert page.inner_text("#bulk-count") == "2"
    page.select_option("#bulk-project", str(project.pk))
    page.click('#bulk-bar button[data-bulk="move"]')
    page.wait_for_selector('#toasts .toast:has-text("2 images moved to Moodboard.")')
    assert set(Image.objects.filter(project=project).values_list("pk", flat=True)) == {
        first.pk,
        second.pk,
    }
    page.click('#bulk-bar button[data-bulk="done"]')

    # Drag the forest picture onto the project in the side panel.
    page.fill("#filter-q", "")
    page.wait_for_function("document.querySelectorAll('#grid .tile[data-id]').length === 3")
    page.locator(f'.tile[data-id="{forest.pk}"]').drag_to(
        page.locator(f'.project-drop[data-project="{project.pk}"]')
    )
    page.wait_for_selector('#toasts .toast:has-text("1 image moved to Moodboard.")')
    assert Image.objects.get(pk=forest.pk).project_id == project.pk
    page.screenshot(path=str(settings.STORAGE_DIR.parent / "gallery.png"))


def test_use_these_settings_opens_generate_prefilled(page, live_server, client, owner):
    image = make_image(owner, prompt="remix this lighthouse", width=64, height=64)
    log_in(page, client, live_server, owner)
    page.goto(f"{live_server.url}/gallery/")
    page.click(f'.tile[data-id="{image.pk}"] .tile-open')
    page.click('#lightbox-details [data-action="remix"]')
    page.wait_for_url(f"**/generate/?remix={image.pk}")
    assert page.input_value("#id_prompt") == "remix this lighthouse"
    assert page.input_value("#id_width") == "64"
