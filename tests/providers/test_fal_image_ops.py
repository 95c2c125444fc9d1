"""fal's image operations against the strict fake, through ``provider.generate``: each model
gets its inputs as data URIs under its own input names in one submit POST, the fake decodes
them and answers with images shaped by them, fal's refusals become ProviderError with fal's
reason, and costs follow the catalog's price units."""

import base64
import io
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from imagegen.providers import get_provider
from imagegen.providers.base import Margins
from imagegen.providers.inputs import outpaint_canvas
from tests.providers import helpers
from tests.providers.helpers import decoded, picture, request_for, white_square_mask

pytestmark = pytest.mark.django_db

KONTEXT = "fal-ai/flux-pro/kontext"
NANO = "fal-ai/nano-banana/edit"
FILL = "fal-ai/flux-pro/v1/fill"
SEEDVR = "fal-ai/seedvr/upscale/image"
BIREFNET = "fal-ai/birefnet/v2"


def run(request, spec=None):
    return helpers.run_operation("fal", request, spec)


def submits(fake):
    return [r for r in fake.requests if r["method"] == "POST"]


def fetched(url) -> Image.Image:
    if url.startswith("data:"):
        data = base64.b64decode(url.partition(",")[2])
    else:
        data = httpx.get(url).content
    return Image.open(io.BytesIO(data))


def assert_only_schema_fields(fake, endpoint):
    (submit,) = submits(fake)
    allowed = set(fake.input_schema(endpoint)["properties"])
    assert set(submit["json"]) <= allowed, set(submit["json"]) - allowed
    assert fake.ignored_fields == []
    return submit["json"]


def test_the_catalog_offers_each_model_for_its_operations():
    specs = {spec.id: spec for spec in get_provider("fal").models()}
    assert specs[KONTEXT].operations == ("edit",) and specs[KONTEXT].max_input_images == 1
    assert specs[NANO].operations == ("edit",) and specs[NANO].max_input_images == 3
    assert specs[FILL].operations == ("inpaint", "outpaint") and specs[FILL].takes_mask
    assert specs[SEEDVR].operations == ("upscale",) and specs[SEEDVR].scales == (2, 4)
    assert specs[BIREFNET].operations == ("remove_background",)
    assert specs["fal-ai/flux/dev"].operations == ("generate",)  # text-to-image stays as it was


def test_kontext_edit_sends_the_image_inline_with_the_chosen_aspect_ratio(fake_fal):
    source = picture(640, 480)
    request = request_for(KONTEXT, "edit", [source], width=1360, height=768, seed=5)
    provider, result = run(request)
    sent = assert_only_schema_fields(fake_fal, KONTEXT)
    assert submits(fake_fal)[0]["path"] == f"/{KONTEXT}"
    assert sent["image_url"] == source.data_uri()
    assert decoded(sent["image_url"]).size == (640, 480)
    assert sent["aspect_ratio"] == "16:9" and sent["output_format"] == "png"
    assert sent["prompt"] == "make the sky stormy" and sent["seed"] == 5
    (image,) = result.images
    assert fetched(image.url).size == (1360, 768)
    assert result.cost_usd == Decimal("0.040000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.040000")


def test_an_edit_at_the_inputs_own_size_sends_no_aspect_ratio(fake_fal):
    source = picture(640, 480)
    _, result = run(request_for(KONTEXT, "edit", [source]))  # 640x480 is no Kontext ratio
    sent = assert_only_schema_fields(fake_fal, KONTEXT)
    assert "aspect_ratio" not in sent
    assert fetched(result.images[0].url).size == (640, 480)  # the model kept the input's


def test_nano_banana_edit_takes_every_input_image_in_order(fake_fal):
    first, second = picture(800, 600), picture(300, 300, (250, 200, 10))
    request = request_for(NANO, "edit", [first, second], num_images=2)
    provider, result = run(request)
    sent = assert_only_schema_fields(fake_fal, NANO)
    assert sent["image_urls"] == [first.data_uri(), second.data_uri()]
    assert [decoded(uri).size for uri in sent["image_urls"]] == [(800, 600), (300, 300)]
    assert sent["num_images"] == 2 and "aspect_ratio" not in sent
    assert [fetched(i.url).size for i in result.images] == [(800, 600), (800, 600)]
    assert result.cost_usd == Decimal("0.078000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.078000")


