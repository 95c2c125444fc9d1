"""Self-check of the queue-style fakes (Replicate, fal) with the real SDK / httpx; no Django."""

from __future__ import annotations

import io
import time

import httpx
import pytest
from PIL import Image
from replicate.exceptions import ModelError, ReplicateError

from .fal_server import FakeFal
from .replicate_server import SDXL_VERSION, FakeReplicate
from .selfcheck_support import FAL_H, fake_fixtures, png_size, rep_client

pytestmark = pytest.mark.fakes
rep_server, rep_fixture = fake_fixtures("rep", FakeReplicate)
fal_server, fal_fixture = fake_fixtures("fal", FakeFal)


# --------------------------------------------------------------------------- Replicate
def test_replicate_official_model_polling_and_account(rep):
    client = rep_client(rep)
    assert client.accounts.current().username == "fake-user"
    p = client.predictions.create(
        model="black-forest-labs/flux-schnell", input={"prompt": "a fox", "num_outputs": 2}
    )
    assert p.status == "starting" and p.urls["get"].startswith(rep.base_url)
    p.wait()
    assert p.status == "succeeded" and len(p.output) == 2 and p.metrics["predict_time"] == 0.72
    assert Image.open(io.BytesIO(httpx.get(p.output[0]).content)).format == "WEBP"
    assert rep.requests[1]["path"] == "/v1/models/black-forest-labs/flux-schnell/predictions"
    p = client.predictions.create(model="black-forest-labs/flux-1.1-pro", input={"prompt": "x"})
    assert isinstance(client.predictions.get(p.id).output, str)  # single-URL model
    r = httpx.get(rep.base_url + "/v1/account", headers={"Authorization": "Token r8_test_good"})
    assert r.status_code == 200


def test_replicate_run_versions_and_prefer_wait(rep):
    client = rep_client(rep)
    out = client.run(f"stability-ai/sdxl:{SDXL_VERSION}", input={"prompt": "x"})
    assert len(out) == 1 and out[0].endswith(".png")
    paths = [r["path"] for r in rep.requests]
    assert paths == ["/v1/predictions", f"/v1/models/stability-ai/sdxl/versions/{SDXL_VERSION}"]
    assert rep.requests[0]["headers"]["prefer"] == "wait"
    r = httpx.post(
        rep.base_url + "/v1/predictions",
        headers={"Authorization": "Bearer r8_test_good", "Prefer": "wait"},
        json={"version": SDXL_VERSION, "input": {"prompt": "x"}},
    )
    assert r.status_code == 201 and r.headers["preference-applied"] == "wait"
    assert r.json()["status"] == "succeeded" and r.json()["model"] == "stability-ai/sdxl"
    rep.set_scenario("success", data_urls=True)
    (item,) = client.run("black-forest-labs/flux-dev", input={"prompt": "x"})
    assert Image.open(io.BytesIO(item.read())).size == (1024, 1024)


