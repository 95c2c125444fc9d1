"""A ComfyUI job's progress bar moving in a real browser (issue #17), end to end: a strict
fake ComfyUI (tests/fakes/comfyui_server.py, scenario ``slow``) samples 20 steps of 0.3 s and
sends ComfyUI's WebSocket ``progress`` messages; the runner writes them to the generation about
twice a second; the live stream carries them to the Generate page, where the card's bar moves.

Set up as an admin would: a ComfyUI backend row pointed at the fake (health-checked, as the
admin's save does) and a workflow (ComfyUI's default text-to-image graph in API format) whose
field map offers prompt, seed, steps, width and height. Used as a member would: sign in, pick
ComfyUI and the workflow in the form, type a prompt, press Generate.

How jobs run here: the test settings run django-q in sync mode, so a submission would run its
generation inline inside the POST, and the page would get its answer only once the job is
over. In production a worker runs it while the page follows along; so the ``background_jobs``
fixture hands every enqueued job to a thread of its own (``generation.runner.execute``, what a
worker thread runs), joined when the test ends.

Screenshots of the running card at 1366 px, dark and light: /tmp/shots-comfy/.

Every test fails on a CSP violation or a console error (the browser plugin)."""

from pathlib import Path

import pytest

from generation import backends as generation_backends
from generation.models import Generation, Status
from imagegen.providers.backends import Backend, BackendKind, Workflow
from tests.browser.helpers import signed_in_page, wait_until
from tests.fakes.comfyui_server import FakeComfyUI, txt2img_workflow
from tests.selfhosted.helpers import wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE = {"width": 1366, "height": 900}
SHOTS = Path("/tmp/shots-comfy")
STEPS = 20
STEP_SECONDS = 0.3  # 20 steps: a 6 s job, about 12 progress writes
MODEL = "sd15-txt2img"
FIELDS = {
    "prompt": {"node": "6", "input": "text"},
    "seed": {"node": "3", "input": "seed"},
    "steps": {"node": "3", "input": "steps", "min": 1, "max": 50, "default": STEPS},
    "width": {"node": "5", "input": "width", "min": 256, "max": 1024, "multiple": 64},
    "height": {"node": "5", "input": "height", "min": 256, "max": 1024, "multiple": 64},
}


@pytest.fixture
def comfy():
    """A strict fake ComfyUI sampling slowly, a backend row for it and a workflow offered as
    the model ``MODEL``."""
    with FakeComfyUI(scenario="slow", options={"step_seconds": STEP_SECONDS}) as fake:
        backend = Backend.objects.create(
            kind=BackendKind.COMFYUI, name="gpu-1", base_url=fake.base_url
        )
        assert generation_backends.check_backend(backend), backend.last_error
        Workflow.objects.create(
            model_id=MODEL,
            label="SD 1.5 text to image",
            operation="generate",
            workflow=txt2img_workflow(steps=STEPS, text="placeholder"),
            fields=FIELDS,
        )
        yield fake


def submit_through_the_form(page, prompt):
    """Pick ComfyUI and the workflow, type the prompt and press Generate; the new card's id."""
    page.select_option("#id_provider", "comfyui")
    page.wait_for_selector(f'.model-info[data-model="{MODEL}"]')
    assert page.input_value("#id_model") == MODEL
    page.fill("#id_prompt", prompt)
    before = page.evaluate("document.querySelectorAll('#feed .gen-card').length")
    page.click("#generate-button")
    wait_until(page, f"document.querySelectorAll('#feed .gen-card').length > {before}")
    return int(page.get_attribute("#feed .gen-card", "data-id"))


def progress_now(page, pk):
    return page.evaluate(
        """(pk) => {
            const bar = document.querySelector(`#generation-${pk} [role=progressbar]`);
            return bar ? Number(bar.getAttribute("aria-valuenow")) : null;
        }""",
        pk,
    )


def watch_the_bar(page, pk, readings=6, until=None):
    """Read the bar's aria-valuenow every 0.4 s (``readings`` times, or until it reaches
    ``until``); the values seen, in order."""
    seen = []
    for _ in range(40):
        value = progress_now(page, pk)
        if value is not None:
            seen.append(value)
        if len(seen) >= readings or (until is not None and seen and seen[-1] >= until):
            break
        page.wait_for_timeout(400)
    return seen


