"""The Replicate fake refuses what Replicate refuses, with Replicate's status and body shape.

Driven through the replicate SDK (1.0.7) and, where the SDK hides the body (``ReplicateError``
keeps no ``invalid_fields``, no headers), through httpx. Sources: see the fake's docstring."""

from __future__ import annotations

import base64
import io
import os

import httpx
import pydantic.v1
import pytest
from PIL import Image
from replicate.exceptions import ReplicateError

from .replicate_server import (
    NOT_FOUND,
    REAL_ESRGAN_VERSION,
    SDXL_VERSION,
    FakeReplicate,
    input_properties,
)
from .selfcheck_support import fake_fixtures, rep_client

pytestmark = pytest.mark.fakes
rep_server, rep_fixture = fake_fixtures("rep", FakeReplicate)

SCHNELL = "black-forest-labs/flux-schnell"
DEV = "black-forest-labs/flux-dev"
PRO = "black-forest-labs/flux-1.1-pro"
AUTH = {"Authorization": "Bearer r8_test_good"}


def create_raw(rep, model: str, inp: dict, timeout: float = 10) -> httpx.Response:
    return httpx.post(
        f"{rep.base_url}/v1/models/{model}/predictions",
        headers=AUTH,
        json={"input": inp},
        timeout=timeout,
    )


def refused(rep, model: str, inp: dict) -> ReplicateError:
    with pytest.raises(ReplicateError) as exc:
        rep_client(rep).predictions.create(model=model, input=inp)
    return exc.value


@pytest.mark.parametrize(
    ("model", "inp", "field", "kind", "words"),
    [
        (PRO, {"aspect_ratio": "21:9"}, "input.aspect_ratio", "enum", "aspect_ratio must be one"),
        (PRO, {"aspect_ratio": "9:21"}, "input.aspect_ratio", "enum", '"custom", "1:1", "16:9"'),
        (PRO, {"safety_tolerance": 6}, "input.safety_tolerance", "number_lte", "equal to 5"),
        (PRO, {"safety_tolerance": 0}, "input.safety_tolerance", "number_gte", "equal to 1"),
        (DEV, {"guidance": 99}, "input.guidance", "number_lte", "less than or equal to 10"),
        (DEV, {"num_inference_steps": 500}, "input.num_inference_steps", "number_lte", "50"),
        (SCHNELL, {"num_inference_steps": 8}, "input.num_inference_steps", "number_lte", "4"),
        (SCHNELL, {"num_outputs": 5}, "input.num_outputs", "number_lte", "equal to 4"),
        (SCHNELL, {"megapixels": "2"}, "input.megapixels", "enum", '"1", "0.25"'),
        (SCHNELL, {"output_format": "gif"}, "input.output_format", "enum", '"webp", "jpg"'),
        (
            SCHNELL,
            {"num_outputs": "2"},
            "input.num_outputs",
            "invalid_type",
            "Invalid type. Expected: integer, given: string",
        ),
        (SCHNELL, {"go_fast": "yes"}, "input.go_fast", "invalid_type", "Expected: boolean"),
        (DEV, {"num_inference_steps": 2.5}, "input.num_inference_steps", "invalid_type", "number"),
    ],
)
def test_out_of_schema_inputs_are_422_with_invalid_fields(rep, model, inp, field, kind, words):
    error = refused(rep, model, {"prompt": "x", **inp})
    assert (error.status, error.title) == (422, "Input validation failed")
    assert error.detail.startswith(f"- {field}: ")
    body = create_raw(rep, model, {"prompt": "x", **inp}).json()
    (invalid,) = body["invalid_fields"]
    assert (invalid["field"], invalid["type"]) == (field, kind)
    assert words in invalid["description"], invalid["description"]
    assert body["detail"] == f"- {field}: {invalid['description']}\n"
    assert rep.predictions == {}


def test_a_missing_prompt_is_required(rep):
    error = refused(rep, SCHNELL, {"num_outputs": 1})
    assert error.status == 422 and error.detail == "- input: prompt is required\n"


