"""ComfyUI as a provider, end to end against the strict fake (tests/fakes/comfyui_server.py):
an admin's workflow becomes a model showing exactly its mapped fields, a member generates
through it with live progress, cancels while it waits and while it runs, a failing node is
reported by name, inputs and masks are uploaded, the history is polled without a WebSocket,
GPU time comes from ComfyUI's own timestamps, and a dead backend hands the job over."""

import io
import json
from decimal import Decimal

import pytest
from PIL import Image as PILImage

from generation import runner
from generation.models import Generation, Status
from imagegen.providers.backends import Workflow
from tests.fakes.comfyui_server import FakeComfyUI, img2img_workflow, txt2img_workflow
from tests.gallery.factories import make_image

from .helpers import add_backend, priced, queued_job, run_in_thread, status_of, wait_for

pytestmark = pytest.mark.django_db

FIELDS = {
    "prompt": {"node": "6", "input": "text"},
    "negative_prompt": {"node": "7", "input": "text"},
    "seed": {"node": "3", "input": "seed"},
    "steps": {"node": "3", "input": "steps", "min": 1, "max": 40, "default": 8},
    "cfg_scale": {"node": "3", "input": "cfg", "min": 1, "max": 12},
    "sampler": {"node": "3", "input": "sampler_name", "choices": ["euler", "dpmpp_2m"]},
    "width": {"node": "5", "input": "width", "min": 256, "max": 1024, "multiple": 64},
    "height": {"node": "5", "input": "height", "min": 256, "max": 1024, "multiple": 64},
    "batch_size": {"node": "5", "input": "batch_size", "max": 2},
}


@pytest.fixture(scope="module")
def comfy_server():
    with FakeComfyUI() as server:
        yield server


@pytest.fixture
def comfy(comfy_server):
    comfy_server.reset()
    yield comfy_server
    assert comfy_server.server_errors == [], comfy_server.server_errors[-1]


def sdxl(**fields) -> Workflow:
    return Workflow.objects.create(
        model_id=fields.pop("model_id", "sdxl-base"),
        label=fields.pop("label", "SDXL base"),
        workflow=fields.pop("workflow", txt2img_workflow()),
        fields=fields.pop("fields", FIELDS),
        **fields,
    )


def submit(client, run_jobs, **payload):
    body = {"provider": "comfyui", "model": "sdxl-base", "prompt": "a red fox", **payload}
    generation_id = run_jobs(client, body).json()["id"]
    return client.get(f"/api/generation/{generation_id}").json()


def sent_graph(fake):
    return fake.prompts[-1]["prompt"]


def test_a_workflow_is_a_model_with_exactly_its_mapped_fields(comfy, owner_api):
    add_backend("comfyui", comfy)
    sdxl()
    sdxl(
        model_id="bare",
        label="Bare",
        fields={"prompt": {"node": "6", "input": "text"}},
    )
    providers = {p["name"]: p for p in owner_api.get("/api/providers").json()["providers"]}
    models = {m["id"]: m for m in providers["comfyui"]["models"]}
    full, bare = models["sdxl-base"], models["bare"]
    assert full["steps"] == [1, 40] and full["default_steps"] == 8
    assert full["cfg_scale"] == [1.0, 12.0] and full["negative_prompt"] is True
    assert full["options"] == {"sampler": ["euler", "dpmpp_2m"]} and full["max_images"] == 2
    assert (full["min_size"], full["max_size"], full["size_multiple"]) == (256, 1024, 64)
    # Nothing mapped but the prompt: no steps, no guidance, no seed, the workflow's own size.
    assert bare["steps"] is None and bare["cfg_scale"] is None and bare["seed"] is False
    assert bare["negative_prompt"] is False and bare["sizes"] == ["512x512"]
    # A field the workflow does not map is refused, not silently ignored.
    response = owner_api.post(
        "/api/generate",
        {"provider": "comfyui", "model": "bare", "prompt": "x", "steps": 12},
        format="json",
    )
    assert response.status_code == 400 and "steps" in response.json()


