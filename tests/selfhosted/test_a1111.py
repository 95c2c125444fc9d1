"""AUTOMATIC1111/Forge as a provider, end to end against the strict fake (tests/fakes/
a1111_server.py): the API submission, the request the server gets, seeds read back from
``info``, progress, GPU-seconds and their cost, every operation, its refusals, credentials,
cancel and a backend that dies mid-job."""

import base64
import io
import json
from decimal import Decimal

import pytest
from PIL import Image as PILImage

from generation import backends, runner
from generation.models import Generation, Status
from imagegen.providers.backends import BackendAuth
from tests.fakes.a1111_server import FakeA1111
from tests.gallery.factories import make_image

from .helpers import add_backend, priced, queued_job, run_in_thread, status_of, wait_for

pytestmark = pytest.mark.django_db

MODEL = "v1-5-pruned-emaonly"


@pytest.fixture(scope="module")
def a1111_server():
    with FakeA1111() as server:
        yield server


@pytest.fixture
def a1111(a1111_server):
    if not a1111_server.alive:
        a1111_server.come_back()
    a1111_server.reset()
    yield a1111_server
    assert a1111_server.server_errors == [], a1111_server.server_errors[-1]


def job_bodies(fake, path):
    return [r["json"] for r in fake.requests if r["path"] == path and r["method"] == "POST"]


def submit(client, run_jobs, **payload):
    body = {"provider": "a1111", "model": MODEL, "prompt": "a red fox", **payload}
    generation_id = run_jobs(client, body).json()["id"]
    return client.get(f"/api/generation/{generation_id}").json()


def test_checkpoints_become_models_and_the_listing_is_the_servers(a1111, owner_api):
    add_backend("a1111", a1111)
    providers = {p["name"]: p for p in owner_api.get("/api/providers").json()["providers"]}
    models = {m["id"]: m for m in providers["a1111"]["models"]}
    assert MODEL in models and providers["a1111"]["self_hosted"] is True
    spec = models[MODEL]
    assert spec["operations"] == ["generate", "edit", "inpaint", "outpaint", "upscale"]
    assert "Euler" in spec["options"]["sampler"]  # from GET /sdapi/v1/samplers
    assert spec["price"]["unit"] == "second"


def test_no_backend_no_provider(owner_api):
    names = [p["name"] for p in owner_api.get("/api/providers").json()["providers"]]
    assert "a1111" not in names and "comfyui" not in names


def test_generate_sends_the_checkpoint_and_reads_the_seed_and_gpu_time(a1111, owner_api, run_jobs):
    backend = add_backend("a1111", a1111, **priced("0.002"))
    result = submit(
        owner_api,
        run_jobs,
        width=512,
        height=384,
        num_images=2,
        steps=12,
        cfg_scale=6,
        negative_prompt="blurry",
        params={"sampler": "Euler"},
    )
    assert result["status"] == "succeeded", result["error"]
    body = job_bodies(a1111, "/sdapi/v1/txt2img")[-1]
    title = next(m["title"] for m in backend.listed_models if m["id"] == MODEL)
    assert body["override_settings"] == {"sd_model_checkpoint": title}
    assert body["override_settings_restore_afterwards"] is True
    assert (body["width"], body["height"], body["batch_size"], body["steps"]) == (512, 384, 2, 12)
    assert body["sampler_name"] == "Euler" and body["negative_prompt"] == "blurry"
    job = a1111.jobs[-1]
    assert result["seed"] == job["seed"] == body["seed"]
    assert [i["width"] for i in result["images"]] == [512, 512]
    assert result["backend"] == backend.name
    generation = Generation.objects.get(pk=result["id"])
    assert generation.gpu_seconds is not None and generation.gpu_seconds > 0
    expected = Decimal(str(generation.gpu_seconds)) * Decimal("0.002")
    assert abs(generation.cost_usd - expected) <= Decimal("0.000001")
    assert generation.cost_is_estimate is False
    assert generation.progress == 1.0


def test_a_server_that_ran_another_checkpoint_is_not_trusted_silently(a1111, owner_api, run_jobs):
    """A1111 drops an unknown override_settings checkpoint and runs the loaded model; the
    provider names the checkpoint it asked for and what ran."""
    backend = add_backend("a1111", a1111)
    backend.listed_models = [{"id": "gone", "title": "gone.safetensors [0000000000]"}]
    backend.save(update_fields=["listed_models"])
    result = submit(owner_api, run_jobs, model="gone")
    assert result["status"] == "failed"
    assert "gone.safetensors" in result["error"] and "ran" in result["error"]