def test_replicate_queue_polls_and_cancel(rep):
    client = rep_client(rep)
    rep.set_scenario("queue_polls", polls=3)
    assert client.run("black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert [r["method"] for r in rep.requests] == ["POST", "GET", "GET", "GET"]
    p = client.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert client.predictions.get(p.id).status == "processing"
    client.predictions.cancel(p.id)
    assert rep.cancels == [{"id": p.id}] and client.predictions.get(p.id).status == "canceled"
    assert rep.predictions[p.id]["output"] is None


def test_replicate_failures(rep):
    client = rep_client(rep)
    rep.set_scenario("content_policy")
    with pytest.raises(ModelError, match="NSFW content detected"):
        client.run("black-forest-labs/flux-schnell", input={"prompt": "x"})
    rep.set_scenario("model_failed", polls=2, error="boom")
    p = client.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    p.wait()
    assert (p.status, p.error, p.output) == ("failed", "boom", None)


@pytest.mark.parametrize(
    "name,opts,status,title",
    [
        ("unauthorized", {}, 401, "Unauthenticated"),
        ("no_credit", {}, 402, "Insufficient credit"),
        ("rate_limited", {}, 429, None),  # [DOC] a 429 carries a detail only
        ("validation", {"field": "input.seed"}, 422, "Input validation failed"),
        ("server_error", {}, 500, "Internal Server Error"),
    ],
)
def test_replicate_error_scenarios(rep, name, opts, status, title):
    rep.set_scenario(name, **opts)
    with pytest.raises(ReplicateError) as exc:
        rep_client(rep).predictions.create(
            model="black-forest-labs/flux-schnell", input={"prompt": "x"}
        )
    assert (exc.value.status, exc.value.title) == (status, title)


def test_replicate_other_scenarios(rep):
    client = rep_client(rep)
    with pytest.raises(ReplicateError) as exc:
        rep_client(rep, key="r8_bad").accounts.current()
    assert exc.value.status == 401
    with pytest.raises(ReplicateError) as exc:
        client.predictions.create(
            model="black-forest-labs/flux-schnell", input={"prompt": "x", "num_inference_steps": 8}
        )
    assert exc.value.status == 422 and "num_inference_steps" in exc.value.detail
    rep.set_scenario("rate_limited_once")
    with pytest.raises(ReplicateError) as exc:
        client.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert exc.value.status == 429
    assert (
        client.predictions.create(
            model="black-forest-labs/flux-schnell", input={"prompt": "x"}
        ).status
        == "starting"
    )
    rep.set_scenario("malformed")
    with pytest.raises(ValueError):
        client.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    rep.set_scenario("slow", seconds=0.3)
    start = time.monotonic()
    client.predictions.create(model="black-forest-labs/flux-schnell", input={"prompt": "x"})
    assert time.monotonic() - start >= 0.3
    rep.set_scenario("result_url", url="/redirect?to=http%3A%2F%2F169.254.169.254%2F")
    out = client.run("black-forest-labs/flux-1.1-pro", input={"prompt": "x"})
    assert out == rep.base_url + "/redirect?to=http%3A%2F%2F169.254.169.254%2F"


# --------------------------------------------------------------------------- fal
def fal_submit(fal, body=None, endpoint="fal-ai/flux/dev"):
    r = httpx.post(f"{fal.base_url}/{endpoint}", json=body or {"prompt": "a fox"}, headers=FAL_H)
    return r


def test_fal_queue_flow(fal):
    fal.set_scenario("queue_polls", polls=4)
    sub = fal_submit(
        fal, {"prompt": "p", "num_images": 2, "image_size": "square", "output_format": "png"}
    ).json()
    base = f"{fal.base_url}/fal-ai/flux/requests/{sub['request_id']}"
    assert (sub["status_url"], sub["response_url"], sub["cancel_url"]) == (
        base + "/status",
        base,
        base + "/cancel",
    )
    assert httpx.get(sub["response_url"], headers=FAL_H).status_code == 400
    seen = [
        httpx.get(sub["status_url"], params={"logs": 1}, headers=FAL_H).json() for _ in range(4)
    ]
    assert [s["status"] for s in seen] == ["IN_QUEUE", "IN_PROGRESS", "IN_PROGRESS", "COMPLETED"]
    assert seen[0]["queue_position"] == 0 and seen[1]["logs"][0]["message"]
    assert seen[3]["metrics"]["inference_time"] > 0 and "logs" in seen[3]
    res = httpx.get(sub["response_url"], headers=FAL_H).json()
    assert len(res["images"]) == 2 and res["has_nsfw_concepts"] == [False, False]
    img = res["images"][0]
    assert (img["width"], img["height"], img["content_type"]) == (512, 512, "image/png")
    assert png_size(httpx.get(img["url"]).content) == (512, 512)
    assert res["prompt"] == "p" and "inference" in res["timings"] and "seed" in res


def test_fal_cancel_pricing_auth(fal):
    fal.set_scenario("queue_polls", polls=3)
    sub = fal_submit(fal).json()
    r = httpx.put(sub["cancel_url"], headers=FAL_H)
    assert (r.status_code, r.json()) == (202, {"status": "CANCELLATION_REQUESTED"})
    assert fal.cancels == [{"request_id": sub["request_id"], "endpoint": "fal-ai/flux/dev"}]
    st = httpx.get(sub["status_url"], headers=FAL_H).json()
    assert st["status"] == "COMPLETED" and st["error_type"] == "client_cancelled"
    assert httpx.put(sub["cancel_url"], headers=FAL_H).json() == {"status": "ALREADY_COMPLETED"}
    ids = [("endpoint_id", "fal-ai/flux/dev"), ("endpoint_id", "fal-ai/flux/schnell")]
    r = httpx.get(fal.base_url + "/v1/models/pricing", headers=FAL_H, params=ids)
    assert [p["unit_price"] for p in r.json()["prices"]] == [0.025, 0.003]
    r = httpx.post(fal.base_url + "/fal-ai/flux/dev", json={}, headers={"Authorization": "Key a:b"})
    assert (r.status_code, r.json()) == (401, {"detail": "No user found for Key ID and Secret"})
    fal.set_scenario("unauthorized")
    assert fal_submit(fal).status_code == 401


def test_fal_result_errors(fal):
    fal.set_scenario("content_policy")
    sub = fal_submit(fal).json()
    st = httpx.get(sub["status_url"], headers=FAL_H).json()
    assert st["status"] == "COMPLETED" and st["error_type"] == "content_policy_violation"
    r = httpx.get(sub["response_url"], headers=FAL_H)
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "content_policy_violation"
    fal.set_scenario("content_policy", stage="submit")
    assert fal_submit(fal).status_code == 422
    fal.set_scenario("validation", field="image_size")
    sub = fal_submit(fal).json()
    httpx.get(sub["status_url"], headers=FAL_H)
    r = httpx.get(sub["response_url"], headers=FAL_H)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "image_size"]
    fal.set_scenario("success")
    sub = fal_submit(fal, {"prompt": "x", "num_images": 9}).json()
    httpx.get(sub["status_url"], headers=FAL_H)
    r = httpx.get(sub["response_url"], headers=FAL_H)
    assert r.json()["detail"][0]["type"] == "less_than_equal"  # pydantic v2, as fal answers
    fal.set_scenario("model_failed", error="OOM")
    sub = fal_submit(fal).json()
    assert httpx.get(sub["status_url"], headers=FAL_H).json()["error"] == "OOM"
    r = httpx.get(sub["response_url"], headers=FAL_H)
    assert r.status_code == 500 and r.headers["x-fal-error-type"] == "runner_server_error"