def test_generate_fills_the_mapped_inputs_and_counts_gpu_time(comfy, owner_api, run_jobs):
    backend = add_backend("comfyui", comfy, **priced("0.0005"))
    sdxl()
    result = submit(
        owner_api,
        run_jobs,
        negative_prompt="lowres",
        width=512,
        height=256,
        steps=5,
        cfg_scale=4.5,
        seed=1234,
        num_images=2,
        params={"sampler": "dpmpp_2m"},
    )
    assert result["status"] == "succeeded", result["error"]
    graph = sent_graph(comfy)
    assert graph["6"]["inputs"]["text"] == "a red fox"
    assert graph["7"]["inputs"]["text"] == "lowres"
    assert graph["3"]["inputs"]["seed"] == 1234 and graph["3"]["inputs"]["steps"] == 5
    assert graph["3"]["inputs"]["cfg"] == 4.5
    assert graph["3"]["inputs"]["sampler_name"] == "dpmpp_2m"
    assert (graph["5"]["inputs"]["width"], graph["5"]["inputs"]["height"]) == (512, 256)
    assert graph["5"]["inputs"]["batch_size"] == 2
    assert [(i["width"], i["height"]) for i in result["images"]] == [(512, 256)] * 2
    assert result["seed"] == 1234 and result["backend"] == backend.name
    assert comfy.prompts[-1]["client_id"]  # the WebSocket's client id
    generation = Generation.objects.get(pk=result["id"])
    entry = comfy.history[generation.provider_request_id]
    stamps = {m[0]: m[1]["timestamp"] for m in entry["status"]["messages"]}
    expected = (stamps["execution_success"] - stamps["execution_start"]) / 1000
    assert generation.gpu_seconds == pytest.approx(expected, abs=0.001)
    assert generation.cost_usd == (
        Decimal(str(generation.gpu_seconds)) * Decimal("0.0005")
    ).quantize(Decimal("0.000001"), rounding="ROUND_UP")
    assert generation.progress == 1.0


def test_without_a_websocket_the_history_is_polled(comfy, owner_api, run_jobs):
    add_backend("comfyui", comfy)
    sdxl()
    comfy.set_scenario("no_ws")
    result = submit(owner_api, run_jobs)
    assert result["status"] == "succeeded", result["error"]
    assert any(r["path"].startswith("/history/") for r in comfy.requests)


def test_a_failing_node_is_named_with_comfyuis_reason(comfy, owner_api, run_jobs):
    add_backend("comfyui", comfy)
    sdxl()
    comfy.set_scenario("node_error", message="Allocation on device 0 would exceed memory")
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert "KSampler (node 3)" in result["error"]
    assert "would exceed memory" in result["error"]


def test_a_graph_comfyui_refuses_is_a_failure_with_its_reason(comfy, owner_api, run_jobs):
    add_backend("comfyui", comfy)
    sdxl(workflow=txt2img_workflow(ckpt="missing.safetensors"))
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert "refused the workflow (HTTP 400)" in result["error"]
    assert "missing.safetensors" in result["error"] or "ckpt_name" in result["error"]


def test_edit_uploads_the_input_and_inpaint_puts_the_mask_in_alpha(
    comfy, owner, owner_api, run_jobs
):
    add_backend("comfyui", comfy)
    graph = img2img_workflow("placeholder.png")
    Workflow.objects.create(
        model_id="img2img",
        label="Image to image",
        operation="edit",
        workflow=graph,
        fields={
            "prompt": {"node": "6", "input": "text"},
            "image": {"node": "10", "input": "image"},
            "strength": {"node": "3", "input": "denoise", "min": 0.1, "max": 1},
        },
    )
    Workflow.objects.create(
        model_id="inpaint",
        label="Inpaint",
        operation="inpaint",
        workflow=graph,
        fields={
            "prompt": {"node": "6", "input": "text"},
            "image": {"node": "10", "input": "image"},
            "mask": {"node": "10", "input": "image"},  # the mask in LoadImage's alpha
        },
    )
    source = make_image(owner, width=64, height=48)
    edited = submit(
        owner_api,
        run_jobs,
        model="img2img",
        operation="edit",
        input_images=[source.pk],
        strength=0.35,
    )
    assert edited["status"] == "succeeded", edited["error"]
    graph_sent = sent_graph(comfy)
    assert graph_sent["3"]["inputs"]["denoise"] == 0.35
    uploaded = comfy.uploads[-1]
    assert graph_sent["10"]["inputs"]["image"].endswith(uploaded["name"])
    assert (edited["images"][0]["width"], edited["images"][0]["height"]) == (64, 48)

    mask = PILImage.new("L", (64, 48), 0)
    mask.paste(255, (0, 0, 32, 24))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    from base64 import b64encode

    uri = "data:image/png;base64," + b64encode(buffer.getvalue()).decode()
    inpainted = submit(
        owner_api,
        run_jobs,
        model="inpaint",
        operation="inpaint",
        input_images=[source.pk],
        mask=uri,
    )
    assert inpainted["status"] == "succeeded", inpainted["error"]
    assert comfy.uploads[-1]["mask"] is True  # POST /upload/mask
    key = next(k for k in comfy.files if k[0] == "input" and k[2] == comfy.uploads[-1]["name"])
    composite = PILImage.open(io.BytesIO(comfy.files[key]))
    alpha = composite.getchannel("A")
    # ComfyUI's LoadImage mask is 1 - alpha: transparent where the image may change.
    assert alpha.getpixel((5, 5)) == 0 and alpha.getpixel((60, 40)) == 255


