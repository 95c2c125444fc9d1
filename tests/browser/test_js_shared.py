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

    # A bulk action the server refuses: adding a blank tag.
    page.check(f'.tile[data-id="{image.pk}"] .tile-select')
    page.click('#bulk-bar button[data-bulk="add_tag"]')
    page.wait_for_function("document.querySelector('#bulk-message').textContent !== ''")
    assert page.inner_text("#bulk-message") == "tag: This field may not be blank."

    # The selection still downloads as a ZIP through the same wrapper.
    with page.expect_download() as download:
        page.click('#bulk-bar button[data-bulk="download"]')
    assert download.value.suggested_filename == "images.zip"

    # An edit the server refuses, with a nested field error: a tag over 200 characters.
    page.click(f'.tile[data-id="{image.pk}"] .tile-open')
    page.fill("#details-tags", "x" * 201)
    page.click(".details-edit button[type=submit]")
    message = page.locator(".details-edit .details-message")
    page.wait_for_function(
        "document.querySelector('.details-edit .details-message').textContent !== ''"
    )
    assert message.inner_text() == "tags.0: Ensure this field has no more than 200 characters."
    assert not script_errors
