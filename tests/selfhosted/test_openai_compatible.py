"""An OpenAI-compatible image server (LocalAI style) as a provider, through the openai SDK
against the strict fake (tests/fakes/openai_compatible_server.py): models from /v1/models,
generate as b64_json, edits only where the admin says the server has them, its refusals,
a bearer key, and GPU-seconds from the run time."""

import pytest

from generation.models import Generation
from imagegen.providers.backends import BackendAuth
from tests.fakes.openai_compatible_server import FakeOpenAICompatible
from tests.gallery.factories import make_image

from .helpers import add_backend, priced

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def local_server():
    with FakeOpenAICompatible(api_key="local-token-123") as server:
        yield server


@pytest.fixture
def local(local_server):
    local_server.reset()
    yield local_server
    assert local_server.server_errors == [], local_server.server_errors[-1]


def bearer(**fields):
    return {"auth": BackendAuth.BEARER, "secret": "local-token-123", **fields}


def submit(client, run_jobs, **payload):
    body = {"provider": "openai_compatible", "model": "sd-1.5", "prompt": "a fox", **payload}
    generation_id = run_jobs(client, body).json()["id"]
    return client.get(f"/api/generation/{generation_id}").json()


def test_models_are_the_servers_listing(local, owner_api):
    backend = add_backend("openai_compatible", local, **bearer())
    assert "sd-1.5" in backend.listed_models and "flux-schnell" in backend.listed_models
    providers = {p["name"]: p for p in owner_api.get("/api/providers").json()["providers"]}
    models = {m["id"]: m for m in providers["openai_compatible"]["models"]}
    assert models["sd-1.5"]["operations"] == ["generate"]
    assert models["sd-1.5"]["steps"] is None and models["sd-1.5"]["seed"] is False


def test_generate_asks_for_base64_and_counts_the_run_time(local, owner_api, run_jobs):
    add_backend("openai_compatible", local, **bearer(**priced("0.01")))
    result = submit(owner_api, run_jobs, width=256, height=192, num_images=2)
    assert result["status"] == "succeeded", result["error"]
    sent = [r for r in local.requests if r["path"] == "/v1/images/generations"][-1]
    assert sent["json"]["response_format"] == "b64_json"
    assert sent["json"]["size"] == "256x192" and sent["json"]["n"] == 2
    assert sent["headers"]["authorization"] == "Bearer local-token-123"
    assert [(i["width"], i["height"]) for i in result["images"]] == [(256, 192)] * 2
    generation = Generation.objects.get(pk=result["id"])
    assert generation.gpu_seconds is not None and generation.cost_is_estimate is False
    assert generation.progress is None  # the server reports no steps


def test_a_wrong_token_and_a_server_error_fail_in_words(local, owner_api, run_jobs):
    backend = add_backend("openai_compatible", local, **bearer())
    backend.secret = "not-the-token"
    backend.save()
    refused = submit(owner_api, run_jobs)
    assert refused["status"] == "failed" and "refused the credentials" in refused["error"]
    assert "not-the-token" not in refused["error"]
    backend.secret = "local-token-123"
    backend.save()
    local.set_scenario("server_error", status=500, message="backend crashed: out of memory")
    failed = submit(owner_api, run_jobs)
    assert failed["status"] == "failed" and "out of memory" in failed["error"]


def test_edits_only_where_the_server_has_them(local, owner, owner_api, run_jobs):
    backend = add_backend("openai_compatible", local, **bearer())
    source = make_image(owner, width=64, height=64)
    refused = owner_api.post(
        "/api/generate",
        {
            "provider": "openai_compatible",
            "model": "sd-1.5",
            "prompt": "x",
            "operation": "edit",
            "input_images": [source.pk],
        },
        format="json",
    )
    assert refused.status_code == 400 and "operation" in refused.json()
    backend.edits = True
    backend.save()
    edited = submit(
        owner_api, run_jobs, operation="edit", input_images=[source.pk], width=64, height=64
    )
    assert edited["status"] == "succeeded", edited["error"]
    assert any(r["path"] == "/v1/images/edits" for r in local.requests)


def test_an_unreachable_server_is_marked_and_the_job_waits_for_it(owner, run_jobs, owner_api):
    """The job's first attempt finds the server gone: the backend is marked with the reason
    and the job goes back to the queue, where it waits for a backend that answers."""
    with FakeOpenAICompatible() as gone:
        backend = add_backend("openai_compatible", gone)
        gone.die()
        result = submit(owner_api, run_jobs)
    assert result["status"] == "queued" and result["error"] == ""
    assert result["waiting_reason"] == "queued: waiting for a free GPU"
    backend.refresh_from_db()
    assert backend.healthy is False and backend.unhealthy_since is not None
    assert "stopped answering (connection refused)" in backend.last_error
    assert Generation.objects.get(pk=result["id"]).attempts == 1


def test_the_admin_can_leave_out_models_it_lists(local, owner_api, run_jobs):
    """LocalAI lists its chat models in /v1/models too: the admin offers only image ones."""
    add_backend("openai_compatible", local, **bearer(offered_models="sd-1.5\n"))
    providers = {p["name"]: p for p in owner_api.get("/api/providers").json()["providers"]}
    assert [m["id"] for m in providers["openai_compatible"]["models"]] == ["sd-1.5"]
    refused = owner_api.post(
        "/api/generate",
        {"provider": "openai_compatible", "model": "llama", "prompt": "x"},
        format="json",
    )
    assert refused.status_code == 400 and "model" in refused.json()


def test_inpaint_sends_the_mask_transparent_where_it_may_change(local, owner, owner_api, run_jobs):
    import base64
    import io

    from PIL import Image as PILImage

    add_backend("openai_compatible", local, **bearer(edits=True))
    source = make_image(owner, width=64, height=64, color=(10, 200, 10))
    mask = PILImage.new("L", (64, 64), 0)
    mask.paste(255, (0, 0, 32, 64))  # the left half may change
    buffer = io.BytesIO()
    mask.save(buffer, "PNG")
    uri = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    result = submit(
        owner_api, run_jobs, operation="inpaint", input_images=[source.pk], mask=uri,
        width=64, height=64,
    )  # fmt: skip
    assert result["status"] == "succeeded", result["error"]
    assert local.generations[-1]["mask"] is True
    image = Generation.objects.get(pk=result["id"]).images.get()
    from django.core.files.storage import default_storage

    with default_storage.open(image.file) as handle:
        made = PILImage.open(handle).convert("RGB")
    # The fake paints where the mask is transparent: the left half only.
    assert made.getpixel((60, 30)) == (10, 200, 10) and made.getpixel((5, 30)) != (10, 200, 10)
