"""The OpenAI fake refuses what the real API refuses, the way it refuses it (driven through the
official SDK), and its account scenarios look like the real answers.

Every invalid request below comes from the SDK's ``ImageGenerateParams`` docstrings
(openai-python e43b422, src/openai/types/image_generate_params.py) or OpenAI's answers quoted
in public threads; the fake's module docstring cites each rule."""

from __future__ import annotations

import base64
import io
import os

import httpx
import openai
import pytest
from PIL import Image

from .base import palette
from .openai_server import FakeOpenAI, vision_tokens
from .selfcheck_support import fake_fixtures, oa_client

pytestmark = pytest.mark.fakes
oa_server, oa_fixture = fake_fixtures("oa", FakeOpenAI)
ERROR_KEYS = {"message", "type", "param", "code"}


def refused(oa, exc_type, **kwargs):
    with pytest.raises(exc_type) as exc:
        oa_client(oa).images.generate(**{"model": "gpt-image-2", "prompt": "x", **kwargs})
    assert set(exc.value.response.json()["error"]) >= ERROR_KEYS
    assert exc.value.response.headers["x-request-id"].startswith("req_")
    return exc.value


@pytest.mark.parametrize(
    ("kwargs", "param", "code"),
    [
        ({"extra_body": {"qualty": "high"}}, "qualty", "unknown_parameter"),
        ({"extra_body": {"negative_prompt": "blur"}}, "negative_prompt", "unknown_parameter"),
        ({"response_format": "url"}, "response_format", "unknown_parameter"),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter"),
        ({"style": "vivid"}, "style", "unknown_parameter"),
        ({"moderation": "strict"}, "moderation", "invalid_value"),
        ({"background": "nope"}, "background", "invalid_value"),
        ({"quality": "hd"}, "quality", "invalid_value"),
        ({"quality": "standard"}, "quality", "invalid_value"),
        ({"output_format": "gif"}, "output_format", "invalid_value"),
        ({"background": "transparent", "output_format": "jpeg"}, "background", "invalid_value"),
        ({"background": "transparent"}, "background", "invalid_value"),  # gpt-image-2: none
        ({"output_compression": 80}, "output_compression", "invalid_value"),  # png
        ({"output_compression": 101, "output_format": "jpeg"}, "output_compression", None),
        ({"output_compression": -1, "output_format": "webp"}, "output_compression", None),
        ({"n": 0}, "n", "integer_below_min_value"),
        ({"n": 11}, "n", "integer_above_max_value"),
        ({"partial_images": 4}, "partial_images", "integer_above_max_value"),
        ({"model": "gpt-image-1.5", "size": "1792x1024"}, "size", "invalid_value"),  # DALL·E 3's
        ({"size": "1000x1000"}, "size", "invalid_value"),  # not divisible by 16
        ({"size": "3840x1024"}, "size", "invalid_value"),  # wider than 3:1
        ({"size": "4096x2048"}, "size", "invalid_value"),  # over 3840 per side
        ({"size": "3840x2400"}, "size", "invalid_value"),  # over 8,294,400 pixels
        ({"size": "768x768"}, "size", "invalid_value"),  # under 655,360 pixels
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length"),
    ],
)
def test_invalid_requests_are_400(oa, kwargs, param, code):
    exc = refused(oa, openai.BadRequestError, **kwargs)
    assert exc.status_code == 400 and exc.param == param
    if code:
        assert exc.code == code
    else:
        assert exc.code in ("integer_above_max_value", "integer_below_min_value")
    if code == "unknown_parameter":
        assert exc.body["message"] == f"Unknown parameter: '{param}'."
    assert oa.requests[-1]["path"] == "/v1/images/generations"


