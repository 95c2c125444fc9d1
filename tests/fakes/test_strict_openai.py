"""The OpenAI fake refuses what the real API refuses, the way it refuses it (driven through the
official SDK), and its account scenarios look like the real answers.

Every invalid request below comes from the SDK's ``ImageGenerateParams`` docstrings
(openai-python e43b422, src/openai/types/image_generate_params.py) or OpenAI's answers quoted
in public threads; the fake's module docstring cites each rule."""

from __future__ import annotations

import openai
import pytest

from .openai_server import FakeOpenAI
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
