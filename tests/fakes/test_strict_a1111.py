"""Self-check of FakeA1111: it answers like AUTOMATIC1111/Forge's API, refusals included."""

from __future__ import annotations

import base64
import io
import json
import threading
import time

import httpx
import pytest
from PIL import Image

from .a1111_server import FakeA1111
from .selfcheck_support import fake_fixtures

pytestmark = pytest.mark.fakes

a1111_server, a1111 = fake_fixtures("a1111", FakeA1111)
forge_server, forge = fake_fixtures("forge", FakeA1111, flavor="forge")
locked_server, locked = fake_fixtures("locked", FakeA1111, basic_auth=("user", "pass"))


def b64_png(w, h, color=(10, 20, 30), mode="RGB"):
    buf = io.BytesIO()
    Image.new(mode, (w, h), color).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def decode(b64: str) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(b64)))


def post(fake, path, body=None, **kw):
    return httpx.post(fake.base_url + path, json=body, timeout=10, **kw)


def test_txt2img_images_info_and_seeds(a1111):
    r = post(
        a1111,
        "/sdapi/v1/txt2img",
        {
            "prompt": "a fox",
            "width": 64,
            "height": 72,
            "batch_size": 2,
            "n_iter": 2,
            "seed": 1234,
            "steps": 3,
        },
    )
    assert r.status_code == 200
    body = r.json()
    assert len(body["images"]) == 4
    assert all(decode(i).size == (64, 72) for i in body["images"])
    assert isinstance(body["info"], str)
    info = json.loads(body["info"])
    assert info["seed"] == 1234 and info["all_seeds"] == [1234, 1235, 1236, 1237]
    assert info["sampler_name"] == "Euler" and info["steps"] == 3  # sampler_index default
    assert "Seed: 1235" in decode(body["images"][1]).info["parameters"]
    assert body["parameters"]["prompt"] == "a fox" and body["parameters"]["cfg_scale"] == 7.0
    # same seed, same picture; another seed, another picture
    again = post(
        a1111,
        "/sdapi/v1/txt2img",
        {"prompt": "x", "width": 64, "height": 72, "seed": 1234, "steps": 1},
    ).json()
    assert decode(again["images"][0]).getpixel((0, 0)) == decode(body["images"][0]).getpixel((0, 0))
    assert decode(body["images"][1]).getpixel((0, 0)) != decode(body["images"][0]).getpixel((0, 0))


def test_random_seed_and_latent_size(a1111):
    info = json.loads(
        post(a1111, "/sdapi/v1/txt2img", {"width": 100, "height": 60, "steps": 1}).json()["info"]
    )
    assert info["seed"] != -1 and info["all_seeds"] == [info["seed"]]
    r = post(a1111, "/sdapi/v1/txt2img", {"width": 100, "height": 60, "steps": 1})
    assert decode(r.json()["images"][0]).size == (96, 56)  # latent is w//8, h//8


def test_unknown_fields_are_ignored_and_types_coerced_like_pydantic_v1(a1111):
    r = post(
        a1111,
        "/sdapi/v1/txt2img",
        {"prompt": 5, "steps": "2", "width": 64.9, "height": 64, "no_such_field": 1},
    )
    assert r.status_code == 200
    params = r.json()["parameters"]
    assert params["prompt"] == "5" and params["steps"] == 2 and params["width"] == 64
    assert "no_such_field" not in params


def test_validation_errors_a1111_shape(a1111):
    r = post(a1111, "/sdapi/v1/txt2img", {"steps": "many", "styles": [{}], "send_images": None})
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert {
        "loc": ["body", "steps"],
        "msg": "value is not a valid integer",
        "type": "type_error.integer",
    } in detail
    assert {
        "loc": ["body", "styles", 0],
        "msg": "str type expected",
        "type": "type_error.str",
    } in detail
    assert {
        "loc": ["body", "send_images"],
        "msg": "none is not an allowed value",
        "type": "type_error.none.not_allowed",
    } in detail
    assert a1111.jobs == []
    missing = httpx.post(a1111.base_url + "/sdapi/v1/txt2img")
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["msg"] == "field required"
    notjson = httpx.post(
        a1111.base_url + "/sdapi/v1/txt2img",
        content=b"{nope",
        headers={"content-type": "application/json"},
    )
    assert notjson.status_code == 422
    assert notjson.json()["detail"][0]["type"] == "value_error.jsondecode"


