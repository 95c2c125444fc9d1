"""The fal fake refuses what the real service refuses, with fal's status and body shape
(sources in tests/fakes/fal_server.py's docstring); no Django."""

import base64
from io import BytesIO

import httpx
import pytest
from PIL import Image

from .fal_server import FakeFal
from .selfcheck_support import FAL_H, fake_fixtures, png_size

fal_server, fal_fixture = fake_fixtures("fal", FakeFal, admin_keys={"admin-id:admin-secret"})


def submit(fal, body, endpoint="fal-ai/flux/dev"):
    return httpx.post(f"{fal.base_url}/{endpoint}", json=body, headers=FAL_H)


def run_to_result(fal, body, endpoint="fal-ai/flux/dev"):
    sub = submit(fal, body, endpoint)
    assert sub.status_code == 200, sub.text
    status = httpx.get(sub.json()["status_url"], headers=FAL_H).json()
    return status, httpx.get(sub.json()["response_url"], headers=FAL_H)


def test_an_unknown_endpoint_is_404(fal):
    r = submit(fal, {"prompt": "x"}, "fal-ai/no-such-model")
    assert r.status_code == 404 and "not found" in r.json()["detail"]
    assert submit(fal, {"prompt": "x"}, "fal-ai/flux/nope").status_code == 404
    assert fal.jobs == {}


@pytest.mark.parametrize(
    ("endpoint", "body", "loc", "type_", "ctx"),
    [
        ("fal-ai/flux/dev", {"output_format": "gif"}, "output_format", "literal_error", None),
        ("fal-ai/flux/schnell", {"num_inference_steps": 50}, "num_inference_steps",
         "less_than_equal", {"le": 12}),
        ("fal-ai/flux/dev", {"num_images": 5}, "num_images", "less_than_equal", {"le": 4}),
        ("fal-ai/flux/dev", {"num_images": 0}, "num_images", "greater_than_equal", {"ge": 1}),
        ("fal-ai/flux/dev", {"num_images": "two"}, "num_images", "int_type", None),
        ("fal-ai/flux/dev", {"guidance_scale": 99}, "guidance_scale", "less_than_equal",
         {"le": 20}),
        ("fal-ai/flux/dev", {"image_size": "huge"}, "image_size", "literal_error", None),
        ("fal-ai/flux/dev", {"image_size": {"width": 0, "height": 512}}, "image_size",
         "greater_than", {"gt": 0}),
        ("fal-ai/flux-pro/v1.1", {"safety_tolerance": "7"}, "safety_tolerance",
         "literal_error", None),
        ("fal-ai/flux-pro/v1.1", {"safety_tolerance": 2}, "safety_tolerance", "literal_error",
         None),
        ("fal-ai/fast-sdxl", {"format": "webp"}, "format", "literal_error", None),
        ("fal-ai/flux/dev", {"enable_safety_checker": "yes"}, "enable_safety_checker",
         "bool_type", None),
    ],
)  # fmt: skip
def test_invalid_input_is_a_422_detail_list(fal, endpoint, body, loc, type_, ctx):
    status, r = run_to_result(fal, {"prompt": "x", **body}, endpoint)
    assert status["status"] == "COMPLETED" and status["error_type"] == type_
    assert r.status_code == 422
    item = r.json()["detail"][0]
    assert item["loc"][:2] == ["body", loc] and item["type"] == type_
    assert item["msg"].startswith("Input should") and item["url"].startswith("https://docs.fal.ai")
    if ctx:
        assert item["ctx"] == ctx


def test_a_missing_prompt_is_field_required(fal):
    _, r = run_to_result(fal, {"num_images": 1})
    assert r.status_code == 422
    assert r.json()["detail"][0] | {"input": None} == {
        "loc": ["body", "prompt"],
        "msg": "Field required",
        "type": "missing",
        "url": "https://docs.fal.ai/errors#missing",
        "input": None,
    }


def test_unknown_fields_are_ignored_but_recorded(fal):
    status, r = run_to_result(fal, {"prompt": "x", "guidance": 3, "steps": 4})
    assert r.status_code == 200 and "error" not in status
    assert fal.ignored_fields == [{"endpoint": "fal-ai/flux/dev", "fields": ["guidance", "steps"]}]


def test_flagged_images_come_back_black_and_marked(fal):
    fal.set_scenario("nsfw", flags=[True, False])
    _, r = run_to_result(fal, {"prompt": "x", "num_images": 2, "image_size": "square"})
    body = r.json()
    assert body["has_nsfw_concepts"] == [True, False]
    black = httpx.get(body["images"][0]["url"]).content
    assert png_size(black) == (512, 512)
    assert Image.open(BytesIO(black)).getpixel((0, 0)) == (0, 0, 0)
    assert Image.open(BytesIO(httpx.get(body["images"][1]["url"]).content)).getpixel((0, 0)) != (
        0,
        0,
        0,
    )