@pytest.mark.django_db(transaction=True)
def test_progress_moves_and_cancel_interrupts_a_running_job(comfy, owner, owner_api):
    add_backend("comfyui", comfy)
    sdxl()
    comfy.set_scenario("slow", step_seconds=0.15)
    generation = queued_job(owner, steps=30, seed=5)
    thread = run_in_thread(generation.pk)
    seen = []

    def moving():
        value = Generation.objects.values_list("progress", flat=True).get(pk=generation.pk)
        if value is not None and (not seen or value != seen[-1]):
            seen.append(value)
        return len(seen) >= 3

    assert wait_for(moving), seen
    assert seen == sorted(seen) and all(0 < v < 1 for v in seen)
    owner_api.post(f"/api/generation/cancel/{generation.pk}")
    thread.join(timeout=15)
    assert status_of(generation.pk) == Status.CANCELED
    prompt_id = comfy.accepted[-1]
    assert {"prompt_id": prompt_id, "applied": True} in comfy.interrupts


@pytest.mark.django_db(transaction=True)
def test_cancel_while_it_waits_in_comfyuis_queue_deletes_it(comfy, owner, owner_api):
    """Two jobs on a backend that runs two at once: ComfyUI runs one and queues the other;
    cancelling the waiting one removes it from ComfyUI's queue (POST /queue delete)."""
    add_backend("comfyui", comfy, max_concurrent=2)
    sdxl()
    comfy.set_scenario("slow", step_seconds=0.2)
    first, second = (queued_job(owner, prompt=f"job {n}", steps=20, seed=n) for n in (1, 2))
    threads = [run_in_thread(first.pk)]
    assert wait_for(lambda: len(comfy.accepted) == 1)
    threads.append(run_in_thread(second.pk))
    assert wait_for(lambda: len(comfy.accepted) == 2)
    waiting_id = comfy.accepted[-1]
    owner_api.post(f"/api/generation/cancel/{second.pk}")
    assert wait_for(lambda: status_of(second.pk) == Status.CANCELED)
    assert any(waiting_id in d.get("delete", []) for d in comfy.queue_deletes)
    owner_api.post(f"/api/generation/cancel/{first.pk}")
    for thread in threads:
        thread.join(timeout=15)
    assert status_of(first.pk) == Status.CANCELED


def test_a_queued_job_is_cancelled_before_it_reaches_a_backend(comfy, owner, owner_api):
    add_backend("comfyui", comfy)
    sdxl()
    generation = queued_job(owner)
    assert owner_api.post(f"/api/generation/cancel/{generation.pk}").status_code == 200
    runner.execute(generation.pk)
    assert status_of(generation.pk) == Status.CANCELED
    assert comfy.prompts == []


def test_a_full_backend_keeps_jobs_waiting_for_a_free_gpu(comfy, owner):
    backend = add_backend("comfyui", comfy, max_concurrent=1)
    sdxl()
    busy = queued_job(owner, status=Status.RUNNING, backend=backend, attempts=1)
    waiting = queued_job(owner, prompt="y")
    assert runner.claim(waiting.pk) is None
    waiting.refresh_from_db()
    assert waiting.status == Status.QUEUED and waiting.attempts == 0
    from generation.progress import progress_for

    assert progress_for([waiting])[waiting.pk].waiting_reason == "queued: waiting for a free GPU"
    Generation.objects.filter(pk=busy.pk).update(status=Status.SUCCEEDED)
    claimed = runner.claim(waiting.pk)
    assert claimed is not None and claimed.backend_id == backend.pk


