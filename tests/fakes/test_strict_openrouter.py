"""The OpenRouter fake refuses what OpenRouter refuses, the way it refuses it (driven through
the official openai SDK, as the provider drives it), lists models as ``GET /models`` does and
produces Google's safety refusals on demand.

Sources: OpenRouterTeam/docs c26125a (openapi.yaml: ChatRequest, ChatFinishReasonEnum, Model,
GET /models; api_reference/overview.mdx: native_finish_reason) and the image-generation guide
(image_config.aspect_ratio / image_size, the ratios only Gemini 3.1 Flash Image takes)."""

from __future__ import annotations

import base64
import io

import httpx
import openai
import pytest
from PIL import Image

from .base import palette
from .openrouter_server import ASPECTS_31, IMAGE_INPUT_TOKENS, FakeOpenRouter, image_model
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


# ---------------------------------------------------------------------- image inputs (edits)
# Sources: ChatContentItems / ChatContentImage (openapi.yaml), the image-inputs guide
# (guides/overview/multimodal/image-understanding.mdx) and Google's Vertex model cards for
# the per-prompt limits; the fake's docstring says which wordings are ours.


def picture(width=40, height=30, color=(10, 200, 10), fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def data_url(data=None, mime="image/png") -> str:
    return f"data:{mime};base64," + base64.b64encode(data or picture()).decode()


def image_part(url) -> dict:
    return {"type": "image_url", "image_url": {"url": url}}


def edit(orr, parts, model=GEMINI, **extra):
    content = [{"type": "text", "text": "make it night"}, *parts]
    return or_client(orr).chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": content}],
        extra_body={"modalities": ["image", "text"], **extra},
    )


def refused_edit(orr, parts, status=400, **kwargs):
    exc_type = openai.NotFoundError if status == 404 else openai.BadRequestError
    with pytest.raises(exc_type) as exc:
        edit(orr, parts, **kwargs)
    assert exc.value.status_code == status and exc.value.body["code"] == status
    assert exc.value.response.json()["user_id"]
    return exc.value.body


@pytest.mark.parametrize(
    ("part", "said"),
    [
        ({"type": "image", "image_url": {"url": data_url()}}, "Invalid discriminator value"),
        ({"type": "input_image", "image_url": data_url()}, "Invalid discriminator value"),
        ({"image_url": {"url": data_url()}}, "Invalid discriminator value"),
        ("data:image/png;base64,AAAA", "Invalid discriminator value"),
        ({"type": "image_url"}, "content[1].image_url: Required"),
        ({"type": "image_url", "image_url": {}}, "content[1].image_url.url: Required"),
        ({"type": "image_url", "image_url": {"url": ""}}, "image_url.url: Required"),
        ({"type": "text", "text": 5}, "content[1].text: Expected string"),
        (image_part("http://example.com/a.png"), "not a base64 data URL"),
        (image_part("ftp://example.com/a.png"), "not a base64 data URL"),
        (image_part(base64.b64encode(picture()).decode()), "not a base64 data URL"),
        (image_part("data:image/png,rawbytes"), "not a base64 data URL"),
        (image_part("data:image/png;base64,@@not base64@@"), "base64 data is not valid"),
        (image_part(data_url(b"hello", "text/plain")), "unsupported image type text/plain"),
        (image_part(data_url(b"hello")), "not a valid image/png image"),
        (image_part(data_url(picture(fmt="JPEG"))), "not a valid image/png image"),
    ],
)
def test_malformed_content_parts_are_400(orr, part, said):
    body = refused_edit(orr, [part])
    assert said in body["message"] and body["message"].startswith("messages[0].content[")


def test_documented_image_inputs_are_accepted(orr):
    parts = [
        image_part(data_url()),
        image_part(data_url(picture(fmt="JPEG"), "image/jpeg")),
        image_part(data_url(picture(fmt="WEBP"), "image/webp")),
        image_part(data_url(picture(fmt="GIF"), "image/gif")),
        image_part("https://example.com/photo.jpg"),  # a URL: not fetched by the fake
        {"type": "image_url", "image_url": {"url": data_url(), "detail": "high"}},
    ]
    assert edit(orr, parts).choices[0].message.images
    assert edit(orr, [image_part(data_url())] * 14).choices[0].message.images  # the limit


@pytest.mark.parametrize(("model", "limit"), [(GEMINI, 14), ("google/gemini-2.5-flash-image", 3)])
def test_more_images_than_gemini_takes_are_refused_upstream(orr, model, limit):
    assert edit(orr, [image_part(data_url())] * limit, model=model).choices
    body = refused_edit(orr, [image_part(data_url())] * (limit + 1), model=model)
    assert body["message"] == "Provider returned error"
    assert body["metadata"]["provider_name"] == "Google"
    assert f"takes at most {limit} per prompt" in body["metadata"]["raw"]


def test_an_inline_image_over_7_mb_is_refused_upstream(orr):
    # A real PNG followed by padding (decoders stop at IEND): 7 MB on the wire.
    big = picture() + b"\0" * (7 * 1024 * 1024)
    body = refused_edit(orr, [image_part(data_url(big))])
    assert body["message"] == "Provider returned error"
    assert "inline images may be at most" in body["metadata"]["raw"]


def test_a_model_that_reads_no_images_has_no_endpoint_for_them(orr):
    entry = image_model("acme/text-only-painter")
    entry["architecture"]["input_modalities"] = ["text"]
    orr.add_listed_model(entry)
    assert edit(orr, [], model="acme/text-only-painter").choices  # text alone is fine
    body = refused_edit(orr, [image_part(data_url())], status=404, model="acme/text-only-painter")
    assert body["message"] == "No endpoints found that support image input"


def test_the_answer_is_made_from_the_input_and_charges_its_tokens(orr):
    r = edit(orr, [image_part(data_url(picture(300, 200, (0, 100, 200))))])
    url = r.choices[0].message.images[0]["image_url"]["url"]
    made = Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB")
    assert made.size == (300, 200)  # no aspect_ratio asked: the input's shape
    expected = tuple((a + b) // 2 for a, b in zip((0, 100, 200), palette(0), strict=True))
    assert all(abs(a - b) <= 1 for a, b in zip(made.getpixel((5, 5)), expected, strict=True))
    assert r.usage.prompt_tokens == 3 + 4 + IMAGE_INPUT_TOKENS
    assert r.usage.cost == pytest.approx(0.039 + IMAGE_INPUT_TOKENS * 0.0000005)
    sized = edit(orr, [image_part(data_url())], image_config={"aspect_ratio": "16:9"})
    url = sized.choices[0].message.images[0]["image_url"]["url"]
    assert png_size(base64.b64decode(url.split(",", 1)[1])) == ASPECTS_31["16:9"]


def test_malformed_parts_are_refused_to_plain_http_clients_too(orr):
    body = {
        "model": GEMINI,
        "modalities": ["image", "text"],
        "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}],
    }
    response = httpx.post(orr.base_url + "/api/v1/chat/completions", json=body, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": 400,
        "message": "messages[0].content[0].image_url: Required",
    }
    assert orr.server_errors == []
