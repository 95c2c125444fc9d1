"""Issue #17's "Done when", in one real browser: an admin adds a ComfyUI backend and a workflow
in the admin, a member generates through it with live progress, cancels one, and sees the GPU
time on the dashboard, all against the strict fake ComfyUI (tests/fakes/comfyui_server.py,
scenario ``slow``; its rules and their upstream sources are cited in that module).

The admin (a superuser, signed in through the admin's login form):

1. adds the GPU backend ``gpu-1`` (ComfyUI, the fake's URL, 0.001 USD per GPU-second, one job
   at a time); the admin's save health-checks it: "Checked gpu-1: it answers";
2. adds the workflow: uploads ComfyUI's default text-to-image graph (API format, written to
   a file) through the file input, with a field map naming a node the graph does not have
   first (the form says which field and which node), then with a good one.

The member (another browser context) generates through the Generate page with the workflow's
model, watches the bar rise, sees the image, starts a second job and cancels it while it runs,
then opens the dashboard: the GPU time card (``#gpu-time``, filled by the runner's own rollup
hook, generation/finish_hooks.py) and the GPU time columns.

Jobs run on threads of their own as on a worker (``background_jobs``, as in
tests/browser/test_comfyui_progress.py, where the form and bar reading helpers come from).

Along the way, the two admin change forms (backend, workflow) are shot at 1366 and 390 px in
light and dark (the admin's own theme switch, templates/admin/color_theme_toggle.html) into
/tmp/shots-admin/, and axe-core checks each: no serious or critical violation.

Every page fails the test on a CSP violation or a console error (the browser plugin)."""

import json
from decimal import Decimal
from pathlib import Path

import pytest

from generation.models import Generation, Status
from imagegen.providers.backends import Backend, BackendKind, Workflow
from settings_app.models import Preferences
from tests.browser.helpers import signed_in_page, wait_until
from tests.browser.test_comfyui_progress import (
    MODEL,
    progress_now,
    submit_through_the_form,
    watch_the_bar,
)
from tests.fakes.comfyui_server import FakeComfyUI, txt2img_workflow
from tests.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}
SHOTS = Path("/tmp/shots-admin")
STEPS = 20
STEP_SECONDS = 0.3  # 20 steps: a 6 s job
FIELDS = {
    "prompt": {"node": "6", "input": "text"},
    "seed": {"node": "3", "input": "seed"},
    "steps": {"node": "3", "input": "steps", "min": 1, "max": 50, "default": STEPS},
    "width": {"node": "5", "input": "width", "min": 256, "max": 1024, "multiple": 64,
              "default": 512},
    "height": {"node": "5", "input": "height", "min": 256, "max": 1024, "multiple": 64,
               "default": 512},
}  # fmt: skip
BAD_FIELDS = {**FIELDS, "prompt": {"node": "42", "input": "text"}}


@pytest.fixture
def fake_comfy():
    with FakeComfyUI(scenario="slow", options={"step_seconds": STEP_SECONDS}) as fake:
        yield fake


@pytest.fixture
def workflow_file(tmp_path):
    """ComfyUI's default text-to-image graph as the file its Export (API) saves."""
    path = tmp_path / "sd15_txt2img_api.json"
    path.write_text(json.dumps(txt2img_workflow(steps=STEPS), indent=2))
    return path


def admin_sign_in(new_page, live_server, user):
    """A page signed in through the admin's login (which is the site's /login/ page)."""
    page = new_page(WIDE["width"], WIDE["height"])
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.press("#id_password", "Enter")  # /admin/login/ leads to /login/
    page.wait_for_selector("#user-tools")
    return page


def errors_of(page, field):
    """The error texts Django's admin shows on ``field``'s row."""
    return page.locator(f".field-{field} .errorlist li").all_inner_texts()


def add_backend(page, base, url):
    page.goto(f"{base}/admin/generation/backend/add/")
    page.fill("#id_name", "gpu-1")
    page.select_option("#id_kind", "comfyui")
    page.fill("#id_base_url", url)
    page.fill("#id_price_per_gpu_second", "0.001")
    page.fill("#id_max_concurrent", "1")
    assert page.is_checked("#id_enabled")
    page.click("input[name=_save]")
    page.wait_for_selector(".messagelist")
    messages = page.locator(".messagelist li.success").all_inner_texts()
    assert any(m.startswith("Checked gpu-1: it answers") for m in messages), messages
    assert not page.locator(".messagelist li.warning").count()


def fill_workflow(page, workflow_file, fields):
    page.fill("#id_model_id", MODEL)
    page.fill("#id_label", "SD 1.5 text to image")
    page.select_option("#id_operation", "generate")
    page.set_input_files("#id_workflow_file", str(workflow_file))
    page.fill("#id_fields", json.dumps(fields, indent=2))
    page.click("input[name=_save]")


def add_workflow(page, base, workflow_file):
    page.goto(f"{base}/admin/generation/workflow/add/")
    # A field map naming a node the graph does not have: refused, on the form, with the node.
    fill_workflow(page, workflow_file, BAD_FIELDS)
    page.wait_for_selector(".errornote")
    assert errors_of(page, "fields") == ["Field prompt: node 42 is not in the workflow."]
    assert not Workflow.objects.exists()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "workflow-add-refused-1366-light.png"), full_page=True)
    # The same form, corrected (a refused form keeps no upload: choose the file again).
    fill_workflow(page, workflow_file, FIELDS)
    page.wait_for_selector(".messagelist")
    messages = page.locator(".messagelist li.success").all_inner_texts()
    assert any("was added successfully" in m for m in messages), messages