def test_only_gpt_image_2_takes_free_sizes(oa):
    ok = oa_client(oa).images.generate(model="gpt-image-2", prompt="x", size="1536x864")
    assert ok.size == "1536x864"
    assert oa_client(oa).images.generate(model="gpt-image-2", prompt="x", size="3840x2160").data
    assert (
        oa_client(oa)
        .images.generate(model="gpt-image-2-2026-04-21", prompt="x", size="2160x3840")
        .data
    )
    exc = refused(oa, openai.BadRequestError, model="gpt-image-1.5", size="1536x864")
    assert (exc.param, exc.code) == ("size", "invalid_value")


def test_documented_values_are_accepted(oa):
    r = oa_client(oa).images.generate(
        model="gpt-image-1.5",
        prompt="x",
        n=10,
        size="auto",
        quality="low",
        background="transparent",
        output_format="webp",
        output_compression=0,
        moderation="low",
        user="u-1",
    )
    assert len(r.data) == 10 and r.output_format == "webp" and r.background == "transparent"


@pytest.mark.parametrize("model", ["dall-e-2", "dall-e-3", "gpt-image-1", "gpt-image-9", "x"])
def test_removed_and_unknown_models_are_404_model_not_found(oa, model):
    exc = refused(oa, openai.NotFoundError, model=model)
    assert (exc.status_code, exc.code, exc.type) == (
        404,
        "model_not_found",
        "invalid_request_error",
    )
    assert exc.body["message"] == (
        f"The model `{model}` does not exist or you do not have access to it."
    )


def test_without_a_model_the_default_is_dall_e_2_and_gone(oa):
    with pytest.raises(openai.NotFoundError) as exc:
        oa_client(oa).images.generate(prompt="x")
    assert "`dall-e-2`" in exc.value.body["message"]


def test_the_listing_changes_at_runtime_and_per_key(oa):
    def listed(key="sk-test-good"):
        return {m.id for m in oa_client(oa, key=key).models.list()}

    assert "gpt-image-2" in listed() and "gpt-image-1" not in listed()
    oa.add_listed_model("gpt-image-1")
    assert "gpt-image-1" in listed()
    assert oa_client(oa).images.generate(model="gpt-image-1", prompt="x").data
    oa.remove_listed_model("gpt-image-2")
    assert "gpt-image-2" not in listed()
    refused(oa, openai.NotFoundError, model="gpt-image-2")
    oa.reset()
    oa.api_keys.add("sk-other")
    oa.hide_model("sk-other", "gpt-image-1.5")
    assert "gpt-image-1.5" not in listed("sk-other") and "gpt-image-1.5" in listed()
    with pytest.raises(openai.NotFoundError):
        oa_client(oa, key="sk-other").images.generate(model="gpt-image-1.5", prompt="x")
    assert oa_client(oa).images.generate(model="gpt-image-1.5", prompt="x").data


def test_org_verification_is_403_with_code_null(oa):
    oa.set_scenario("org_unverified")
    exc = refused(oa, openai.PermissionDeniedError, model="gpt-image-2")
    assert (exc.status_code, exc.code, exc.param) == (403, None, None)
    assert exc.body["message"].startswith(
        "Your organization must be verified to use the model `gpt-image-2`. Please go to: "
        "https://platform.openai.com/settings/organization/general and click on Verify "
        "Organization."
    )
    assert {m.id for m in oa_client(oa).models.list()}  # the listing still answers
    oa.set_scenario("org_unverified", model="gpt-image-2")
    assert oa_client(oa).images.generate(model="gpt-image-1.5", prompt="x").data


def test_billing_hard_limit_is_400(oa):
    oa.set_scenario("billing_limit")
    exc = refused(oa, openai.BadRequestError)
    assert (exc.code, exc.body["message"]) == (
        "billing_hard_limit_reached",
        "Billing hard limit has been reached",
    )


def test_insufficient_quota_is_429_also_on_the_listing(oa):
    oa.set_scenario("no_credit")
    exc = refused(oa, openai.RateLimitError)
    assert (exc.code, exc.type) == ("insufficient_quota", "insufficient_quota")
    with pytest.raises(openai.RateLimitError) as listing:
        oa_client(oa).models.list()
    assert listing.value.code == "insufficient_quota"