@pytest.mark.parametrize(
    "name,opts,status,needle",
    [
        ("no_credit", {}, 403, "Exhausted balance"),
        ("rate_limited", {}, 429, "Rate limit"),
        ("server_error", {"status": 503}, 503, "Internal server error"),
    ],
)
def test_fal_submit_errors(fal, name, opts, status, needle):
    fal.set_scenario(name, **opts)
    r = fal_submit(fal)
    assert r.status_code == status and needle in r.json()["detail"]
    if name == "server_error":
        assert r.headers["x-fal-error-type"] == r.json()["error_type"]
    if name == "rate_limited":
        assert r.headers["retry-after"] == "1"


def test_fal_misc_scenarios(fal):
    fal.set_scenario("rate_limited_once")
    assert fal_submit(fal).status_code == 429 and fal_submit(fal).status_code == 200
    fal.set_scenario("malformed")
    with pytest.raises(ValueError):
        fal_submit(fal).json()
    fal.set_scenario("slow", seconds=0.3)
    start = time.monotonic()
    assert fal_submit(fal).status_code == 200 and time.monotonic() - start >= 0.3
    fal.set_scenario("result_url", url="/files/bomb.png")
    sub = fal_submit(fal).json()
    httpx.get(sub["status_url"], headers=FAL_H)
    res = httpx.get(sub["response_url"], headers=FAL_H).json()
    assert res["images"][0]["url"] == fal.base_url + "/files/bomb.png"
    fal.set_scenario("success")
    sub = fal_submit(fal, {"prompt": "x", "sync_mode": True}, "fal-ai/fast-sdxl").json()
    httpx.get(sub["status_url"], headers=FAL_H)
    url = httpx.get(sub["response_url"], headers=FAL_H).json()["images"][0]["url"]
    assert url.startswith("data:image/jpeg;base64,")