def test_unknown_models_and_versions_are_refused(rep):
    error = refused(rep, "acme/no-such-model", {"prompt": "x"})
    assert (error.status, error.detail) == (404, NOT_FOUND)
    # A community model cannot run on the official-models endpoint (only by version).
    assert refused(rep, "stability-ai/sdxl", {"prompt": "x"}).status == 404
    client = rep_client(rep)
    for version in ("0" * 64, "stability-ai/sdxl:" + "1" * 64, "acme/x"):
        with pytest.raises(ReplicateError) as exc:
            client.predictions.create(version=version, input={"prompt": "x"})
        assert (exc.value.status, exc.value.title) == (422, "Invalid version or not permitted")
    assert rep.predictions == {}
    p = client.predictions.create(version=SDXL_VERSION, input={"prompt": "x", "width": 768})
    assert p.status == "starting" and p.model == "stability-ai/sdxl"


def test_unknown_inputs_are_ignored_as_replicate_does_and_recorded(rep):
    p = rep_client(rep).predictions.create(
        model=SCHNELL, input={"prompt": "x", "guidance_scale": 7, "steps": 4}
    )
    assert p.status == "starting"
    assert rep.schema_violations() == {p.id: ["guidance_scale", "steps"]}


def test_the_models_endpoints_and_collection_serve_real_shaped_schemas(rep):
    client = rep_client(rep)
    sdxl = client.models.get("stability-ai/sdxl")
    assert sdxl.latest_version.id == SDXL_VERSION
    schema = sdxl.latest_version.openapi_schema
    scheduler = schema["components"]["schemas"]["Input"]["properties"]["scheduler"]
    assert scheduler["allOf"] == [{"$ref": "#/components/schemas/scheduler"}]
    props, _ = input_properties(schema)
    assert props["scheduler"]["default"] == "K_EULER" and "DDIM" in props["scheduler"]["enum"]
    assert props["num_inference_steps"]["maximum"] == 500
    version = client.models.get("stability-ai/sdxl").versions.get(SDXL_VERSION)
    assert version.openapi_schema == schema
    raw = httpx.get(f"{rep.base_url}/v1/models/{PRO}", headers=AUTH).json()
    assert raw["is_official"] is True and "deprecated" not in raw
    collection = client.collections.get("text-to-image")
    assert {f"{m.owner}/{m.name}" for m in collection.models} >= {SCHNELL, DEV, PRO}
    with pytest.raises(ReplicateError) as exc:
        client.models.get("acme/nothing")
    assert exc.value.status == 404


def test_models_can_be_listed_and_removed_at_runtime(rep):
    client = rep_client(rep)
    rep.add_listed_model(
        "acme/painter",
        {
            "required": ["prompt"],
            "properties": {
                "prompt": {"type": "string"},
                "style": {"allOf": [{"$ref": "#/components/schemas/style"}], "default": "oil"},
            },
        },
        components={"style": {"enum": ["oil", "ink"], "type": "string", "title": "style"}},
    )
    assert "acme/painter" in {
        f"{m.owner}/{m.name}" for m in client.collections.get("text-to-image").models
    }
    assert refused(rep, "acme/painter", {"prompt": "x", "style": "gouache"}).status == 422
    assert client.predictions.create(model="acme/painter", input={"prompt": "x"}).id
    rep.remove_listed_model("acme/painter")
    assert refused(rep, "acme/painter", {"prompt": "x"}).status == 404
    with pytest.raises(ReplicateError):
        client.models.get("acme/painter")
    assert "acme/painter" not in {
        f"{m.owner}/{m.name}" for m in client.collections.get("text-to-image").models
    }


def test_aborted_is_a_status_the_sdk_cannot_parse(rep):
    rep.set_scenario("aborted", polls=2)
    client = rep_client(rep)
    p = client.predictions.create(model=SCHNELL, input={"prompt": "x"})
    assert client.predictions.get(p.id).status == "starting"  # never processing
    with pytest.raises(pydantic.v1.ValidationError):  # replicate 1.0.7: Literal of 5 statuses
        client.predictions.get(p.id)
    body = httpx.get(f"{rep.base_url}/v1/predictions/{p.id}", headers=AUTH).json()
    assert (body["status"], body["started_at"], body["output"]) == ("aborted", None, None)