def test_with_no_answering_backend_a_job_waits_then_fails_in_words(comfy, owner, settings):
    """A backend down for a moment (a restart) keeps jobs waiting; once a job has waited as
    long as one may run, it fails saying which backend stopped answering and why."""
    from datetime import timedelta

    from django.utils import timezone

    from generation.backends import mark_unhealthy

    backend = add_backend("comfyui", comfy, name="gpu-7")
    sdxl()
    mark_unhealthy(backend.pk, "ComfyUI (gpu-7) stopped answering (connection refused).")
    fresh = queued_job(owner)
    runner.execute(fresh.pk)
    fresh.refresh_from_db()
    assert fresh.status == Status.QUEUED and fresh.attempts == 0
    from generation.progress import progress_for

    assert progress_for([fresh])[fresh.pk].waiting_reason == "queued: waiting for a free GPU"
    stale = queued_job(
        owner, created_at=timezone.now() - timedelta(seconds=settings.BACKEND_TIMEOUT + 5)
    )
    runner.execute(stale.pk)
    stale.refresh_from_db()
    assert stale.status == Status.FAILED
    assert "gpu-7 stopped answering" in stale.error and "connection refused" in stale.error


def test_a_backend_for_a_group_is_only_that_groups(comfy, owner, member, owner_api, member_api):
    from django.contrib.auth.models import Group

    artists = Group.objects.create(name="artists")
    backend = add_backend("comfyui", comfy)
    backend.groups.add(artists)
    owner.groups.add(artists)
    sdxl()

    def models_of(api):
        providers = {p["name"]: p for p in api.get("/api/providers").json()["providers"]}
        return [m["id"] for m in providers.get("comfyui", {"models": []})["models"]]

    assert models_of(owner_api) == ["sdxl-base"]
    assert models_of(member_api) == []
    from django.test import Client

    def generate_page(user):
        browser = Client()
        browser.force_login(user)
        return browser.get("/generate/").content.decode()

    assert 'value="comfyui"' not in generate_page(member)  # not offered outside the group
    assert 'value="comfyui"' in generate_page(owner)
    refused = member_api.post(
        "/api/generate",
        {"provider": "comfyui", "model": "sdxl-base", "prompt": "x"},
        format="json",
    )
    assert refused.status_code == 400 and "model" in refused.json()


@pytest.mark.django_db(transaction=True)
def test_a_backend_that_dies_mid_job_hands_it_over(owner):
    with FakeComfyUI() as first, FakeComfyUI() as second:
        one = add_backend("comfyui", first, name="gpu-a")
        add_backend("comfyui", second, name="gpu-b")
        sdxl()
        first.set_scenario("slow", step_seconds=0.2)
        generation = queued_job(owner, steps=20, seed=3)
        # gpu-a first (both free: the lower id wins a tie); it dies once the job started.
        thread = run_in_thread(generation.pk)
        assert wait_for(lambda: len(first.accepted) == 1)
        first.die()
        thread.join(timeout=20)
        generation.refresh_from_db()
        if generation.status == Status.QUEUED:  # not run inline: run the re-queued job
            runner.execute(generation.pk)
            generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED, generation.error
        assert generation.attempts == 2 and generation.backend.name == "gpu-b"
        one.refresh_from_db()
        assert one.healthy is False and "stopped answering" in one.last_error
        assert json.dumps(generation.provider_metadata).count("gpu-b") == 1


def test_the_size_chips_aim_at_the_size_the_workflow_is_made_for(comfy, owner_client):
    from generation.page import aspect_chips
    from imagegen.providers import get_provider

    add_backend("comfyui", comfy)
    sdxl(workflow=txt2img_workflow(width=512, height=512))  # an SD 1.5 graph: 512 px
    spec = get_provider("comfyui").get_model("sdxl-base")
    assert spec.target_pixels == 512 * 512
    chips = {chip.label: (chip.width, chip.height) for chip in aspect_chips(spec)}
    assert chips["1:1"] == (512, 512)
    info = owner_client.get(
        "/generate/model-info/", {"provider": "comfyui", "model": "sdxl-base"}
    ).content.decode()
    assert 'data-own-size="true"' in info