def test_edit_and_inpaint_go_to_img2img_with_strength_and_mask(a1111, owner, owner_api, run_jobs):
    add_backend("a1111", a1111)
    source = make_image(owner, width=64, height=48)
    edited = submit(owner_api, run_jobs, operation="edit", input_images=[source.pk], strength=0.4)
    assert edited["status"] == "succeeded", edited["error"]
    body = job_bodies(a1111, "/sdapi/v1/img2img")[-1]
    assert body["denoising_strength"] == 0.4 and "mask" not in body
    init = PILImage.open(io.BytesIO(base64.b64decode(body["init_images"][0])))
    assert init.size == (64, 48)

    mask = PILImage.new("L", (64, 48), 0)
    mask.paste(255, (0, 0, 32, 24))
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    inpainted = submit(owner_api, run_jobs, operation="inpaint", input_images=[source.pk], mask=uri)
    assert inpainted["status"] == "succeeded", inpainted["error"]
    body = job_bodies(a1111, "/sdapi/v1/img2img")[-1]
    sent = PILImage.open(io.BytesIO(base64.b64decode(body["mask"]))).convert("L")
    assert sent.getpixel((5, 5)) == 255 and sent.getpixel((60, 40)) == 0  # white = repaint
    assert body["inpainting_fill"] == 1 and body["inpainting_mask_invert"] == 0
    assert inpainted["images"][0]["width"] == 64


def test_upscale_uses_extras_with_a_listed_upscaler(a1111, owner, owner_api, run_jobs):
    add_backend("a1111", a1111)
    source = make_image(owner, width=40, height=32)
    result = submit(owner_api, run_jobs, operation="upscale", input_images=[source.pk], scale=2)
    assert result["status"] == "succeeded", result["error"]
    body = job_bodies(a1111, "/sdapi/v1/extra-single-image")[-1]
    assert body["upscaling_resize"] == 2 and body["upscaler_1"] == "R-ESRGAN 4x+"
    assert (result["images"][0]["width"], result["images"][0]["height"]) == (80, 64)