def test_a_create_whose_answer_is_lost_still_made_the_prediction(rep):
    rep.set_scenario("create_timeout", seconds=1)
    with pytest.raises(httpx.ReadTimeout):
        create_raw(rep, SCHNELL, {"prompt": "x"}, timeout=0.3)
    assert len(rep.predictions) == 1


@pytest.mark.parametrize("stage", ["create", "get"])
def test_429_carries_retry_after_and_a_detail(rep, stage):
    p = rep_client(rep).predictions.create(model=SCHNELL, input={"prompt": "x"})
    rep.set_scenario("rate_limited", stage=stage, retry_after=7)
    if stage == "create":
        response = create_raw(rep, SCHNELL, {"prompt": "x"})
    else:
        response = httpx.get(f"{rep.base_url}/v1/predictions/{p.id}", headers=AUTH)
    assert response.status_code == 429 and response.headers["retry-after"] == "7"
    assert "retry-after-ms" not in response.headers
    assert response.json()["detail"].startswith("Request was throttled")


def test_create_answered_5xx_and_a_forbidden_check(rep):
    rep.set_scenario("server_error", status=503)
    assert refused(rep, SCHNELL, {"prompt": "x"}).status == 503
    rep.set_scenario("forbidden")
    with pytest.raises(ReplicateError) as exc:
        rep_client(rep).accounts.current()
    assert exc.value.status == 403


# ------------------------------------------------------------------ image models and files
KONTEXT = "black-forest-labs/flux-kontext-pro"
FILL = "black-forest-labs/flux-fill-pro"
RMBG = "recraft-ai/recraft-remove-background"


def image_uri(width=64, height=48, mode="RGB") -> str:
    out = io.BytesIO()
    Image.new(mode, (width, height), 128 if mode == "L" else (10, 120, 200)).save(out, "PNG")
    return f"data:image/png;base64,{base64.b64encode(out.getvalue()).decode()}"


def finished(rep, prediction_id: str) -> dict:
    for _ in range(10):
        body = httpx.get(f"{rep.base_url}/v1/predictions/{prediction_id}", headers=AUTH).json()
        if body["status"] in ("succeeded", "failed", "canceled", "aborted"):
            return body
    raise AssertionError(f"prediction {prediction_id} never ended")


def output_size(rep, url: str, mode: str = "") -> tuple[int, int]:
    image = Image.open(io.BytesIO(httpx.get(url).content))
    assert not mode or image.mode == mode
    return image.size


@pytest.mark.parametrize(
    ("model", "inp", "field", "kind"),
    [
        (FILL, {"prompt": "x"}, "input", "required"),
        (RMBG, {}, "input", "required"),
        (KONTEXT, {"prompt": "x", "input_image": "not a url"}, "input.input_image", "format"),
        ("google/nano-banana", {"prompt": "x", "image_input": image_uri()},
         "input.image_input", "invalid_type"),
        ("google/nano-banana", {"prompt": "x", "image_input": [image_uri(), "nope"]},
         "input.image_input.1", "format"),
        ("google/nano-banana", {"prompt": "x", "aspect_ratio": "2:1"}, "input.aspect_ratio",
         "enum"),
        (KONTEXT, {"prompt": "x", "safety_tolerance": 7}, "input.safety_tolerance",
         "number_lte"),
        (FILL, {"prompt": "x", "image": image_uri(), "guidance": 60}, "input.guidance",
         "number_lte"),
    ],
)  # fmt: skip
def test_image_models_validate_their_inputs_at_create(rep, model, inp, field, kind):
    error = refused(rep, model, inp)
    assert (error.status, error.title) == (422, "Input validation failed")
    (invalid,) = create_raw(rep, model, inp).json()["invalid_fields"]
    assert (invalid["field"], invalid["type"]) == (field, kind), invalid
    assert rep.predictions == {}