def test_completed_with_error_and_its_result(fal):
    fal.set_scenario("model_failed", error="CUDA out of memory")
    status, r = run_to_result(fal, {"prompt": "x"})
    assert (status["error"], status["error_type"]) == ("CUDA out of memory", "runner_server_error")
    assert r.status_code == 500 and r.json()["detail"] == "CUDA out of memory"
    # fal's own server: x-fal-request-id set, so not an ingress error fal_client retries.
    assert r.headers["x-fal-request-id"] and r.headers["x-fal-error-type"] == "runner_server_error"


def test_ingress_errors_look_like_nginx_and_pass(fal):
    fal.set_scenario("ingress_error", status=503, times=1)
    r = submit(fal, {"prompt": "x"})
    assert r.status_code == 503 and "nginx" in r.text
    assert "x-fal-request-id" not in r.headers
    assert submit(fal, {"prompt": "x"}).status_code == 200 and len(fal.jobs) == 1


def test_a_5xx_from_fal_itself_is_not_an_ingress_error(fal):
    fal.set_scenario("server_error", status=503)
    r = submit(fal, {"prompt": "x"})
    assert r.status_code == 503 and "nginx" not in r.text
    assert r.json()["error_type"] == "runner_scheduling_failure"


def test_a_late_submit_answer_still_queued_the_job(fal):
    fal.set_scenario("submit_timeout", seconds=2)
    with pytest.raises(httpx.ReadTimeout):
        submit_timeout = httpx.Timeout(0.3)
        httpx.post(
            f"{fal.base_url}/fal-ai/flux/dev",
            json={"prompt": "x"},
            headers=FAL_H,
            timeout=submit_timeout,
        )
    assert len(fal.jobs) == 1


def test_pricing_states_image_units_and_refuses_non_admin_keys(fal):
    r = httpx.get(
        fal.base_url + "/v1/models/pricing",
        params={"endpoint_id": "fal-ai/flux/dev"},
        headers=FAL_H,
    )
    assert r.json()["prices"] == [
        {"endpoint_id": "fal-ai/flux/dev", "unit_price": 0.025, "unit": "image", "currency": "USD"}
    ]
    fal.set_scenario("pricing_admin_only")
    r = httpx.get(fal.base_url + "/v1/models/pricing", headers=FAL_H)
    assert r.status_code == 403 and "error" in r.json()
    admin = {"Authorization": "Key admin-id:admin-secret"}
    fal.api_keys.add("admin-id:admin-secret")
    assert httpx.get(fal.base_url + "/v1/models/pricing", headers=admin).status_code == 200