def test_check_endpoint_refused_is_403_on_the_listing_only(oa):
    oa.set_scenario("check_forbidden")
    with pytest.raises(openai.PermissionDeniedError) as exc:
        oa_client(oa).models.list()
    assert exc.value.status_code == 403 and "insufficient permissions" in exc.value.message
    assert oa_client(oa).images.generate(model="gpt-image-2", prompt="x").data


# ---------------------------------------------------------------------- POST /v1/images/edits
# Sources: CreateImageEditRequest (openai-openapi f85dbe2) and ImageEditParams of the pinned
# openai-python 3.54.0 (src/openai/types/image_edit_params.py); the fake's docstring cites
# the error wordings.


def picture(width=64, height=48, color=(10, 200, 10), mode="RGB", fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, (width, height), color).save(out, format=fmt)
    return out.getvalue()


def png_file(name="in.png", **kwargs):
    return (name, picture(**kwargs), "image/png")


def transparent_mask(width=64, height=48) -> tuple:
    """OpenAI's convention: transparent (alpha 0) on the left half, opaque on the right."""
    mask = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    mask.paste((0, 0, 0, 0), (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return ("mask.png", out.getvalue(), "image/png")


def edit(oa, **kwargs):
    fields = {"model": "gpt-image-2", "prompt": "x", "image": [png_file()], **kwargs}
    return oa_client(oa).images.edit(**fields)


def refused_edit(oa, exc_type=openai.BadRequestError, **kwargs):
    with pytest.raises(exc_type) as exc:
        edit(oa, **kwargs)
    assert set(exc.value.response.json()["error"]) >= ERROR_KEYS
    assert exc.value.response.headers["x-request-id"].startswith("req_")
    assert oa.requests[-1]["path"] == "/v1/images/edits"
    return exc.value


@pytest.mark.parametrize(
    ("kwargs", "param", "code", "message"),
    [
        ({"image": [png_file()] * 17}, "image", "array_above_max_length", "array too long"),
        ({"image": []}, "image", "missing_required_parameter", "Missing required parameter"),
        (
            {"image": [("in.png", b"not an image", "image/png")]},
            "image",
            "invalid_image_file",
            "Invalid image file or mode for image 1",
        ),
        (  # a JPEG declared as a PNG
            {"image": [png_file(), ("b.png", picture(fmt="JPEG"), "image/png")]},
            "image",
            "invalid_image_file",
            "Invalid image file or mode for image 2",
        ),
        (
            {"image": [("in.gif", picture(fmt="GIF"), "image/gif")]},
            "image",
            None,
            "unsupported mimetype ('image/gif')",
        ),
        (
            {"image": [("in.png", picture(), "application/octet-stream")]},
            "image",
            None,
            "unsupported mimetype ('application/octet-stream')",
        ),
        ({"mask": png_file("mask.png")}, "mask", None, "mask image missing alpha channel"),
        (
            {"mask": transparent_mask(32, 48)},
            "mask",
            None,
            "mask size does not match image size",
        ),
        (
            {"mask": ("mask.jpg", picture(fmt="JPEG"), "image/jpeg")},
            "mask",
            None,
            "unsupported mimetype ('image/jpeg')",
        ),
        ({"mask": ("mask.png", b"junk", "image/png")}, "mask", None, "not a valid PNG"),
        ({"extra_body": {"moderation": "low"}}, "moderation", "unknown_parameter", None),
        ({"extra_body": {"qualty": "high"}}, "qualty", "unknown_parameter", None),
        ({"response_format": "b64_json"}, "response_format", "unknown_parameter", None),
        ({"prompt": ""}, "prompt", "missing_required_parameter", None),
        ({"prompt": "x" * 32001}, "prompt", "string_above_max_length", None),
        ({"n": 0}, "n", "integer_below_min_value", None),
        ({"n": 11}, "n", "integer_above_max_value", None),
        ({"size": "1000x1000"}, "size", "invalid_value", None),  # not divisible by 16
        ({"model": "gpt-image-1.5", "size": "1536x864"}, "size", "invalid_value", None),
        ({"quality": "hd"}, "quality", "invalid_value", None),
        ({"background": "transparent"}, "background", "invalid_value", None),  # gpt-image-2
        ({"output_compression": 50}, "output_compression", "invalid_value", None),  # png
        ({"input_fidelity": "high"}, "input_fidelity", "invalid_value", "omit it"),  # gpt-image-2
        (
            {"model": "gpt-image-1.5", "input_fidelity": "medium"},
            "input_fidelity",
            "invalid_value",
            None,
        ),
    ],
)
def test_invalid_edits_are_400(oa, kwargs, param, code, message):
    exc = refused_edit(oa, **kwargs)
    assert exc.status_code == 400 and exc.param == param
    assert exc.code == code
    if message:
        assert message in exc.body["message"]
    if code == "unknown_parameter":
        assert exc.body["message"] == f"Unknown parameter: '{param}'."


def test_a_mask_of_4_mb_or_more_is_refused(oa):
    noise = Image.frombytes("RGBA", (1100, 1000), os.urandom(1100 * 1000 * 4))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=1)
    assert len(out.getvalue()) >= 4 * 1024 * 1024
    exc = refused_edit(
        oa,
        image=[png_file(width=1100, height=1000)],
        mask=("mask.png", out.getvalue(), "image/png"),
    )
    assert exc.param == "mask" and "4 MB" in exc.body["message"]


@pytest.mark.parametrize("model", ["dall-e-2", "gpt-image-1", "gpt-image-9"])
def test_edits_with_a_removed_or_unknown_model_are_404(oa, model):
    exc = refused_edit(oa, openai.NotFoundError, model=model)
    assert (exc.code, exc.body["message"]) == (
        "model_not_found",
        f"The model `{model}` does not exist or you do not have access to it.",
    )


def test_documented_edits_are_accepted(oa):
    sixteen = [png_file(f"{i}.png", color=(i * 10, 0, 0)) for i in range(16)]
    r = edit(oa, image=sixteen, mask=transparent_mask(), n=10, size="1024x1536", quality="low")
    assert len(r.data) == 10 and r.size == "1024x1536" and r.quality == "low"
    mixed = [
        ("a.jpg", picture(fmt="JPEG"), "image/jpeg"),
        ("b.webp", picture(fmt="WEBP"), "image/webp"),
    ]
    r = edit(
        oa,
        model="gpt-image-1.5",
        image=mixed,
        input_fidelity="high",
        background="transparent",
        output_format="webp",
        output_compression=80,
        size="auto",
    )
    assert r.output_format == "webp" and r.background == "transparent"
    # One file sent alone is an ``image`` part (not ``image[]``); no model means gpt-image-1.5.
    r = oa_client(oa).images.edit(prompt="x", image=png_file())
    assert r.data and [f["name"] for f in oa.edits[-1]["files"]] == ["image"]
    assert "model" not in oa.edits[-1]["fields"]
    oa.remove_listed_model("gpt-image-1.5")
    with pytest.raises(openai.NotFoundError) as exc:
        oa_client(oa).images.edit(prompt="x", image=png_file())
    assert "`gpt-image-1.5`" in exc.value.body["message"]


def test_the_edit_is_made_from_the_inputs_and_counts_their_tokens(oa):
    r = edit(
        oa,
        image=[png_file(width=640, height=480), png_file(width=64, height=64)],
        mask=transparent_mask(640, 480),
        prompt="a red fox",
    )
    assert r.size == "1536x1024"  # auto: the standard size closest to 4:3
    result = Image.open(io.BytesIO(base64.b64decode(r.data[0].b64_json))).convert("RGB")
    assert result.size == (1536, 1024)
    assert result.getpixel((10, 10)) == palette(0)  # painted where the mask is transparent
    assert result.getpixel((1500, 1000)) == (10, 200, 10)  # the input where it is opaque
    assert r.usage.input_tokens_details.image_tokens == vision_tokens(640, 480) + vision_tokens(
        64, 64
    )
    assert r.usage.input_tokens_details.text_tokens == 3
    unmasked = edit(oa, image=[png_file(color=(0, 0, 0))])
    blended = Image.open(io.BytesIO(base64.b64decode(unmasked.data[0].b64_json))).convert("RGB")
    assert blended.getpixel((0, 0)) == tuple(c // 2 for c in palette(0))


def test_edits_record_the_multipart_wire_shape(oa):
    files = [png_file("one.png", color=(1, 2, 3)), ("two.jpg", picture(fmt="JPEG"), "image/jpeg")]
    edit(oa, image=files, mask=transparent_mask(), n=2, quality="high")
    sent = oa.edits[-1]
    assert [(f["name"], f["filename"], f["content_type"]) for f in sent["files"]] == [
        ("image[]", "one.png", "image/png"),
        ("image[]", "two.jpg", "image/jpeg"),
        ("mask", "mask.png", "image/png"),
    ]
    assert sent["files"][0]["data"] == files[0][1]
    assert sent["fields"] == {"prompt": "x", "model": "gpt-image-2", "n": "2", "quality": "high"}
    assert sent["headers"]["content-type"].startswith("multipart/form-data; boundary=")


@pytest.mark.parametrize(
    ("headers", "content"),
    [
        ({"Content-Type": "application/json"}, b'{"model": "gpt-image-2", "prompt": "x"}'),
        ({"Content-Type": "application/x-www-form-urlencoded"}, b"model=gpt-image-2&prompt=x"),
        ({"Content-Type": "multipart/form-data"}, b"no boundary"),
    ],
)
def test_edits_take_multipart_only(oa, headers, content):
    response = httpx.post(
        oa.base_url + "/v1/images/edits",
        headers={"Authorization": "Bearer sk-test-good", **headers},
        content=content,
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) >= ERROR_KEYS and response.headers["x-request-id"]


def test_raw_multipart_edits_are_checked_like_the_sdks(oa):
    url, auth = oa.base_url + "/v1/images/edits", {"Authorization": "Bearer sk-test-good"}
    data = {"model": "gpt-image-2", "prompt": "x"}
    ok = httpx.post(url, headers=auth, data=data, files=[("image[]", png_file())])
    assert ok.status_code == 200 and ok.json()["data"][0]["b64_json"]
    missing = httpx.post(url, headers=auth, data=data, files=[("mask", transparent_mask())])
    assert missing.status_code == 400 and missing.json()["error"]["param"] == "image"
    typo = httpx.post(url, headers=auth, data=data, files=[("images", png_file())])
    assert typo.json()["error"]["code"] == "unknown_parameter"
    not_a_number = httpx.post(
        url, headers=auth, data={**data, "n": "two"}, files=[("image[]", png_file())]
    )
    assert not_a_number.json()["error"]["code"] == "invalid_type"
    anonymous = httpx.post(url, data=data, files=[("image[]", png_file())])
    assert anonymous.status_code == 401 and set(anonymous.json()["error"]) >= ERROR_KEYS
    wrong_key = httpx.post(
        url, headers={"Authorization": "Bearer sk-nope"}, data=data, files=[("image[]", png_file())]
    )
    assert wrong_key.json()["error"]["code"] == "invalid_api_key"


def test_account_scenarios_apply_to_edits(oa):
    oa.set_scenario("content_policy")
    exc = refused_edit(oa)
    assert exc.code == "moderation_blocked"
    oa.set_scenario("org_unverified", model="gpt-image-1.5")
    assert edit(oa).data  # gpt-image-2 is not the unverified one
    exc = refused_edit(oa, openai.PermissionDeniedError, model="gpt-image-1.5")
    assert "`gpt-image-1.5`" in exc.body["message"]