def test_a_workflow_with_two_sampling_passes_has_one_bar_that_never_goes_back():
    from imagegen.providers.comfyui import Passes, samplers_in

    graph = txt2img_workflow()
    graph["20"] = {"class_type": "KSamplerAdvanced", "inputs": {}}
    graph["21"] = {"class_type": "KSamplerSelect", "inputs": {}}  # picks, does not sample
    passes = Passes(samplers_in(graph))
    assert passes.total == 2
    seen = []
    for node, fraction in [("3", 0.5), ("3", 1.0), ("20", 0.5), ("20", 1.0), ("30", 0.5)]:
        passes.step(node, fraction)
        seen.append(round(passes.overall, 3))
    # A third reporting node (an upscaler's tiles) widens the count but never moves it back.
    assert seen == [0.25, 0.5, 0.75, 1.0, 1.0]


def test_an_upscale_workflow_scales_by_the_chosen_factor(comfy, owner, owner_api, run_jobs):
    add_backend("comfyui", comfy)
    Workflow.objects.create(
        model_id="upscale",
        label="Upscale",
        operation="upscale",
        workflow=img2img_workflow("placeholder.png", scale_by=2),
        fields={
            "image": {"node": "10", "input": "image"},
            "scale": {"node": "12", "input": "scale_by", "choices": [2, 4]},
        },
    )
    source = make_image(owner, width=40, height=32)
    result = submit(
        owner_api,
        run_jobs,
        model="upscale",
        operation="upscale",
        input_images=[source.pk],
        scale=4,
        prompt="",
    )
    assert result["status"] == "succeeded", result["error"]
    assert sent_graph(comfy)["12"]["inputs"]["scale_by"] == 4
    assert (result["images"][0]["width"], result["images"][0]["height"]) == (160, 128)


def test_a_failed_job_still_counts_the_gpu_time_it_took_but_no_spend(comfy, owner, settings):
    add_backend("comfyui", comfy, **priced("0.01"))
    sdxl()
    comfy.set_scenario("node_error", at_step=3, step_seconds=0.05)
    generation = queued_job(owner, steps=10)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED
    assert generation.gpu_seconds is not None and generation.gpu_seconds >= 0.1
    assert generation.cost_usd is None


def test_a_users_many_groups_do_not_make_a_backend_look_busy(comfy, owner):
    """A backend of two groups the owner is in: its one running job counts once (a groups
    join counted it twice, so a backend with a free slot looked full)."""
    from django.contrib.auth.models import Group

    from generation.backends import choose

    backend = add_backend("comfyui", comfy, max_concurrent=2)
    sdxl()
    for name in ("artists", "editors"):
        group = Group.objects.create(name=name)
        backend.groups.add(group)
        owner.groups.add(group)
    queued_job(owner, status=Status.RUNNING, backend=backend, attempts=1)
    choice = choose(queued_job(owner))
    assert choice.backend == backend and not choice.waiting


def test_a_bad_workflow_row_does_not_take_the_other_models_down(comfy, owner_api):
    """A row that got past the admin form (a fixture, a shell) is left out, not a 500."""
    add_backend("comfyui", comfy)
    sdxl()
    broken = sdxl(model_id="broken")
    Workflow.objects.filter(pk=broken.pk).update(
        fields={**FIELDS, "steps": {"node": "3", "input": "steps", "min": "one"}}
    )
    response = owner_api.get("/api/providers")
    assert response.status_code == 200
    comfy_models = next(p for p in response.json()["providers"] if p["name"] == "comfyui")
    assert [m["id"] for m in comfy_models["models"]] == ["sdxl-base"]


@pytest.mark.django_db(transaction=True)
def test_a_restart_that_loses_the_job_is_noticed_without_a_websocket(owner):
    """Polling the history, a job in neither the history nor the queue was lost with a
    restart: it goes back to the queue for a backend (not a 10-minute wait)."""
    with FakeComfyUI(scenario="no_ws", options={"step_seconds": 0.2}) as fake:
        backend = add_backend("comfyui", fake)
        sdxl()
        generation = queued_job(owner, steps=30, seed=2)
        thread = run_in_thread(generation.pk)
        assert wait_for(lambda: len(fake.accepted) == 1)
        fake.die()
        fake.come_back()  # a restarted ComfyUI: empty queue and history
        thread.join(timeout=20)
        generation.refresh_from_db()
        backend.refresh_from_db()
        assert "lost the job" in backend.last_error or "stopped answering" in backend.last_error
        assert generation.status in (Status.QUEUED, Status.SUCCEEDED), generation.error
        assert generation.attempts >= 1
