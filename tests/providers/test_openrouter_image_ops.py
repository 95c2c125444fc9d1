"""OpenRouter edits (Gemini image models) through the openai SDK against the strict fake: the
input images travel as ``image_url`` content parts holding base64 data URLs beside the text
part; the fake's refusals become ProviderErrors with the upstream reason; the charge is
``usage.cost``."""

import base64
import dataclasses
import io
import os
from decimal import Decimal

import pytest
from PIL import Image

from imagegen.providers import get_provider, openrouter
from imagegen.providers.base import GenerationRequest, InputImage
from tests.fakes.base import palette
from tests.fakes.openrouter_server import IMAGE_INPUT_TOKENS, KNOWN_CHAT_FIELDS, image_model
from tests.providers import helpers

pytestmark = pytest.mark.django_db

GEMINI = "google/gemini-3.1-flash-image"
KEY = "sk-or-v1-test-good"
BLUE = (0, 100, 200)


@pytest.fixture(autouse=True)
def only_known_fields(request):
    """OpenRouter ignores fields it does not know: every request must use documented ones."""
    name = "fake_openrouter"
    fake = request.getfixturevalue(name) if name in request.fixturenames else None
    yield
    for sent in fake.requests if fake else ():
        if sent["path"].endswith("/chat/completions"):
            assert set(sent["json"]) <= KNOWN_CHAT_FIELDS, sent["json"]


def picture(width=300, height=200, color=BLUE, fmt="PNG") -> InputImage:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return InputImage(data=out.getvalue(), format=fmt, width=width, height=height)


def catalog_spec(model=GEMINI):
    return helpers.catalog_spec("openrouter", model)


def request_for(operation="edit", inputs=None, model=GEMINI, **fields):
    inputs = [picture()] if inputs is None else inputs
    first = inputs[0] if inputs else picture()
    fields = {"width": first.width, "height": first.height, **fields}
    return GenerationRequest(
        prompt="make it night", model=model, operation=operation, input_images=inputs, **fields
    )


def run(request, spec=None):
    return helpers.run_operation("openrouter", request, spec, seconds=20)[1]


def refusal(request, spec=None) -> str:
    return helpers.refusal_of(run, request, spec)


def sent_content(fake):
    messages = fake.requests[-1]["json"]["messages"]
    assert len(messages) == 1 and messages[0]["role"] == "user"
    return messages[0]["content"]


def test_the_gemini_image_models_declare_edits():
    spec = catalog_spec()
    assert spec.operations == ("generate", "edit") and spec.max_input_images == 14
    assert spec.takes_mask is False
    assert spec.to_dict()["operations"] == ["generate", "edit"]


