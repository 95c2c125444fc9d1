"""OpenAI edit, inpaint and outpaint (``POST /v1/images/edits``) through the official SDK
against the strict fake: the multipart wire shape (``image[]`` parts, the ``mask`` part in
OpenAI's convention), the fake's refusals as ProviderErrors with OpenAI's reason, and costs
from ``usage`` (input image tokens priced as ``input_image``)."""

import io
import os
from decimal import Decimal

import pytest
from PIL import Image

from imagegen.providers import get_provider
from imagegen.providers.base import (
    GenerationRequest,
    InputImage,
    Margins,
)
from imagegen.providers.inputs import outpaint_canvas
from imagegen.providers.openai import MASK_MAX_BYTES
from tests.fakes.base import palette
from tests.fakes.openai_server import EDIT_FIELDS
from tests.providers import helpers

pytestmark = pytest.mark.django_db

KEY = "sk-test-good"
GREEN = (10, 200, 10)


@pytest.fixture(autouse=True)
def only_known_edit_fields(request):
    """Every edit the fake recorded carried only fields the edits endpoint knows."""
    fake = request.getfixturevalue("fake_openai") if "fake_openai" in request.fixturenames else None
    yield
    for sent in fake.edits if fake else ():
        assert set(sent["fields"]) <= EDIT_FIELDS, sent["fields"]
        assert {f["name"] for f in sent["files"]} <= {"image[]", "mask"}, sent["files"]


def picture(width=640, height=480, color=GREEN, fmt="PNG") -> InputImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return InputImage(data=out.getvalue(), format=fmt, width=width, height=height)


