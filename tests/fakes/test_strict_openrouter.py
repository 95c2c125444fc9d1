"""The OpenRouter fake refuses what OpenRouter refuses, the way it refuses it (driven through
the official openai SDK, as the provider drives it), lists models as ``GET /models`` does and
produces Google's safety refusals on demand.

Sources: OpenRouterTeam/docs c26125a (openapi.yaml: ChatRequest, ChatFinishReasonEnum, Model,
GET /models; api_reference/overview.mdx: native_finish_reason) and the image-generation guide
(image_config.aspect_ratio / image_size, the ratios only Gemini 3.1 Flash Image takes)."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from .openrouter_server import ASPECTS_31, FakeOpenRouter, image_model
from .selfcheck_support import fake_fixtures, or_client, png_size

pytestmark = pytest.mark.fakes
or_server, or_fixture = fake_fixtures("orr", FakeOpenRouter)
GEMINI = "google/gemini-3.1-flash-image"
AUTH = {"Authorization": "Bearer sk-or-v1-test-good"}


def chat(orr, model=GEMINI, modalities=("image", "text"), **extra):
    return or_client(orr).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "a fox"}],
        extra_body={"modalities": list(modalities), **extra},
    )


def refused(orr, exc_type, status, **kwargs):
    with pytest.raises(exc_type) as exc:
        chat(orr, **kwargs)
    assert exc.value.status_code == status and exc.value.body["code"] == status
    assert exc.value.response.json()["user_id"]
    return exc.value.body["message"]


@pytest.mark.parametrize("model", ["nope/nope", "google/gemini-3.1-flash-image-previeww"])
def test_unknown_model_is_400_not_a_valid_model_id(orr, model):
    assert refused(orr, openai.BadRequestError, 400, model=model) == (
        f"{model} is not a valid model ID"
    )


def test_a_model_no_longer_listed_is_no_longer_served(orr):
    assert chat(orr, model="black-forest-labs/flux.2-pro", modalities=["image"]).choices
    orr.remove_listed_model("black-forest-labs/flux.2-pro")
    message = refused(
        orr, openai.BadRequestError, 400, model="black-forest-labs/flux.2-pro", modalities=["image"]
    )
    assert message.endswith("is not a valid model ID")


@pytest.mark.parametrize(
    ("model", "modalities", "status"),
    [
        ("black-forest-labs/flux.2-pro", ["image", "text"], 404),  # image-only model
        ("openai/gpt-4o-mini", ["image", "text"], 404),  # a text model
        (GEMINI, ["image", "video"], 400),  # not a modality
    ],
)
def test_modalities_the_model_cannot_output(orr, model, modalities, status):
    exc_type = openai.NotFoundError if status == 404 else openai.BadRequestError
    message = refused(orr, exc_type, status, model=model, modalities=modalities)
    if status == 404:
        assert message.startswith("No endpoints found that support the requested output")


@pytest.mark.parametrize(
    ("model", "image_config"),
    [
        (GEMINI, {"aspect_ratio": "7:3"}),
        (GEMINI, {"aspect_ratio": "16x9"}),
        ("google/gemini-2.5-flash-image", {"aspect_ratio": "4:1"}),  # 3.1 Flash Image only
        ("google/gemini-2.5-flash-image", {"aspect_ratio": "1:8"}),
        ("google/gemini-2.5-flash-image", {"image_size": "2K"}),
        (GEMINI, {"image_size": "8K"}),
        (GEMINI, {"image_size": "1k"}),
    ],
)
def test_image_config_the_model_does_not_take_is_400(orr, model, image_config):
    message = refused(orr, openai.BadRequestError, 400, model=model, image_config=image_config)
    assert "Invalid" in message and model in message


def test_gemini_31_extended_ratios_and_image_sizes(orr):
    for ratio, (w, h) in ASPECTS_31.items():
        url = chat(orr, image_config={"aspect_ratio": ratio}).choices[0].message.images[0]
        data = base64.b64decode(url["image_url"]["url"].split(",", 1)[1])
        assert png_size(data) == (w, h), ratio
    r = chat(orr, image_config={"aspect_ratio": "16:9", "image_size": "0.5K"})
    data = base64.b64decode(r.choices[0].message.images[0]["image_url"]["url"].split(",", 1)[1])
    assert png_size(data) == (688, 384)


@pytest.mark.parametrize(
    ("reason", "finish"),
    [
        ("IMAGE_SAFETY", "content_filter"),
        ("IMAGE_PROHIBITED_CONTENT", "content_filter"),
        ("IMAGE_RECITATION", "content_filter"),
        ("IMAGE_OTHER", "content_filter"),
        ("NO_IMAGE", "stop"),
    ],
)
def test_safety_refusals_are_200_without_images(orr, reason, finish):
    orr.set_scenario("safety_refusal", reason=reason)
    r = chat(orr)
    choice = r.choices[0]
    assert choice.finish_reason == finish
    assert choice.model_extra["native_finish_reason"] == reason
    assert getattr(choice.message, "images", None) is None
    assert r.usage.cost == 0


def test_listing_filters_by_output_modalities_text_by_default(orr):
    def ids(**params):
        r = httpx.get(orr.base_url + "/api/v1/models", params=params, headers=AUTH)
        return {m["id"] for m in r.json()["data"]}

    assert ids() == {
        "openai/gpt-4o-mini",
        "google/gemini-2.5-flash",
        GEMINI,
        "google/gemini-2.5-flash-image",
    }
    image = ids(output_modalities="image")
    assert image == {GEMINI, "google/gemini-2.5-flash-image", "black-forest-labs/flux.2-pro"}
    assert ids(output_modalities="all") >= image | {"openai/gpt-4o-mini"}


def test_listing_changes_at_runtime(orr):
    def listing():
        r = httpx.get(
            orr.base_url + "/api/v1/models", params={"output_modalities": "image"}, headers=AUTH
        )
        return {m["id"]: m for m in r.json()["data"]}

    assert listing()["google/gemini-2.5-flash-image"]["expiration_date"] == "2026-10-02"
    assert listing()[GEMINI]["expiration_date"] is None
    orr.set_model_shutdown(GEMINI, "2027-06-30")
    assert listing()[GEMINI]["expiration_date"] == "2027-06-30"
    orr.add_listed_model(image_model("acme/painter", "Acme: Painter", image_only=True))
    new = listing()["acme/painter"]
    assert new["architecture"]["output_modalities"] == ["image"] and new["name"] == "Acme: Painter"
    assert chat(orr, model="acme/painter", modalities=["image"]).choices[0].message.images
    orr.add_listed_model("acme/duo")  # an id alone: an image+text model
    assert listing()["acme/duo"]["architecture"]["output_modalities"] == ["image", "text"]
    orr.remove_listed_model("acme/painter")
    assert "acme/painter" not in listing()
    orr.reset()
    assert "acme/duo" not in listing() and listing()[GEMINI]["expiration_date"] is None


def test_key_endpoint_and_its_limit(orr):
    data = httpx.get(orr.base_url + "/api/v1/key", headers=AUTH).json()["data"]
    assert (data["limit"], data["limit_remaining"]) == (100, 74.5)
    orr.key_info.update(limit_remaining=0)
    assert (
        httpx.get(orr.base_url + "/api/v1/key", headers=AUTH).json()["data"]["limit_remaining"] == 0
    )
    r = httpx.get(orr.base_url + "/api/v1/key", headers={"Authorization": "Bearer sk-or-v1-bad"})
    assert r.status_code == 401 and r.json()["error"] == {"code": 401, "message": "User not found."}


def test_unknown_top_level_fields_are_ignored_but_recorded(orr):
    """OpenRouter ignores fields it does not know: the provider tests check the recorded
    request against KNOWN_CHAT_FIELDS instead."""
    assert chat(orr, image_confg={"aspect_ratio": "16:9"}).choices[0].message.images
    assert orr.requests[-1]["json"]["image_confg"] == {"aspect_ratio": "16:9"}