def test_validation_errors_forge_shape(forge):
    r = post(forge, "/sdapi/v1/txt2img", {"steps": "many", "prompt": 5, "width": 64.5})
    assert r.status_code == 422
    detail = {tuple(d["loc"]): d for d in r.json()["detail"]}
    assert detail[("body", "steps")]["type"] == "int_parsing"
    assert detail[("body", "steps")]["input"] == "many"
    assert detail[("body", "prompt")]["msg"] == "Input should be a valid string"
    assert detail[("body", "width")]["type"] == "int_from_float"


def test_unknown_sampler_falls_back_and_scheduler_suffix_is_split(a1111):
    info = json.loads(
        post(
            a1111,
            "/sdapi/v1/txt2img",
            {"sampler_name": "Nope", "steps": 1, "width": 64, "height": 64},
        ).json()["info"]
    )
    assert info["sampler_name"] == "DPM++ 2M"
    info = json.loads(
        post(
            a1111,
            "/sdapi/v1/txt2img",
            {"sampler_name": "Euler a Exponential", "steps": 1, "width": 64, "height": 64},
        ).json()["info"]
    )
    assert info["sampler_name"] == "Euler a"
    assert info["extra_generation_params"]["Schedule type"] == "Exponential"


def test_checkpoint_override_and_options(a1111):
    models = httpx.get(a1111.base_url + "/sdapi/v1/sd-models").json()
    assert set(models[0]) == {"title", "model_name", "hash", "sha256", "filename", "config"}
    xl = models[1]
    body = {"steps": 1, "width": 64, "height": 64}
    info = json.loads(
        post(
            a1111,
            "/sdapi/v1/txt2img",
            {**body, "override_settings": {"sd_model_checkpoint": xl["title"]}},
        ).json()["info"]
    )
    assert info["sd_model_name"] == "sd_xl_base_1.0"
    info = json.loads(
        post(
            a1111,
            "/sdapi/v1/txt2img",
            {**body, "override_settings": {"sd_model_checkpoint": "ghost.ckpt"}},
        ).json()["info"]
    )
    assert info["sd_model_name"] == "v1-5-pruned-emaonly"  # dropped silently, loaded model ran
    r = post(a1111, "/sdapi/v1/options", {"sd_model_checkpoint": "ghost.ckpt"})
    assert r.status_code == 500
    assert r.json() == {
        "error": "RuntimeError",
        "detail": "",
        "body": "",
        "errors": "model 'ghost.ckpt' not found",
    }
    assert (
        post(a1111, "/sdapi/v1/options", {"sd_model_checkpoint": xl["model_name"]}).json() is None
    )
    opts = httpx.get(a1111.base_url + "/sdapi/v1/options").json()
    assert opts["sd_model_checkpoint"] == xl["title"]


def test_lists_and_ping_and_unknown_routes(a1111):
    base = a1111.base_url
    samplers = httpx.get(base + "/sdapi/v1/samplers").json()
    assert samplers[0] == {
        "name": "DPM++ 2M",
        "aliases": ["k_dpmpp_2m"],
        "options": {"scheduler": "karras"},
    }
    assert httpx.get(base + "/sdapi/v1/schedulers").json()[0]["label"] == "Automatic"
    assert "R-ESRGAN 4x+" in [u["name"] for u in httpx.get(base + "/sdapi/v1/upscalers").json()]
    assert httpx.get(base + "/internal/ping").json() == {}
    assert httpx.get(base + "/sdapi/v1/nope").json() == {"detail": "Not Found"}
    assert httpx.get(base + "/sdapi/v1/txt2img").status_code == 405


def test_basic_auth(locked):
    body = {"steps": 1, "width": 64, "height": 64}
    r = post(locked, "/sdapi/v1/txt2img", body)
    assert r.status_code == 401
    assert r.json()["detail"] == "Not authenticated" and r.json()["error"] == "HTTPException"
    r = post(locked, "/sdapi/v1/txt2img", body, auth=("user", "wrong"))
    assert r.status_code == 401
    assert r.json() == {
        "error": "HTTPException",
        "detail": "Incorrect username or password",
        "body": "",
        "errors": "401: Incorrect username or password",
    }
    assert httpx.get(locked.base_url + "/sdapi/v1/progress").status_code == 401
    assert post(locked, "/sdapi/v1/txt2img", body, auth=("user", "pass")).status_code == 200
    assert httpx.get(locked.base_url + "/internal/ping").status_code == 200  # not behind auth
    bad_json = httpx.post(
        locked.base_url + "/sdapi/v1/txt2img",
        content=b"[",
        headers={"content-type": "application/json"},
    )
    assert bad_json.status_code == 422  # the body is read before the auth dependency runs