def test_the_listing_pages_filters_and_expands(fal):
    url = fal.base_url + "/v1/models"
    first = httpx.get(url, params={"category": "text-to-image"}).json()  # no key needed
    assert first["has_more"] and base64.b64decode(first["next_cursor"]) == b"1"
    assert "openapi" not in first["models"][0]
    ids, cursor = [], None
    while True:
        params = {"category": "text-to-image", "expand": "openapi-3.0"}
        if cursor:
            params["cursor"] = cursor
        page = httpx.get(url, params=params, headers=FAL_H).json()
        ids += [m["endpoint_id"] for m in page["models"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
        document = page["models"][0]["openapi"]
        assert document["openapi"].startswith("3.0")
        body = document["paths"][f"/{page['models'][0]['endpoint_id']}"]["post"]["requestBody"]
        assert body["content"]["application/json"]["schema"]["$ref"].startswith("#/components/")
    assert len(ids) == 4 and not any("video" in i for i in ids)
    fal.set_model_deprecated("fal-ai/flux/dev")
    found = httpx.get(url, params={"endpoint_id": "fal-ai/flux/dev"}, headers=FAL_H).json()
    assert found["models"][0]["metadata"]["status"] == "deprecated"
    fal.remove_listed_model("fal-ai/flux/dev")
    assert httpx.get(url, params={"endpoint_id": "fal-ai/flux/dev"}).json()["models"] == []
    assert submit(fal, {"prompt": "x"}).status_code == 404
    fal.add_listed_model("fal-ai/new-flux", label="New")
    assert submit(fal, {"prompt": "x"}, "fal-ai/new-flux").status_code == 200
    r = httpx.get(url, params={"status": "retired"})
    assert r.status_code == 400


# ------------------------------------------------------------------ image-to-image endpoints
def image_uri(width=64, height=48, mode="RGB", fmt="PNG") -> str:
    out = BytesIO()
    Image.new(mode, (width, height), 128 if mode == "L" else (10, 120, 200)).save(out, fmt)
    mime = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode()}"


def refused(fal, body, endpoint):
    status, r = run_to_result(fal, body, endpoint)
    assert status["status"] == "COMPLETED" and status["error_type"], status
    assert r.status_code == 422, r.text
    return r.json()["detail"]


def result_image(body: dict) -> Image.Image:
    return Image.open(BytesIO(httpx.get(body["url"]).content))


@pytest.mark.parametrize(
    ("endpoint", "body", "loc", "type_"),
    [
        ("fal-ai/flux-pro/kontext", {"prompt": "x"}, ["body", "image_url"], "missing"),
        ("fal-ai/nano-banana/edit", {"prompt": "xyz"}, ["body", "image_urls"], "missing"),
        ("fal-ai/flux-pro/v1/fill", {"prompt": "x", "image_url": image_uri()},
         ["body", "mask_url"], "missing"),
        ("fal-ai/seedvr/upscale/image", {}, ["body", "image_url"], "missing"),
        ("fal-ai/birefnet/v2", {"model": "Portrait"}, ["body", "image_url"], "missing"),
        ("fal-ai/seedvr/upscale/image", {"image_url": image_uri(), "upscale_factor": 11},
         ["body", "upscale_factor"], "less_than_equal"),
        ("fal-ai/seedvr/upscale/image", {"image_url": image_uri(), "upscale_factor": 0.5},
         ["body", "upscale_factor"], "greater_than_equal"),
        ("fal-ai/nano-banana/edit", {"prompt": "ab", "image_urls": [image_uri()]},
         ["body", "prompt"], "string_too_short"),
        ("fal-ai/nano-banana/edit", {"prompt": "xyz", "image_urls": image_uri()},
         ["body", "image_urls"], "list_type"),
        ("fal-ai/nano-banana/edit", {"prompt": "xyz", "image_urls": []},
         ["body", "image_urls"], "too_short"),
        ("fal-ai/flux-pro/kontext", {"prompt": "x", "image_url": image_uri(),
                                     "aspect_ratio": "2:1"}, ["body", "aspect_ratio"],
         "literal_error"),
        ("fal-ai/birefnet/v2", {"image_url": image_uri(), "output_format": "jpeg"},
         ["body", "output_format"], "literal_error"),
    ],
)  # fmt: skip
def test_image_endpoints_validate_their_inputs(fal, endpoint, body, loc, type_):
    (item, *_) = refused(fal, body, endpoint)
    assert (item["loc"], item["type"]) == (loc, type_), item


@pytest.mark.parametrize(
    ("value", "type_"),
    [
        ("http://127.0.0.1:8000/media/input.png", "file_download_error"),  # not fetchable
        ("/media/input.png", "file_download_error"),
        ("data:image/png;base64,not*base64", "image_load_error"),
        ("data:image/png," + "A" * 12, "image_load_error"),  # not base64-encoded
        ("data:text/plain;base64," + base64.b64encode(b"hello").decode(), "image_load_error"),
        ("data:image/png;base64," + base64.b64encode(b"<html>no png</html>").decode(),
         "image_load_error"),
    ],
)  # fmt: skip
def test_an_image_input_must_be_an_https_url_or_an_image_data_uri(fal, value, type_):
    (item,) = refused(fal, {"prompt": "x", "image_url": value}, "fal-ai/flux-pro/kontext")
    assert item["loc"] == ["body", "image_url"] and item["type"] == type_
    assert item["url"] == f"https://docs.fal.ai/errors#{type_}"
    (item,) = refused(fal, {"prompt": "xyz", "image_urls": [image_uri(), value]},
                      "fal-ai/nano-banana/edit")  # fmt: skip
    assert item["loc"] == ["body", "image_urls", 1] and item["type"] == type_


def test_an_https_url_is_taken_as_fal_would_fetch_it(fal):
    status, r = run_to_result(
        fal, {"prompt": "x", "image_url": "https://example.com/in.png"}, "fal-ai/flux-pro/kontext"
    )
    assert r.status_code == 200 and "error" not in status


def test_fill_refuses_a_mask_of_another_size(fal):
    body = {"prompt": "x", "image_url": image_uri(64, 48), "mask_url": image_uri(48, 64, "L")}
    (item,) = refused(fal, body, "fal-ai/flux-pro/v1/fill")
    assert item["loc"] == ["body", "mask_url"] and "same dimensions" in item["msg"]
    body["mask_url"] = image_uri(64, 48, "L")
    _, r = run_to_result(fal, body, "fal-ai/flux-pro/v1/fill")
    assert r.status_code == 200
    assert [result_image(i).size for i in r.json()["images"]] == [(64, 48)]


def test_outputs_follow_the_inputs(fal):
    _, r = run_to_result(
        fal, {"image_url": image_uri(64, 48), "upscale_factor": 4}, "fal-ai/seedvr/upscale/image"
    )
    body = r.json()
    assert set(body) == {"image", "seed"} and result_image(body["image"]).size == (256, 192)
    _, r = run_to_result(fal, {"image_url": image_uri(64, 48)}, "fal-ai/birefnet/v2")
    cutout = result_image(r.json()["image"])
    assert cutout.size == (64, 48) and cutout.mode == "RGBA" and cutout.getpixel((0, 0))[3] == 0
    body = {"prompt": "x", "image_url": image_uri(64, 48, fmt="JPEG"), "aspect_ratio": "16:9"}
    _, r = run_to_result(fal, body, "fal-ai/flux-pro/kontext")
    assert result_image(r.json()["images"][0]).size == (1360, 768)
    _, r = run_to_result(
        fal, {"prompt": "xyz", "image_urls": [image_uri(80, 40, fmt="WEBP")]},
        "fal-ai/nano-banana/edit",
    )  # fmt: skip
    assert set(r.json()) == {"images", "description"}
    assert result_image(r.json()["images"][0]).size == (80, 40)