def test_real_esrgan_runs_by_version_and_refuses_an_out_of_range_scale(rep):
    client = rep_client(rep)
    with pytest.raises(ReplicateError) as exc:
        client.predictions.create(
            version=REAL_ESRGAN_VERSION, input={"image": image_uri(), "scale": 11}
        )
    assert exc.value.status == 422 and "input.scale" in exc.value.detail
    assert refused(rep, "nightmareai/real-esrgan", {"image": image_uri()}).status == 404
    p = client.predictions.create(
        version=REAL_ESRGAN_VERSION, input={"image": image_uri(), "scale": 3}
    )
    body = finished(rep, p.id)
    assert body["status"] == "succeeded" and output_size(rep, body["output"]) == (192, 144)


def test_a_data_uri_of_a_megabyte_or_more_is_refused(rep):
    big = "data:image/png;base64," + base64.b64encode(os.urandom(1_100_000)).decode()
    (invalid,) = create_raw(rep, KONTEXT, {"prompt": "x", "input_image": big}).json()[
        "invalid_fields"
    ]
    assert (invalid["field"], invalid["type"]) == ("input.input_image", "data_url_too_large")


@pytest.mark.parametrize(
    "value",
    [
        "data:image/png;base64,not*base64",
        "data:image/png;base64," + base64.b64encode(b"<html>no png</html>").decode(),
        "http://127.0.0.1:8000/media/input.png",  # a URL Replicate cannot reach
        "file:///etc/passwd",
    ],
)
def test_an_unreadable_file_input_fails_the_prediction(rep, value):
    p = rep_client(rep).predictions.create(
        model=KONTEXT, input={"prompt": "x", "input_image": value}
    )
    body = finished(rep, p.id)
    assert body["status"] == "failed" and "could not read input 'input_image'" in body["error"]


def test_fill_fails_on_a_mask_of_another_size_and_outputs_follow_inputs(rep):
    client = rep_client(rep)
    bad = client.predictions.create(
        model=FILL, input={"prompt": "x", "image": image_uri(64, 48), "mask": image_uri(8, 8, "L")}
    )
    assert "does not match image size 64x48" in finished(rep, bad.id)["error"]
    good = client.predictions.create(
        model=FILL,
        input={"prompt": "x", "image": image_uri(64, 48), "mask": image_uri(64, 48, "L")},
    )
    assert output_size(rep, finished(rep, good.id)["output"]) == (64, 48)
    cut = client.predictions.create(model=RMBG, input={"image": image_uri(30, 20)})
    assert output_size(rep, finished(rep, cut.id)["output"], "RGBA") == (30, 20)
    edit = client.predictions.create(
        model=KONTEXT, input={"prompt": "x", "input_image": image_uri(64, 48)}
    )
    assert output_size(rep, finished(rep, edit.id)["output"]) == (64, 48)  # match_input_image


def test_the_files_api_takes_an_upload_a_model_can_read_until_it_is_deleted(rep):
    client = rep_client(rep)
    raw = io.BytesIO()
    Image.new("RGB", (40, 30), (1, 2, 3)).save(raw, "PNG")
    upload = client.files.create(
        io.BytesIO(raw.getvalue()), filename="in.png", content_type="image/png"
    )
    assert (upload.name, upload.content_type, upload.size) == (
        "in.png",
        "image/png",
        len(raw.getvalue()),
    )
    assert upload.urls["get"] == f"{rep.base_url}/v1/files/{upload.id}"
    assert client.files.get(upload.id).checksums["sha256"]
    p = client.predictions.create(model=RMBG, input={"image": upload.urls["get"]})
    assert output_size(rep, finished(rep, p.id)["output"]) == (40, 30)
    assert client.files.delete(upload.id) is True
    with pytest.raises(ReplicateError) as exc:
        client.files.get(upload.id)
    assert exc.value.status == 404
    p = client.predictions.create(model=RMBG, input={"image": upload.urls["get"]})
    assert finished(rep, p.id)["status"] == "failed"
    r = httpx.post(f"{rep.base_url}/v1/files", headers=AUTH, json={"content": "x"})
    assert r.status_code == 400
