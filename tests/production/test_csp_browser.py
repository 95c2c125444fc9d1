"""Pages work under the strict page CSP: using Generate, the gallery, projects, the dashboard,
settings and the API docs in Chromium logs no Content-Security-Policy violation."""

import pytest

from projects.models import Project
from tests.gallery.factories import make_image
from tests.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Playwright's init scripts run outside the page's CSP, so this listener always works.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline"));
});
"""


@pytest.fixture
def watched(page):
    """The page, recording CSP violations from events and from the console."""
    console = []
    page.on(
        "console",
        lambda m: (
            console.append(m.text)
            if "Content Security Policy" in m.text or "Refused to" in m.text
            else None
        ),
    )
    page.on("pageerror", lambda e: console.append(f"page error: {e}"))
    page.add_init_script(RECORD_VIOLATIONS)

    def violations():
        return console + page.evaluate("window.__csp || []")

    page.violations = violations
    return page


def test_generate_and_gallery_raise_no_csp_violation(watched, live_server, owner):
    page = watched
    project = Project.objects.create(owner=owner, name="Moodboard")
    make_image(owner, prompt="an older picture", project=project)
    page.goto(f"{live_server.url}/login/")
    assert "frame-ancestors 'none'" in page.evaluate(
        "fetch(location.href).then(r => r.headers.get('content-security-policy'))"
    )
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/generate/")

    # Generate: the form is sent by fetch, the card follows the generation, the image shows.
    page.fill("#id_prompt", "a lighthouse at dusk")
    page.click("#advanced > summary")
    page.fill("#id_width", "128")
    page.fill("#id_height", "128")
    page.click("#generate-button")
    page.wait_for_selector("#feed .gen-card[data-status=succeeded]", timeout=30_000)
    page.wait_for_function("document.querySelector('img.result-image')?.naturalWidth > 0")
    page.keyboard.press("?")  # the shortcut help (static JS)
    page.keyboard.press("Escape")

    # Gallery: filters, tiles, lightbox with the original image.
    page.goto(f"{live_server.url}/gallery/")
    page.wait_for_function("document.querySelectorAll('#grid .tile[data-id]').length === 2")
    page.fill("#filter-q", "lighthouse")
    page.wait_for_function("document.querySelectorAll('#grid .tile[data-id]').length === 1")
    page.click("#grid .tile[data-id] .tile-open")
    page.wait_for_selector("#lightbox-details .details[data-id]")
    page.keyboard.press("Escape")

    for path in ("/projects/", f"/projects/{project.pk}/", "/dashboard/", "/settings/"):
        page.goto(f"{live_server.url}{path}")
        page.wait_for_load_state("networkidle")
    assert page.violations() == []


def test_project_delete_asks_first_without_an_inline_handler(watched, live_server, owner, client):
    page = watched
    project = Project.objects.create(owner=owner, name="Keep me")
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.locator("details").first.evaluate("d => d.open = true")
    asked = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.click("text=Delete project")
    page.wait_for_timeout(300)
    assert asked == ["Delete this project?"]
    assert Project.objects.filter(pk=project.pk).exists()
    assert page.violations() == []


def test_api_docs_render_under_the_policy(watched, live_server, owner, client):
    page = watched
    client.force_login(owner)
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    # Its page's inline <style> is replaced by a file (templates/drf_spectacular/).
    assert page.violations() == []