def left_half_mask(width=640, height=480) -> InputImage:
    """The app's convention: a greyscale PNG, white (change) on the left half."""
    mask = Image.new("L", (width, height), 0)
    mask.paste(255, (0, 0, width // 2, height))
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return InputImage(data=out.getvalue(), format="PNG", width=width, height=height)


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def catalog_spec(model):
    return helpers.catalog_spec("openai", model)


def request_for(operation="edit", model="gpt-image-2", inputs=None, **fields):
    inputs = [picture()] if inputs is None else inputs
    first = inputs[0] if inputs else picture()
    fields = {"width": first.width, "height": first.height, **fields}
    return GenerationRequest(
        prompt="make it night",
        model=model,
        operation=operation,
        input_images=inputs,
        **fields,
    )


def run(request, spec=None):
    return helpers.run_operation("openai", request, spec, seconds=20)[1]


def refusal(request, spec=None) -> str:
    return helpers.refusal_of(run, request, spec)


def test_the_gpt_image_models_declare_edits_and_inpainting():
    for model in ("gpt-image-2", "gpt-image-1.5"):
        spec = catalog_spec(model)
        assert spec.operations == ("generate", "edit", "inpaint", "outpaint")
        assert spec.max_input_images == 16 and spec.takes_mask
        assert spec.to_dict()["mask"] is True
    assert catalog_spec("gpt-image-1.5").options["input_fidelity"] == ["low", "high"]
    assert "input_fidelity" not in catalog_spec("gpt-image-2").options  # "omit" for it


def test_an_edit_sends_every_input_as_an_image_part(fake_openai):
    inputs = [picture(), picture(fmt="JPEG", color=(200, 0, 0)), picture(64, 64, fmt="WEBP")]
    result = run(request_for(inputs=inputs, width=1536, height=1024, num_images=2))
    sent = fake_openai.edits[-1]
    assert [(f["name"], f["content_type"]) for f in sent["files"]] == [
        ("image[]", "image/png"),
        ("image[]", "image/jpeg"),
        ("image[]", "image/webp"),
    ]
    assert [f["data"] for f in sent["files"]] == [image.data for image in inputs]
    assert sent["fields"] == {
        "model": "gpt-image-2",
        "prompt": "make it night",
        "n": "2",
        "size": "1536x1024",  # a size the model lists is sent as asked
    }
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert len(result.images) == 2
    made = decoded(result.images[0].data).convert("RGB")
    assert made.size == (1536, 1024)  # made from the first input: half green, half palette
    assert made.getpixel((0, 0)) == tuple(
        (a + b) // 2 for a, b in zip(GREEN, palette(0), strict=True)
    )


def test_an_edit_costs_its_usage_tokens_with_input_images_at_the_image_price(fake_openai):
    result = run(request_for(inputs=[picture(), picture(64, 64)], params={"quality": "low"}))
    usage = result.metadata["usage"]
    details = usage["input_tokens_details"]
    assert details["image_tokens"] > 0
    expected = (
        Decimal(details["text_tokens"]) * 5
        + Decimal(details["image_tokens"]) * 8
        + Decimal(usage["output_tokens"]) * 30
    ) / 1_000_000  # gpt-image-2's prices per million tokens (catalog.json)
    assert result.cost_usd == expected.quantize(Decimal("0.000001"))
    assert result.cost_is_estimate is False
    assert result.request_id.startswith("req_")


def test_inpaint_sends_the_mask_transparent_where_the_app_mask_is_white(fake_openai):
    image = picture()
    result = run(request_for("inpaint", inputs=[image], mask=left_half_mask()))
    sent = fake_openai.edits[-1]
    assert [f["name"] for f in sent["files"]] == ["image[]", "mask"]
    mask_part = sent["files"][1]
    assert (mask_part["filename"], mask_part["content_type"]) == ("mask.png", "image/png")
    mask = decoded(mask_part["data"])
    assert mask.format == "PNG" and mask.mode == "RGBA" and mask.size == (640, 480)
    alpha = mask.getchannel("A")
    assert alpha.getpixel((0, 0)) == 0 and alpha.getpixel((319, 479)) == 0  # white: change
    assert alpha.getpixel((320, 0)) == 255 and alpha.getpixel((639, 479)) == 255  # black: keep
    assert mask.convert("RGB").getpixel((600, 10)) == GREEN  # the picture, where opaque
    assert sent["fields"]["size"] == "auto"  # 640x480 is not a size the model lists
    made = decoded(result.images[0].data).convert("RGB")
    assert made.size == (1536, 1024)  # auto: OpenAI's size closest to 4:3
    assert made.getpixel((10, 10)) == palette(0)  # changed where the app mask was white
    assert made.getpixel((1500, 1000)) == GREEN  # kept where it was black
    assert result.metadata["size"] == "1536x1024"


def test_outpaint_is_an_inpaint_of_the_padded_canvas(fake_openai):
    canvas, mask = outpaint_canvas(picture(512, 512), Margins(left=256, right=256))
    run(request_for("outpaint", inputs=[canvas], mask=mask))
    sent = fake_openai.edits[-1]
    assert [f["name"] for f in sent["files"]] == ["image[]", "mask"]
    assert sent["files"][0]["data"] == canvas.data
    alpha = decoded(sent["files"][1]["data"]).getchannel("A")
    assert alpha.size == (1024, 512)
    assert alpha.getpixel((10, 10)) == 0 and alpha.getpixel((1013, 500)) == 0  # the margins
    assert alpha.getpixel((512, 256)) == 255  # the original picture is kept


def test_a_mask_over_4_mb_is_sent_with_flat_pixels(fake_openai):
    width, height = 1200, 1000
    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))
    out = io.BytesIO()
    noise.save(out, format="PNG", compress_level=1)
    image = InputImage(data=out.getvalue(), format="PNG", width=width, height=height)
    run(request_for("inpaint", inputs=[image], mask=left_half_mask(width, height)))
    mask_part = fake_openai.edits[-1]["files"][1]
    assert len(mask_part["data"]) < MASK_MAX_BYTES
    mask = decoded(mask_part["data"])
    assert mask.getchannel("A").getpixel((0, 0)) == 0
    assert mask.getchannel("A").getpixel((width - 1, 0)) == 255


def test_each_endpoint_gets_only_the_parameters_it_knows(fake_openai):
    spec = catalog_spec("gpt-image-1.5")
    edited = run(
        request_for(model="gpt-image-1.5", params={"moderation": "low", "input_fidelity": "high"}),
        spec,
    )
    assert fake_openai.edits[-1]["fields"]["input_fidelity"] == "high"
    assert "moderation" not in fake_openai.edits[-1]["fields"]
    assert edited.metadata["ignored_params"] == ["moderation"]
    generated = run(
        GenerationRequest(
            prompt="a fox",
            model="gpt-image-1.5",
            width=1024,
            height=1024,
            params={"moderation": "low", "input_fidelity": "high"},
        ),
        spec,
    )
    sent = fake_openai.requests[-1]
    assert sent["path"] == "/v1/images/generations"
    assert sent["json"]["moderation"] == "low" and "input_fidelity" not in sent["json"]
    assert generated.metadata["ignored_params"] == ["input_fidelity"]