def test_a_failing_job_fails_with_the_servers_reason(a1111, owner_api, run_jobs):
    add_backend("a1111", a1111)
    a1111.set_scenario("fail", message="CUDA out of memory. Tried to allocate 2.00 GiB")
    result = submit(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert "CUDA out of memory" in result["error"] and "AUTOMATIC1111" in result["error"]


def test_credentials_are_sent_and_never_shown(owner_api, run_jobs):
    with FakeA1111(basic_auth=("team", "s3cret-pass")) as fake:
        backend = add_backend(
            "a1111", fake, auth=BackendAuth.BASIC, username="team", secret="s3cret-pass"
        )
        result = submit(owner_api, run_jobs)
        assert result["status"] == "succeeded", result["error"]
        assert "s3cret" not in json.dumps(result)
        backend.secret = "wrong-pass"
        backend.save()
        failed = submit(owner_api, run_jobs)
        assert failed["status"] == "failed"
        assert "refused the credentials" in failed["error"] and "wrong" not in failed["error"]


def test_a_random_seed_is_read_back_from_info(a1111, owner, run_jobs):
    """A job sent with seed -1 (as a direct run with no seed is) reports the server's seed."""
    add_backend("a1111", a1111)
    generation = queued_job(owner, "a1111", MODEL, prompt="x", width=64, height=64)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert job_bodies(a1111, "/sdapi/v1/txt2img")[-1]["seed"] == -1
    assert generation.seed == a1111.jobs[-1]["seed"] and generation.seed != -1


@pytest.mark.django_db(transaction=True)
def test_progress_is_stored_while_it_runs_and_cancel_interrupts(a1111, owner, owner_api):
    add_backend("a1111", a1111)
    a1111.set_scenario("slow", step_seconds=0.15)
    created = {
        "id": queued_job(owner, "a1111", MODEL, prompt="slow", width=64, height=64, steps=60).pk
    }
    thread = run_in_thread(created["id"])
    seen = []

    def moving():
        value = Generation.objects.values_list("progress", flat=True).get(pk=created["id"])
        if value is not None:
            seen.append(value)
        return len(set(seen)) >= 2

    assert wait_for(moving), seen
    assert all(0 < value <= 1 for value in seen) and seen == sorted(seen)
    api = owner_api.get(f"/api/generation/{created['id']}").json()
    assert api["progress"] is not None and api["eta_ms"] is not None
    owner_api.post(f"/api/generation/cancel/{created['id']}")
    thread.join(timeout=15)
    assert status_of(created["id"]) == Status.CANCELED
    assert any(r["path"] == "/sdapi/v1/interrupt" for r in a1111.requests)


@pytest.mark.django_db(transaction=True)
def test_a_backend_that_dies_mid_job_hands_it_to_the_other(owner, owner_api):
    with FakeA1111() as first, FakeA1111() as second:
        one = add_backend("a1111", first, name="gpu-1")
        two = add_backend("a1111", second, name="gpu-2")
        first.set_scenario("slow", step_seconds=0.2)
        second.set_scenario("slow", step_seconds=0.2)
        generation = queued_job(owner, "a1111", MODEL, prompt="x", width=64, height=64, steps=30)
        thread = run_in_thread(generation.pk)
        assert wait_for(lambda: Generation.objects.get(pk=generation.pk).backend_id is not None)
        runs_on = Generation.objects.get(pk=generation.pk).backend_id
        assert runs_on is not None
        dying, other = (first, second) if runs_on == one.pk else (second, first)
        assert wait_for(lambda: any(r["path"] == "/sdapi/v1/txt2img" for r in dying.requests))
        dying.die()
        thread.join(timeout=30)
        # Queued again and run (django-q runs inline in tests) on the other backend.
        generation.refresh_from_db()
        assert generation.status == Status.SUCCEEDED, generation.error
        assert generation.attempts == 2
        assert generation.backend_id == (two.pk if runs_on == one.pk else one.pk)
        dead = one if runs_on == one.pk else two
        dead.refresh_from_db()
        assert dead.healthy is False and dead.unhealthy_since is not None
        assert "stopped answering" in dead.last_error
        assert any(r["path"] == "/sdapi/v1/txt2img" for r in other.requests)
        # The minute check sees it back.
        dying.come_back()
        backends.check_backends()
        dead.refresh_from_db()
        assert dead.healthy is True and dead.last_error == ""


def test_outpaint_pads_the_canvas_and_inpaints_the_margins(a1111, owner, owner_api, run_jobs):
    add_backend("a1111", a1111)
    source = make_image(owner, width=64, height=48)
    result = submit(
        owner_api,
        run_jobs,
        operation="outpaint",
        input_images=[source.pk],
        outpaint={"left": 16, "top": 0, "right": 16, "bottom": 0},
    )
    assert result["status"] == "succeeded", result["error"]
    body = job_bodies(a1111, "/sdapi/v1/img2img")[-1]
    canvas = PILImage.open(io.BytesIO(base64.b64decode(body["init_images"][0])))
    mask = PILImage.open(io.BytesIO(base64.b64decode(body["mask"]))).convert("L")
    assert canvas.size == mask.size == (96, 48)
    assert mask.getpixel((2, 20)) == 255 and mask.getpixel((48, 20)) == 0  # margins change
    assert (result["images"][0]["width"], result["images"][0]["height"]) == (96, 48)


def test_a_job_past_the_backend_timeout_fails_and_is_interrupted(a1111, owner, settings):
    settings.BACKEND_TIMEOUT = 1
    add_backend("a1111", a1111)
    a1111.set_scenario("slow", step_seconds=0.2)
    generation = queued_job(owner, "a1111", MODEL, steps=40)
    runner.execute(generation.pk)
    generation.refresh_from_db()
    assert generation.status == Status.FAILED and generation.error == "Timed out after 1 s."
    assert wait_for(lambda: any(r["path"] == "/sdapi/v1/interrupt" for r in a1111.requests))


def test_the_token_is_in_no_response_and_no_log(owner_api, run_jobs, caplog):
    with FakeA1111(basic_auth=("team", "pa55-word-for-gpu")) as fake:
        add_backend(
            "a1111", fake, auth=BackendAuth.BASIC, username="team", secret="pa55-word-for-gpu"
        )
        with caplog.at_level("DEBUG"):
            result = submit(owner_api, run_jobs)
            # A proxy or server that echoes the request's login back in its error.
            echoed = base64.b64encode(b"team:pa55-word-for-gpu").decode()
            fake.set_scenario("fail", message=f"bad header Basic {echoed} (pa55-word-for-gpu)")
            failed = submit(owner_api, run_jobs)
    assert result["status"] == "succeeded" and failed["status"] == "failed"
    token = base64.b64encode(b"team:pa55-word-for-gpu").decode()
    for text in (caplog.text, json.dumps(result), json.dumps(failed)):
        assert "pa55-word-for-gpu" not in text and token not in text


def test_recovery_lets_a_dead_workers_backend_slot_go(
    owner, settings, a1111, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from generation.recovery import recover_stale_generations

    backend = add_backend("a1111", a1111)
    old = timezone.now() - timedelta(seconds=settings.GENERATION_TIMEOUT + 3600)
    generation = queued_job(
        owner,
        "a1111",
        MODEL,
        status=Status.RUNNING,
        attempts=1,
        backend=backend,
        progress=0.4,
        started_at=old,
        heartbeat_at=old,
    )
    running_jobs = backend.generations.filter(status=Status.RUNNING)
    assert running_jobs.count() == 1  # the dead worker's job holds the only slot
    assert recover_stale_generations()["requeued"] == 1
    # Its slot was let go, so the re-queued job was claimed again (django-q runs it inline
    # in tests) and ran to the end on the backend.
    generation.refresh_from_db()
    assert generation.status == Status.SUCCEEDED, generation.error
    assert generation.attempts == 2 and generation.backend_id == backend.pk


def test_a_checkpoint_in_a_subfolder_is_not_mistaken_for_another(owner_api, run_jobs):
    """A1111 lists SDXL/juggernaut.safetensors as model_name SDXL_juggernaut but reports
    sd_model_name juggernaut after a run: the same checkpoint."""
    with FakeA1111(
        models=["SDXL/juggernaut.safetensors", "v1-5-pruned-emaonly.safetensors"]
    ) as fake:
        backend = add_backend("a1111", fake)
        ids = [m["id"] for m in backend.listed_models]
        assert "SDXL_juggernaut" in ids
        result = submit(owner_api, run_jobs, model="SDXL_juggernaut")
    assert result["status"] == "succeeded", result["error"]
