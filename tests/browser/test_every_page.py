"""Every HTML page of the studio, at 1366 × 900 and 390 × 844, in the dark and the light
theme: no serious or critical axe-core violation, no sideways scroll at 390 px, no console
error or CSP violation (the ``new_page`` fixture fails the test on those), and a screenshot
of each under artifacts/screenshots/ (every-page-<page>-<width>-<theme>.png).

One browser for the run and one context per width and theme: the context visits the
signed-out pages, signs in through the login form and walks the rest.
"""

import pytest
from django.core.exceptions import PermissionDenied

from projects.models import Project
from settings_app.models import Preferences
from tests.gallery.factories import make_image
from tests.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"1366": (1366, 900), "390": (390, 844)}
THEMES = ("dark", "light")
MISSING = "/no/such/page/"
REFUSED = "/dashboard/?refused"  # answered 403 by the test (no page refuses a superuser)


@pytest.fixture
def studio(admin_user, settings):
    """A signed-up world to look at: a project with an image, so every page has content."""
    settings.ALLOW_SIGNUP = True
    project = Project.objects.create(owner=admin_user, name="Moodboard", description="spring")
    image = make_image(admin_user, prompt="a lighthouse at dusk", project=project)
    make_image(admin_user, prompt="a red fox in the snow")
    return {"project": project, "generation": image.generation}


def signed_in_pages(studio):
    return [
        ("generate", "/generate/", 200),
        ("gallery", "/gallery/", 200),
        ("projects", "/projects/", 200),
        ("project", f"/projects/{studio['project'].pk}/", 200),
        ("dashboard", "/dashboard/", 200),
        ("audit", "/audit/", 200),
        ("settings", "/settings/", 200),
        ("two-factor", "/settings/two-factor/", 200),
        ("generation", f"/generations/{studio['generation'].pk}/", 200),
        ("404", MISSING, 404),
        ("403", REFUSED, 403),
        ("admin", "/admin/", 200),
        ("admin-catalog", "/admin/generation/catalogmodel/", 200),
        ("admin-generations", "/admin/generation/generation/", 200),
        ("api-root", "/api/", 200),
    ]


def look_at(page, axe, screenshot, base, path, status, name, width):
    """Open ``path``; answer what is wrong with it (an empty list when nothing is)."""
    response = page.goto(base + path, wait_until="load")
    page.wait_for_load_state("domcontentloaded")
    page.wait_for_timeout(300)  # htmx's first swaps (the budget notice, the grid)
    problems = []
    if response.status != status:
        problems.append(f"answered {response.status}, expected {status}")
    for violation in axe(page):
        targets = ", ".join(str(node["target"]) for node in violation["nodes"])
        problems.append(
            f"axe {violation['impact']} {violation['id']}: {violation['help']} [{targets}]"
        )
    if width <= 390:
        scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if scroll > inner:
            problems.append(f"scrolls sideways: {scroll} px wide in {inner} px")
    screenshot(page, f"every-page-{name}")
    return problems


# Chrome logs the document's own error status; these two pages are visited for their status.
@pytest.mark.allow_console(
    rf"status of 404 \(Not Found\) \(on http://[^ ]+{MISSING}\)$",
    r"status of 403 \(Forbidden\) \(on http://[^ ]+/dashboard/\?refused\)$",
)
@pytest.mark.parametrize("theme", THEMES)
@pytest.mark.parametrize("size", VIEWPORTS)
def test_every_page_is_accessible_fits_and_logs_nothing(
    new_page, live_server, axe, screenshot, admin_user, studio, size, theme, monkeypatch
):
    from dashboard import views as dashboard_views

    width, height = VIEWPORTS[size]
    Preferences.objects.update_or_create(user=admin_user, defaults={"theme": theme})
    page = new_page(width=width, height=height, color_scheme=theme)
    base = live_server.url
    found = {}

    def check(name, path, status):
        problems = look_at(
            page, axe, screenshot, base, path, status, f"{name}-{size}-{theme}", width
        )
        if problems:
            found[name] = problems

    check("signup", "/signup/", 200)
    check("login", "/login/", 200)
    page.fill("#id_username", admin_user.username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.wait_for_url("**/generate/")
    assert page.evaluate("document.documentElement.dataset.theme") == theme

    real_render = dashboard_views.render

    def refusing_render(request, *args, **kwargs):
        if "refused" in request.GET:
            raise PermissionDenied
        return real_render(request, *args, **kwargs)

    monkeypatch.setattr(dashboard_views, "render", refusing_render)
    for name, path, status in signed_in_pages(studio):
        check(name, path, status)

    report = "\n".join(
        f"{name}: " + "\n    ".join(problems) for name, problems in sorted(found.items())
    )
    assert not found, f"{size} px, {theme} theme:\n{report}"