@pytest.mark.parametrize(
    ("inputs", "params", "words"),
    [
        (
            [picture(16, 16)] * 17,
            {},
            "OpenAI rejected the parameters: Invalid 'image': array too long. Expected an "
            "array with maximum length 16, but got an array with length 17 instead.",
        ),
        (
            [InputImage(data=b"<html>not a picture</html>", format="PNG", width=8, height=8)],
            {},
            "OpenAI rejected the parameters: Invalid image file or mode for image 1",
        ),
        (
            [picture()],
            {"input_fidelity": "high"},
            "OpenAI rejected the parameters: input_fidelity 'high' is not supported for "
            "gpt-image-2; omit it.",
        ),
        (
            [picture()],
            {"background": "transparent"},
            "OpenAI rejected the parameters: Transparent background is not supported for "
            "gpt-image-2.",
        ),
    ],
)
def test_what_openai_refuses_is_a_provider_error_with_its_reason(
    fake_openai, inputs, params, words
):
    assert refusal(request_for(inputs=inputs, params=params)).startswith(words)
    assert fake_openai.requests[-1]["path"] == "/v1/images/edits"


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("unauthorized", "OpenAI rejected the API key: check it in Settings."),
        ("content_policy", "OpenAI refused the prompt (content policy)"),
        ("billing_limit", "OpenAI reports no credit left"),
    ],
)
def test_account_failures_of_an_edit_are_explained_in_words(fake_openai, scenario, words):
    fake_openai.set_scenario(scenario)
    message = refusal(request_for("inpaint", mask=left_half_mask()))
    assert message.startswith(words) and KEY not in message
    assert fake_openai.requests[-1]["path"] == "/v1/images/edits"


def test_a_model_openai_removed_is_no_longer_offered_for_edits(fake_openai):
    fake_openai.remove_listed_model("gpt-image-2")
    assert "no longer offers the model gpt-image-2" in refusal(request_for())
    assert fake_openai.edits[-1]["fields"]["model"] == "gpt-image-2"


@pytest.mark.parametrize(
    ("request_fields", "words"),
    [
        ({"operation": "edit", "inputs": []}, "OpenAI: edit needs an input image."),
        ({"operation": "inpaint"}, "OpenAI: inpaint needs a mask."),
        ({"operation": "outpaint"}, "OpenAI: outpaint needs a mask."),
        (
            {"operation": "inpaint", "mask": left_half_mask(320, 240)},
            "The mask is 320x240 but the image it masks is 640x480",
        ),
        ({"operation": "upscale", "scale": 2}, "OpenAI cannot upscale with gpt-image-2; its"),
        ({"operation": "remove_background"}, "OpenAI cannot remove background with gpt-image-2"),
    ],
)
def test_requests_openai_cannot_take_fail_before_anything_is_sent(
    fake_openai, request_fields, words
):
    assert refusal(request_for(**request_fields)).startswith(words)
    assert fake_openai.requests == []


def test_estimates_price_the_size_openai_will_make():
    provider = get_provider("openai")
    low = {"quality": "low"}
    # 640x480 is sent as size=auto: priced as 1536x1024, the listed size of that shape.
    assert provider.estimate_cost(request_for("inpaint", params=low)) == Decimal("0.005")
    portrait = request_for("inpaint", inputs=[picture(480, 900)], params=low)
    assert provider.estimate_cost(portrait) == Decimal("0.005")
    square = request_for("edit", inputs=[picture(1024, 1024)], num_images=3, params=low)
    assert provider.estimate_cost(square) == Decimal("0.018")
    medium = request_for("edit", model="gpt-image-1.5", inputs=[picture(1000, 980)])
    assert provider.estimate_cost(medium) == Decimal("0.034")  # auto quality: medium


def test_a_rate_limited_edit_is_sent_again_whole(fake_openai):
    fake_openai.set_scenario("rate_limited_once")
    result = run(request_for("inpaint", mask=left_half_mask()))
    assert result.images
    first, second = fake_openai.edits
    assert [f["data"] for f in first["files"]] == [f["data"] for f in second["files"]]
    assert [f["name"] for f in second["files"]] == ["image[]", "mask"]