def test_forge_http_errors_keep_fastapi_shape():
    with FakeA1111(flavor="forge", basic_auth=("u", "p")) as fake:
        r = post(fake, "/sdapi/v1/txt2img", {}, auth=("u", "x"))
        assert r.status_code == 401
        assert r.json() == {"detail": "Incorrect username or password"}
        assert r.headers["www-authenticate"] == "Basic"
        r = post(fake, "/sdapi/v1/img2img", {"init_images": ["%%%"]}, auth=("u", "p"))
        assert r.status_code == 500 and r.json() == {"detail": "Invalid encoded image"}
        fake.set_scenario("fail")
        r = post(
            fake, "/sdapi/v1/txt2img", {"steps": 2, "width": 64, "height": 64}, auth=("u", "p")
        )
        assert r.status_code == 500
        assert set(r.json()) == {"error", "detail", "body", "message"}
        assert fake.server_errors == []


def test_img2img_inputs_sizes_and_mask(a1111):
    init = b64_png(200, 100, (0, 0, 255))
    r = post(
        a1111,
        "/sdapi/v1/img2img",
        {
            "init_images": ["data:image/png;base64," + init],
            "width": 64,
            "height": 64,
            "steps": 1,
            "seed": 7,
            "denoising_strength": 0.0,
        },
    )
    assert r.status_code == 200
    out = decode(r.json()["images"][0])
    assert out.size == (64, 64) and out.convert("RGB").getpixel((5, 5)) == (0, 0, 255)
    assert r.json()["parameters"]["init_images"] is None
    # inpaint "only masked" keeps the init image's size; the mask's white area is repainted
    mask = Image.new("L", (200, 100), 0)
    mask.paste(255, (0, 0, 50, 100))
    buf = io.BytesIO()
    mask.save(buf, format="PNG")
    r = post(
        a1111,
        "/sdapi/v1/img2img",
        {
            "init_images": [init],
            "mask": base64.b64encode(buf.getvalue()).decode(),
            "width": 64,
            "height": 64,
            "steps": 1,
            "seed": 7,
            "include_init_images": True,
        },
    )
    out = decode(r.json()["images"][0]).convert("RGB")
    assert out.size == (200, 100)
    assert out.getpixel((150, 50)) == (0, 0, 255) and out.getpixel((10, 50)) != (0, 0, 255)
    assert r.json()["parameters"]["init_images"] == [init]
    r = post(
        a1111,
        "/sdapi/v1/img2img",
        {
            "init_images": [init],
            "mask": base64.b64encode(buf.getvalue()).decode(),
            "inpaint_full_res": False,
            "inpainting_mask_invert": 1,
            "width": 64,
            "height": 32,
            "steps": 1,
            "seed": 7,
        },
    )
    out = decode(r.json()["images"][0]).convert("RGB")
    assert out.size == (64, 32)
    assert out.getpixel((5, 16)) == (0, 0, 255) and out.getpixel((60, 16)) != (0, 0, 255)


def test_img2img_refusals(a1111):
    r = post(a1111, "/sdapi/v1/img2img", {"prompt": "x"})
    assert r.status_code == 404
    assert r.json() == {
        "error": "HTTPException",
        "detail": "Init image not found",
        "body": "",
        "errors": "404: Init image not found",
    }
    r = post(a1111, "/sdapi/v1/img2img", {"init_images": ["bm90IGFuIGltYWdl"]})
    assert r.status_code == 500 and r.json()["detail"] == "Invalid encoded image"
    r = post(a1111, "/sdapi/v1/img2img", {"init_images": ["http://127.0.0.1/x.png"]})
    assert r.status_code == 500 and r.json()["detail"] == "Request to local resource not allowed"
    r = post(a1111, "/sdapi/v1/img2img", {"init_images": []})
    assert r.status_code == 500 and r.json()["error"] == "IndexError"
    r = post(a1111, "/sdapi/v1/img2img", {"init_images": "abc"})
    assert r.status_code == 422 and r.json()["detail"][0]["type"] == "type_error.list"