def test_an_edit_sends_the_inputs_as_data_url_content_parts(fake_openrouter):
    inputs = [picture(), picture(64, 64, (200, 0, 0), "JPEG"), picture(32, 32, fmt="WEBP")]
    result = run(request_for(inputs=inputs))
    assert sent_content(fake_openrouter) == [
        {"type": "text", "text": "make it night"},
        *({"type": "image_url", "image_url": {"url": image.data_uri()}} for image in inputs),
    ]
    urls = [part["image_url"]["url"] for part in sent_content(fake_openrouter)[1:]]
    assert [url.split(";")[0] for url in urls] == [
        "data:image/png",
        "data:image/jpeg",
        "data:image/webp",
    ]
    assert base64.b64decode(urls[1].split(",", 1)[1]) == inputs[1].data
    body = fake_openrouter.requests[-1]["json"]
    assert body["modalities"] == ["image", "text"] and body["model"] == GEMINI
    assert "image_config" not in body  # 300x200 is no listed size: the input's shape is kept
    made = Image.open(io.BytesIO(base64.b64decode(result.images[0].url.split(",", 1)[1])))
    assert made.size == (300, 200)
    expected = tuple((a + b) // 2 for a, b in zip(BLUE, palette(0), strict=True))
    pixel = made.convert("RGB").getpixel((5, 5))
    assert all(abs(a - b) <= 1 for a, b in zip(pixel, expected, strict=True))


def test_an_edit_at_a_listed_size_asks_for_its_ratio(fake_openrouter):
    run(request_for(width=1376, height=768))
    assert fake_openrouter.requests[-1]["json"]["image_config"] == {"aspect_ratio": "16:9"}
    assert [part["type"] for part in sent_content(fake_openrouter)] == ["text", "image_url"]


def test_an_edit_is_charged_what_openrouter_reports(fake_openrouter):
    result = run(request_for(inputs=[picture(), picture()]))
    reported = Decimal(str(round(0.039 + 2 * IMAGE_INPUT_TOKENS * 0.0000005, 6)))
    assert result.cost_usd == reported.quantize(Decimal("0.000001"))
    assert result.cost_is_estimate is False
    assert result.metadata["usage"]["prompt_tokens"] > 2 * IMAGE_INPUT_TOKENS


def test_generation_still_sends_the_prompt_as_plain_text(fake_openrouter):
    run(GenerationRequest(prompt="a fox", model=GEMINI, width=1024, height=1024))
    assert sent_content(fake_openrouter) == "a fox"


def test_an_input_over_googles_inline_limit_is_sent_as_jpeg(fake_openrouter, monkeypatch):
    monkeypatch.setattr(openrouter, "INLINE_MAX_BYTES", 1000)  # 7 MB, lowered for the test
    noise = Image.frombytes("RGB", (300, 200), os.urandom(300 * 200 * 3))
    noise.putalpha(0)  # a busy picture, all of it transparent
    transparent = io.BytesIO()
    noise.save(transparent, format="PNG")
    clear = InputImage(data=transparent.getvalue(), format="PNG", width=300, height=200)
    small = picture(4, 4)
    run(request_for(inputs=[picture(800, 600), clear, small]))
    urls = [part["image_url"]["url"] for part in sent_content(fake_openrouter)[1:]]
    assert urls[0].startswith("data:image/jpeg;base64,")
    assert urls[2] == small.data_uri()  # under the limit: as stored
    flattened = Image.open(io.BytesIO(base64.b64decode(urls[1].split(",", 1)[1])))
    assert flattened.format == "JPEG" and flattened.size == (300, 200)
    assert all(c >= 250 for c in flattened.convert("RGB").getpixel((150, 100)))  # on white


def test_more_images_than_gemini_takes_is_refused_with_googles_reason(fake_openrouter):
    message = refusal(request_for(inputs=[picture(8, 8)] * 15))
    assert message.startswith("OpenRouter rejected the parameters: Provider returned error: ")
    assert "takes at most 14 per prompt" in message and KEY not in message


def test_a_model_that_reads_no_images_is_refused_in_words(fake_openrouter):
    entry = image_model("acme/text-only-painter")
    entry["architecture"]["input_modalities"] = ["text"]
    fake_openrouter.add_listed_model(entry)
    spec = dataclasses.replace(catalog_spec(), id="acme/text-only-painter")
    message = refusal(request_for(model="acme/text-only-painter"), spec)
    assert message == (
        "OpenRouter rejected the parameters: No endpoints found that support image input"
    )


@pytest.mark.parametrize(
    ("scenario", "words"),
    [
        ("unauthorized", "OpenRouter rejected the API key: check it in Settings."),
        ("no_credit", "OpenRouter reports no credit left"),
        ("content_policy", "OpenRouter refused the prompt (content policy)"),
        ("safety_refusal", "OpenRouter refused the prompt (content policy)"),
    ],
)
def test_account_failures_of_an_edit_are_explained_in_words(fake_openrouter, scenario, words):
    fake_openrouter.set_scenario(scenario)
    message = refusal(request_for())
    assert message.startswith(words) and KEY not in message
    assert sent_content(fake_openrouter)[1]["type"] == "image_url"  # it was the edit


@pytest.mark.parametrize(
    ("request_fields", "words"),
    [
        ({"inputs": []}, "OpenRouter: edit needs an input image."),
        ({"operation": "inpaint"}, "OpenRouter cannot inpaint with " + GEMINI),
        ({"operation": "upscale", "scale": 2}, "OpenRouter cannot upscale with " + GEMINI),
    ],
)
def test_requests_it_cannot_take_fail_before_anything_is_sent(
    fake_openrouter, request_fields, words
):
    assert refusal(request_for(**request_fields)).startswith(words)
    assert fake_openrouter.requests == []


def test_listed_image_models_that_read_images_are_offered_for_edits(fake_openrouter):
    listing = get_provider("openrouter").list_models(KEY, [])
    specs = {m.id: m.spec for m in listing.models}
    assert specs[GEMINI]["operations"] == ["generate", "edit"]
    assert specs[GEMINI]["max_input_images"] == 1  # until an admin writes the model's own