def shoot_card(page, pk, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator(f"#generation-{pk}").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_a_comfyui_job_moves_its_bar_step_by_step_then_shows_its_image(
    new_page, live_server, client, member, comfy, background_jobs
):
    page = signed_in_page(new_page, live_server, client, member, WIDE, "dark")
    page.goto(live_server.url + "/generate/")
    pk = submit_through_the_form(page, "a lighthouse at dusk, oil on canvas")

    # The card gets its bar with the first value the runner writes.
    wait_until(page, f"document.querySelector('#generation-{pk} [role=progressbar]')")
    page.evaluate(
        "(pk) => { window.__samePage = true;"
        " document.getElementById(`generation-${pk}`).__sameCard = true; }",
        pk,
    )
    seen = watch_the_bar(page, pk, readings=6, until=70)
    shoot_card(page, pk, "comfy-running-1366-dark")
    rises = sum(1 for a, b in zip(seen, seen[1:], strict=False) if b > a)
    assert rises >= 2, f"the bar should rise at least twice while it runs: {seen}"
    assert seen == sorted(seen), f"the bar never goes back: {seen}"
    assert all(0 <= value <= 100 for value in seen)
    assert 0 < seen[-1] < 100
    state = page.evaluate(
        """(pk) => {
            const card = document.getElementById(`generation-${pk}`);
            const bar = card.querySelector("[role=progressbar]");
            return {label: bar.getAttribute("aria-label"),
                    fill: card.querySelector(".gen-progress-fill").getAttribute("width"),
                    now: bar.getAttribute("aria-valuenow"),
                    status: card.dataset.status, text: card.innerText,
                    same: card.__sameCard === true};
        }""",
        pk,
    )
    assert state["status"] == "running"
    assert state["fill"] == state["now"]  # the drawn bar is the announced value
    assert state["label"] == f"Generation {pk}: {state['now']} %"
    assert f"{state['now']} %" in state["text"]
    assert state["same"], "the bar should move in place, not by reading the card again"

    # The end: the card is read again, without its bar, with the image.
    page.wait_for_selector(f"#generation-{pk}[data-status=succeeded]", timeout=20_000)
    wait_until(
        page, f"document.querySelector('#generation-{pk} img.result-image')?.naturalWidth > 0"
    )
    assert progress_now(page, pk) is None
    assert page.evaluate("window.__samePage === true"), "nothing reloads the page"
    meta = page.inner_text(f"#generation-{pk} .gen-meta")
    assert "GPU" in meta and "on gpu-1" in meta

    generation = Generation.objects.get(pk=pk)
    assert generation.status == Status.SUCCEEDED and generation.provider == "comfyui"
    assert generation.model == MODEL and generation.backend.name == "gpu-1"
    assert generation.images.count() == 1
    # What ComfyUI was sent: the workflow with the typed prompt and the field defaults.
    [sent] = comfy.prompts
    graph = sent["prompt"]
    assert graph["6"]["inputs"]["text"] == "a lighthouse at dusk, oil on canvas"
    assert graph["3"]["inputs"]["steps"] == STEPS
    assert graph["3"]["inputs"]["seed"] == generation.seed
    assert graph["5"]["inputs"]["width"] == generation.width
    assert graph["5"]["inputs"]["height"] == generation.height
    assert comfy.interrupts == []


def test_the_cancel_button_stops_a_running_comfyui_job_and_interrupts_it(
    new_page, live_server, client, member, comfy, background_jobs
):
    page = signed_in_page(new_page, live_server, client, member, WIDE, "light")
    page.goto(live_server.url + "/generate/")
    pk = submit_through_the_form(page, "a red fox in the snow")
    wait_until(page, f"document.querySelector('#generation-{pk} [role=progressbar]')")
    seen = watch_the_bar(page, pk, readings=3)
    assert len(seen) == 3 and seen[-1] > seen[0], seen
    shoot_card(page, pk, "comfy-running-1366-light")

    page.click(f"#generation-{pk} .gen-cancel")
    page.wait_for_selector(f"#generation-{pk}[data-status=canceled]", timeout=10_000)
    assert progress_now(page, pk) is None
    assert page.locator(f"#generation-{pk} img.result-image").count() == 0
    assert page.locator(f"#generation-{pk} .gen-canceled").count() == 1

    for thread in background_jobs:
        thread.join(timeout=10)
    generation = Generation.objects.get(pk=pk)
    assert generation.status == Status.CANCELED
    assert not generation.images.exists()
    # The runner told ComfyUI to stop that very prompt, while it was running.
    [prompt_id] = comfy.accepted
    assert comfy.interrupts == [{"prompt_id": prompt_id, "applied": True}]
    # ComfyUI stopped sampling: its history records the interruption, not a finished image.
    wait_for(lambda: prompt_id in comfy.history)
    status = comfy.history[prompt_id]["status"]
    assert status["status_str"] == "error" and status["completed"] is False
    assert "execution_interrupted" in [event for event, _ in status["messages"]]


def test_fields_a_workflow_does_not_map_are_disabled(new_page, live_server, client, member, comfy):
    """The workflow maps no negative prompt: its box is disabled ("not used") while the
    workflow is chosen and comes back with the offline provider, which takes one."""
    page = signed_in_page(
        new_page, live_server, client, member, {"width": 1366, "height": 900}, "light"
    )
    page.goto(live_server.url + "/generate/")
    page.click("summary:has-text('Advanced')")
    page.fill("#id_negative_prompt", "blurry")
    page.select_option("#id_provider", "comfyui")
    page.wait_for_selector(f'.model-info[data-model="{MODEL}"]')
    box = page.locator("#id_negative_prompt")
    assert box.is_disabled() and box.get_attribute("placeholder") == "not used"
    assert box.input_value() == ""
    assert not page.locator("#id_seed").is_disabled()  # the workflow maps the seed
    page.select_option("#id_provider", "offline")
    page.wait_for_selector('.model-info[data-negative-prompt="true"]')
    assert not box.is_disabled() and box.get_attribute("placeholder") != "not used"