def test_progress_interrupt_returns_partial_result(a1111):
    a1111.set_scenario("slow", step_seconds=0.02)
    idle = httpx.get(a1111.base_url + "/sdapi/v1/progress").json()
    assert idle["progress"] == 0 and idle["state"]["job_count"] == 0
    result = {}
    body = {"steps": 20, "n_iter": 3, "width": 64, "height": 64, "seed": 5}
    t = threading.Thread(target=lambda: result.update(r=post(a1111, "/sdapi/v1/txt2img", body)))
    t.start()
    seen = []
    deadline = time.time() + 5
    while time.time() < deadline:
        p = httpx.get(a1111.base_url + "/sdapi/v1/progress?skip_current_image=true").json()
        if p["state"]["sampling_step"] >= 12:
            seen.append(p)
            break
        if p["state"]["job_count"]:
            seen.append(p)
        time.sleep(0.01)
    assert seen and seen[-1]["state"]["sampling_steps"] == 20
    assert 0 < seen[-1]["progress"] < 0.5 and seen[-1]["current_image"] is None
    assert seen[-1]["state"]["job"] == "Batch 1 out of 3"
    with_preview = httpx.get(a1111.base_url + "/sdapi/v1/progress").json()
    assert with_preview["current_image"]
    assert post(a1111, "/sdapi/v1/interrupt").json() == {}
    t.join(5)
    r = result["r"]
    assert r.status_code == 200
    assert len(r.json()["images"]) == 1  # the interrupted iteration still yields its image
    assert json.loads(r.json()["info"])["all_seeds"] == [5, 6, 7]
    assert a1111.jobs[-1]["interrupted"] is True
    assert httpx.get(a1111.base_url + "/sdapi/v1/progress").json()["progress"] == 0


def test_one_job_at_a_time(a1111):
    a1111.set_scenario("slow", step_seconds=0.01)
    body = {"steps": 10, "width": 64, "height": 64}
    done = []

    def run():
        post(a1111, "/sdapi/v1/txt2img", body)
        done.append(time.monotonic())

    threads = [threading.Thread(target=run) for _ in range(2)]
    start = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(5)
    assert len(done) == 2
    assert max(done) - start >= 0.19  # 2 x 10 steps x 10 ms, one after the other


def test_fail_scenario_middleware_body(a1111):
    a1111.set_scenario("fail", message="boom")
    r = post(a1111, "/sdapi/v1/txt2img", {"steps": 2, "width": 64, "height": 64})
    assert r.status_code == 500
    assert r.json() == {"error": "OutOfMemoryError", "detail": "", "body": "", "errors": "boom"}
    assert httpx.get(a1111.base_url + "/sdapi/v1/progress").json()["state"]["job_count"] == 0


def test_extra_single_image(a1111):
    img = b64_png(100, 50)
    r = post(
        a1111,
        "/sdapi/v1/extra-single-image",
        {"image": img, "upscaler_1": "R-ESRGAN 4x+", "upscaling_resize": 2.5},
    )
    assert r.status_code == 200
    assert decode(r.json()["image"]).size == (248, 120)  # (w * s) // 8 * 8
    r = post(
        a1111,
        "/sdapi/v1/extra-single-image",
        {
            "image": img,
            "upscaler_1": "Lanczos",
            "resize_mode": 1,
            "upscaling_resize_w": 300,
            "upscaling_resize_h": 300,
        },
    )
    assert decode(r.json()["image"]).size == (300, 300)
    assert decode(
        post(a1111, "/sdapi/v1/extra-single-image", {"image": img}).json()["image"]
    ).size == (100, 50)
    r = post(a1111, "/sdapi/v1/extra-single-image", {"image": img, "upscaler_1": "Magic"})
    assert r.status_code == 500
    assert r.json()["errors"] == "could not find upscaler named Magic"
    r = post(
        a1111,
        "/sdapi/v1/extra-single-image",
        {"image": img, "resize_mode": 2, "upscaling_resize": 0},
    )
    assert r.status_code == 422
    types = {d["loc"][1]: d["type"] for d in r.json()["detail"]}
    assert types == {
        "resize_mode": "value_error.const",
        "upscaling_resize": "value_error.number.not_gt",
    }


def test_die_and_come_back():
    with FakeA1111() as fake:
        fake.set_scenario("slow", step_seconds=0.05)
        url = fake.base_url
        errors = []

        def run():
            try:
                post(fake, "/sdapi/v1/txt2img", {"steps": 50, "width": 64, "height": 64})
            except httpx.HTTPError as exc:
                errors.append(exc)

        t = threading.Thread(target=run)
        t.start()
        time.sleep(0.3)
        fake.die()
        t.join(5)
        assert errors, "the running request must be cut off"
        with pytest.raises(httpx.ConnectError):
            httpx.get(url + "/sdapi/v1/progress", timeout=2)
        fake.come_back()
        assert fake.base_url == url
        p = httpx.get(url + "/sdapi/v1/progress").json()
        assert p["state"]["job_count"] == 0
        assert (
            post(fake, "/sdapi/v1/txt2img", {"steps": 1, "width": 64, "height": 64}).status_code
            == 200
        )
        assert fake.server_errors == []
