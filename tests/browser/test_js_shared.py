"""The page scripts share static/js/api.js (CSRF token, fetch wrapper, error wording) and take
every URL from the page: no script spells out an app path, and a refused request shows the
server's error in the words api.js gives it."""

import re
from pathlib import Path

import pytest

from tests.gallery.factories import make_image

SCRIPTS = Path(__file__).resolve().parents[2] / "static" / "js"
# The app's URL prefixes, and any string literal that starts like a path ("/api", '/files...).
HARD_CODED = re.compile(
    r"/(api|gallery|files|generate|projects|settings|dashboard)/"
    r"|[\"'`]/[A-Za-z]"
)


def test_no_script_hard_codes_a_url():
    scripts = sorted(SCRIPTS.glob("**/*.js"))
    assert scripts, f"no scripts under {SCRIPTS}"
    found = [
        f"{path.relative_to(SCRIPTS)}:{number}: {line.strip()}"
        for path in scripts
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if HARD_CODED.search(line)
    ]
    assert not found, "URLs belong in the templates ({% url %} in data- attributes):\n" + "\n".join(
        found
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
# The test provokes these refusals to see them shown (Chrome logs each 400).
@pytest.mark.allow_console(r"status of 400 .*/api/gallery/(bulk|\d+)")
def test_refused_gallery_requests_show_the_formatted_error(page, live_server, client, owner):
    image = make_image(owner, prompt="a lighthouse", width=32, height=32)
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    script_errors = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    page.goto(f"{live_server.url}/gallery/")

    # The shared wording, for the error bodies DRF gives.
    texts = page.evaluate("""() => [
        ImagegenApi.errorText({detail: "Nothing was changed.", ids: [1]}),
        ImagegenApi.errorText({title: ["Too long."], tags: {"0": ["Not a tag."]}}),
        ImagegenApi.errorText({non_field_errors: ["Pick one."]}),
        ImagegenApi.errorText(null, "Error 502"),
    ]""")
    assert texts == [
        "Nothing was changed.",
        "title: Too long.; tags.0: Not a tag.",
        "Pick one.",
        "Error 502",
    ]

    # A bulk action the server refuses: adding a blank tag (the error is a toast that stays).
    page.click("#select-toggle")
    page.check(f'.tile[data-id="{image.pk}"] .tile-select')
    page.click('#bulk-bar button[data-bulk="add_tag"]')
    error = page.locator("#toasts .toast.error")
    error.wait_for()
    assert error.locator(".toast-text").inner_text() == "tag: This field may not be blank."
    error.locator("button").click()

    # The selection still downloads as a ZIP through the same wrapper, named by the server.
    with page.expect_download() as download:
        page.click('#bulk-bar button[data-bulk="download"]')
    assert re.fullmatch(r"images-\d{8}-\d{6}\.zip", download.value.suggested_filename)
    page.click('#bulk-bar button[data-bulk="done"]')

    # An edit the server refuses, with a nested field error: a tag over 200 characters.
    page.click(f'.tile[data-id="{image.pk}"] .tile-open')
    page.click(".details-edit-box summary")
    page.fill("#details-tags", "x" * 201)
    page.click(".details-edit button[type=submit]")
    error.wait_for()
    assert error.locator(".toast-text").inner_text() == (
        "tags.0: Ensure this field has no more than 200 characters."
    )
    assert not script_errors