def test_nano_banana_refuses_a_prompt_under_three_characters_in_falls_words(fake_fal):
    message = helpers.refusal_of(run, request_for(NANO, "edit", [picture(64, 64)], prompt="hi"))
    assert "rejected the parameters" in message
    assert "prompt: String should have at least 3 characters" in message


def test_fill_inpaints_with_the_mask_inline_white_where_it_changes(fake_fal):
    source, mask = picture(1200, 900), white_square_mask(1200, 900)
    request = request_for(FILL, "inpaint", [source], mask=mask, num_images=2)
    provider, result = run(request)
    sent = assert_only_schema_fields(fake_fal, FILL)
    assert sent["image_url"] == source.data_uri() and sent["mask_url"] == mask.data_uri()
    sent_mask = decoded(sent["mask_url"])
    assert sent_mask.size == (1200, 900) and sent_mask.mode == "L"
    assert sent_mask.getpixel((400, 300)) == 255 and sent_mask.getpixel((10, 10)) == 0
    assert "aspect_ratio" not in sent and "image_size" not in sent
    assert [fetched(i.url).size for i in result.images] == [(1200, 900)] * 2
    # $0.05 per megapixel, rounded up per image: 1.08 MP -> 2 MP, two images
    assert result.cost_usd == Decimal("0.200000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.200000")


def test_outpaint_reaches_fill_as_an_inpaint_of_the_padded_canvas(fake_fal):
    canvas, mask = outpaint_canvas(picture(512, 512), Margins(left=128, right=128))
    _, result = run(request_for(FILL, "outpaint", [canvas], mask=mask))
    sent = assert_only_schema_fields(fake_fal, FILL)
    assert decoded(sent["image_url"]).size == decoded(sent["mask_url"]).size == (768, 512)
    assert decoded(sent["mask_url"]).getpixel((5, 5)) == 255  # the new margin may change
    assert fetched(result.images[0].url).size == (768, 512)


def test_a_mask_of_another_size_is_refused_with_fals_reason(fake_fal):
    request = request_for(FILL, "inpaint", [picture(640, 480)], mask=white_square_mask(64, 64))
    message = helpers.refusal_of(run, request)
    assert "rejected the parameters: mask_url:" in message
    assert "same dimensions" in message


@pytest.mark.parametrize("scale", [2, 4])
def test_seedvr_upscales_by_the_factor_without_a_prompt(fake_fal, scale):
    source = picture(300, 200)
    request = request_for(SEEDVR, "upscale", [source], 300 * scale, 200 * scale, scale=scale)
    provider, result = run(request)
    sent = assert_only_schema_fields(fake_fal, SEEDVR)
    assert sent == {
        "image_url": source.data_uri(),
        "upscale_factor": scale,
        "upscale_mode": "factor",
        "output_format": "png",
    }
    (image,) = result.images
    assert fetched(image.url).size == (300 * scale, 200 * scale)
    # $0.001 per output megapixel, rounded up: 0.24 MP -> 1, 0.96 MP -> 1
    assert result.cost_usd == Decimal("0.001000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.001000")


def test_birefnet_cuts_out_a_transparent_png_of_the_inputs_size(fake_fal):
    source = picture(333, 222)
    request = request_for(BIREFNET, "remove_background", [source])
    provider, result = run(request)
    sent = assert_only_schema_fields(fake_fal, BIREFNET)
    assert sent == {"image_url": source.data_uri(), "output_format": "png"}
    cutout = fetched(result.images[0].url)
    assert cutout.size == (333, 222) and cutout.mode == "RGBA"
    assert cutout.getpixel((0, 0))[3] == 0
    # billed per compute second: the catalog's typical run (4 s x $0.0008), an estimate
    assert result.cost_usd == Decimal("0.003200") and result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.003200")
