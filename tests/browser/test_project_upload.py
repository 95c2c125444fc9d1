"""Uploading on a project's page puts the images into that project (an editor's too); a
viewer, who may not add images, has no Upload button."""

import io

import pytest
from PIL import Image as PILImage

from gallery.models import Image

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _png(colour) -> bytes:
    out = io.BytesIO()
    PILImage.new("RGB", (40, 30), colour).save(out, format="PNG")
    return out.getvalue()


def _login(page, live_server, client, user):
    client.force_login(user)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )


def test_an_editor_uploads_into_the_project(
    page, live_server, client, editor, shared_project, axe, screenshot
):
    _login(page, live_server, client, editor)
    page.goto(f"{live_server.url}/projects/{shared_project.pk}/")
    page.set_input_files(
        "#upload-input",
        files=[{"name": "harbour.png", "mimeType": "image/png", "buffer": _png((9, 99, 199))}],
    )
    page.wait_for_selector(".upload-row.is-done")
    page.wait_for_selector(".tile")
    image = Image.objects.get()
    assert (image.owner, image.project, image.origin) == (editor, shared_project, "upload")
    assert image.title == "harbour"
    axe(page)
    screenshot(page, "project-upload-1366")
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    screenshot(page, "project-upload-390")


def test_a_viewer_has_no_upload_button(page, live_server, client, viewer, shared_project):
    _login(page, live_server, client, viewer)
    page.goto(f"{live_server.url}/projects/{shared_project.pk}/")
    page.wait_for_selector("#grid", state="attached")
    assert page.locator("#upload-button").count() == 0