def set_admin_theme(page, theme):
    """Flip the admin's theme with its own switch until it is ``theme``."""
    if page.evaluate("document.documentElement.dataset.theme") != theme:
        page.click(".studio-theme-toggle")
        page.wait_for_load_state()
    assert page.evaluate("document.documentElement.dataset.theme") == theme


def shoot_admin_pages(page, base, axe, backend, workflow):
    """Both change forms at both widths in both themes: a full-page screenshot each; what
    axe-core finds serious or critical there, and a page wider than the screen, by shot."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pages = {
        "backend": f"{base}/admin/generation/backend/{backend.pk}/change/",
        "workflow": f"{base}/admin/generation/workflow/{workflow.pk}/change/",
    }
    found = {}
    for theme in ("light", "dark"):
        for name, url in pages.items():
            for viewport in (WIDE, PHONE):
                page.set_viewport_size(viewport)
                page.goto(url)
                set_admin_theme(page, theme)
                shot = f"{name}-change-{viewport['width']}-{theme}"
                page.screenshot(path=str(SHOTS / f"{shot}.png"), full_page=True)
                violations = axe(page)
                if violations:
                    found[shot] = violations
                wide = page.evaluate("document.documentElement.scrollWidth")
                if wide > viewport["width"] + 1:
                    found.setdefault(shot, []).append({"id": "page-wider-than-screen", "px": wide})
    page.set_viewport_size(WIDE)
    return found


def test_admin_adds_a_comfyui_backend_and_workflow_a_member_generates_cancels_and_sees_gpu_time(
    new_page,
    live_server,
    client,
    admin_user,
    member,
    fake_comfy,
    workflow_file,
    background_jobs,
    axe,
):
    base = live_server.url
    Preferences.objects.update_or_create(user=admin_user, defaults={"theme": "light"})

    # 1-2. The admin: the backend, then the workflow (a wrong field map first).
    admin = admin_sign_in(new_page, live_server, admin_user)
    add_backend(admin, base, fake_comfy.base_url)
    backend = Backend.objects.get(name="gpu-1")
    assert backend.kind == BackendKind.COMFYUI and backend.base_url == fake_comfy.base_url
    assert backend.price_per_gpu_second == Decimal("0.001") and backend.max_concurrent == 1
    assert backend.healthy and backend.last_checked_at is not None
    add_workflow(admin, base, workflow_file)
    workflow = Workflow.objects.get(model_id=MODEL)
    assert workflow.workflow == txt2img_workflow(steps=STEPS)  # what the file held
    assert workflow.fields == FIELDS and workflow.operation == "generate"
    # Judged at the end, so that the member's part runs whatever the admin pages' state.
    admin_page_problems = shoot_admin_pages(admin, base, axe, backend, workflow)

    # 3. The member generates through it and watches the bar.
    page = signed_in_page(new_page, live_server, client, member, WIDE, "dark")
    page.goto(f"{base}/generate/")
    pk = submit_through_the_form(page, "a lighthouse at dusk, oil on canvas")
    wait_until(page, f"document.querySelector('#generation-{pk} [role=progressbar]')")
    seen = watch_the_bar(page, pk, readings=6, until=70)
    rises = sum(1 for a, b in zip(seen, seen[1:], strict=False) if b > a)
    assert rises >= 2, f"the bar should rise at least twice while it runs: {seen}"
    assert seen == sorted(seen), seen
    page.wait_for_selector(f"#generation-{pk}[data-status=succeeded]", timeout=20_000)
    wait_until(
        page, f"document.querySelector('#generation-{pk} img.result-image')?.naturalWidth > 0"
    )
    assert "on gpu-1" in page.inner_text(f"#generation-{pk} .gen-meta")
    [sent] = fake_comfy.prompts
    assert sent["prompt"]["6"]["inputs"]["text"] == "a lighthouse at dusk, oil on canvas"

    # 4. A second job, canceled from its card while it runs.
    second = submit_through_the_form(page, "a red fox in the snow")
    wait_until(page, f"document.querySelector('#generation-{second} [role=progressbar]')")
    assert watch_the_bar(page, second, readings=2)[-1] > 0
    page.click(f"#generation-{second} .gen-cancel")
    page.wait_for_selector(f"#generation-{second}[data-status=canceled]", timeout=10_000)
    assert progress_now(page, second) is None
    assert page.locator(f"#generation-{second} .gen-canceled").count() == 1
    assert "canceled" in page.inner_text(f"#generation-{second}").lower()
    assert page.locator(f"#generation-{second} img.result-image").count() == 0
    for thread in background_jobs:
        thread.join(timeout=15)
    assert Generation.objects.get(pk=second).status == Status.CANCELED
    assert [i["applied"] for i in fake_comfy.interrupts] == [True]
    first = Generation.objects.get(pk=pk)
    assert first.status == Status.SUCCEEDED and first.gpu_seconds > 0
    assert first.cost_usd > 0  # GPU-seconds x 0.001

    # 5. The dashboard: GPU time, counted by the runner's rollup hook.
    page.goto(f"{base}/dashboard/")
    card = page.locator("#gpu-time .value")
    assert card.inner_text() not in ("", "—", "0.0 s"), card.inner_text()
    assert float(card.get_attribute("title").removesuffix(" s")) >= first.gpu_seconds
    headers = [h.strip() for h in page.locator("#usage-models thead th").all_text_contents()]
    assert "GPU time" in headers, headers
    row = page.locator("#usage-models tbody tr", has_text=MODEL)
    assert row.count() == 1 and "comfyui" in row.inner_text().lower()

    # The admin pages: no serious or critical axe-core violation, nothing wider than the screen.
    assert not admin_page_problems, json.dumps(admin_page_problems, indent=1)
