"""Replicate's image operations against the strict fake, through ``provider.generate``: each
model gets its files under its own input names in one create POST, as data URIs when small and
through the files API (uploaded first, deleted after) from 1MB on; the fake decodes them and
answers with images shaped by them; failures become ProviderError with Replicate's reason;
costs follow the catalog (per image, or predict_time x the per-second rate)."""

import io
import os
from decimal import Decimal

import httpx
import pytest
from PIL import Image

from imagegen.providers import get_provider
from imagegen.providers.base import GenerationRequest, Margins
from imagegen.providers.inputs import outpaint_canvas, png_input
from tests.fakes.replicate_server import REAL_ESRGAN_VERSION
from tests.providers import helpers
from tests.providers.helpers import decoded, picture, request_for, white_square_mask

pytestmark = pytest.mark.django_db

KONTEXT = "black-forest-labs/flux-kontext-pro"
NANO = "google/nano-banana"
FILL = "black-forest-labs/flux-fill-pro"
ESRGAN = "nightmareai/real-esrgan"
RMBG = "recraft-ai/recraft-remove-background"


@pytest.fixture(autouse=True)
def inputs_match_the_schema(fake_replicate):
    """Replicate ignores input fields a model does not have: every prediction a test made must
    use only its model's own fields."""
    yield
    assert fake_replicate.schema_violations() == {}


def noise(width, height):
    """A PNG that does not compress: over 1MB for 700x700."""
    return png_input(Image.frombytes("RGB", (width, height), os.urandom(width * height * 3)))


def run(request, spec=None):
    return helpers.run_operation("replicate", request, spec)


def creates(fake):
    return [r for r in fake.requests if r["method"] == "POST" and r["path"].endswith("predictions")]


def sent_input(fake, path):
    (create,) = creates(fake)
    assert create["path"] == path
    return create["json"]["input"]


def fetched(url) -> Image.Image:
    return Image.open(io.BytesIO(httpx.get(url).content))


def test_the_catalog_offers_each_model_for_its_operations():
    specs = {spec.id: spec for spec in get_provider("replicate").models()}
    assert specs[KONTEXT].operations == ("generate", "edit")
    assert specs[NANO].operations == ("generate", "edit") and specs[NANO].max_input_images == 3
    assert specs[FILL].operations == ("inpaint", "outpaint") and specs[FILL].takes_mask
    assert specs[ESRGAN].operations == ("upscale",) and specs[ESRGAN].scales == (2, 4)
    assert specs[ESRGAN].version == REAL_ESRGAN_VERSION
    assert specs[RMBG].operations == ("remove_background",)


def test_kontext_edit_sends_input_image_inline_in_one_create(fake_replicate):
    source = picture(640, 480)
    request = request_for(KONTEXT, "edit", [source], width=1360, height=768, seed=3)
    provider, result = run(request)
    sent = sent_input(fake_replicate, f"/v1/models/{KONTEXT}/predictions")
    assert sent == {
        "prompt": "make the sky stormy",
        "input_image": source.data_uri(),
        "aspect_ratio": "16:9",
        "seed": 3,
        "output_format": "png",
    }
    assert decoded(sent["input_image"]).size == (640, 480)
    (image,) = result.images
    assert fetched(image.url).size == (1360, 768)
    assert result.cost_usd == Decimal("0.040000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.040000")
    assert fake_replicate.uploads == {}  # small inputs travel inline


def test_an_edit_at_the_inputs_own_size_matches_the_input(fake_replicate):
    _, result = run(request_for(KONTEXT, "edit", [picture(640, 480)]))
    sent = sent_input(fake_replicate, f"/v1/models/{KONTEXT}/predictions")
    assert "aspect_ratio" not in sent  # the model's default: match_input_image
    assert fetched(result.images[0].url).size == (640, 480)


def test_nano_banana_edit_takes_the_image_input_list(fake_replicate):
    first, second = picture(800, 600), picture(200, 200, (240, 10, 10))
    _, result = run(request_for(NANO, "edit", [first, second]))
    sent = sent_input(fake_replicate, f"/v1/models/{NANO}/predictions")
    assert sent["image_input"] == [first.data_uri(), second.data_uri()]
    assert fetched(result.images[0].url).size == (800, 600)
    assert result.cost_usd == Decimal("0.039000") and not result.cost_is_estimate


def test_nano_banana_still_generates_from_a_prompt(fake_replicate):
    request = GenerationRequest(prompt="a fox", model=NANO, width=1344, height=768)
    _, result = run(request)
    sent = sent_input(fake_replicate, f"/v1/models/{NANO}/predictions")
    assert sent == {"prompt": "a fox", "aspect_ratio": "16:9", "output_format": "png"}
    assert fetched(result.images[0].url).size == (1360, 768)  # the fake's 16:9


def test_an_input_of_a_megabyte_or_more_goes_through_the_files_api(fake_replicate):
    large = noise(700, 700)
    assert len(large.data) >= 1_000_000
    _, result = run(request_for(KONTEXT, "edit", [large]))
    uploads = [r for r in fake_replicate.requests if r["path"] == "/v1/files"]
    assert [r["method"] for r in uploads] == ["POST"]
    assert uploads[0]["headers"]["content-type"].startswith("multipart/form-data")
    assert large.data in uploads[0]["body"]
    sent = sent_input(fake_replicate, f"/v1/models/{KONTEXT}/predictions")
    assert sent["input_image"].startswith(f"{fake_replicate.base_url}/v1/files/")
    assert not sent["input_image"].startswith("data:")
    assert fetched(result.images[0].url).size == (700, 700)  # the model read the upload
    deletes = [r for r in fake_replicate.requests if r["method"] == "DELETE"]
    assert [r["path"] for r in deletes] == [sent["input_image"][len(fake_replicate.base_url) :]]
    assert fake_replicate.uploads == {}


def test_fill_pro_inpaints_with_image_and_mask(fake_replicate):
    source, mask = picture(1000, 750), white_square_mask(1000, 750)
    request = request_for(FILL, "inpaint", [source], mask=mask, steps=30, cfg_scale=4)
    provider, result = run(request)
    sent = sent_input(fake_replicate, f"/v1/models/{FILL}/predictions")
    assert sent["image"] == source.data_uri() and sent["mask"] == mask.data_uri()
    assert decoded(sent["mask"]).getpixel((300, 200)) == 255
    assert (sent["steps"], sent["guidance"]) == (30, 4)
    assert "aspect_ratio" not in sent and "outpaint" not in sent
    assert fetched(result.images[0].url).size == (1000, 750)
    assert result.cost_usd == Decimal("0.050000") and not result.cost_is_estimate
    assert provider.estimate_cost(request) == Decimal("0.050000")


def test_outpaint_reaches_fill_pro_as_an_inpaint_of_the_padded_canvas(fake_replicate):
    canvas, mask = outpaint_canvas(picture(400, 400), Margins(top=100, bottom=100))
    _, result = run(request_for(FILL, "outpaint", [canvas], mask=mask))
    sent = sent_input(fake_replicate, f"/v1/models/{FILL}/predictions")
    assert decoded(sent["image"]).size == decoded(sent["mask"]).size == (400, 600)
    assert "outpaint" not in sent  # the mask says where, not Replicate's preset outpaint
    assert fetched(result.images[0].url).size == (400, 600)


def test_a_mask_of_another_size_fails_with_the_models_reason(fake_replicate):
    request = request_for(FILL, "inpaint", [picture(640, 480)], mask=white_square_mask(32, 32))
    message = helpers.refusal_of(run, request)
    assert "mask size 32x32 does not match image size 640x480" in message


@pytest.mark.parametrize("scale", [2, 4])
def test_real_esrgan_runs_by_version_and_costs_its_predict_time(fake_replicate, scale):
    fake_replicate.set_scenario("success", predict_time=2.0)
    source = picture(250, 150)
    request = request_for(ESRGAN, "upscale", [source], 250 * scale, 150 * scale, scale=scale)
    provider, result = run(request)
    (create,) = creates(fake_replicate)
    assert create["path"] == "/v1/predictions"
    assert create["json"]["version"] == REAL_ESRGAN_VERSION
    assert create["json"]["input"] == {"image": source.data_uri(), "scale": scale}
    assert fetched(result.images[0].url).size == (250 * scale, 150 * scale)
    assert result.cost_usd == Decimal("0.000450") and not result.cost_is_estimate  # 2 s
    assert provider.estimate_cost(request) == Decimal("0.000900")  # the typical 4 s


def test_recraft_removes_the_background_without_a_prompt(fake_replicate):
    source = picture(320, 240)
    _, result = run(request_for(RMBG, "remove_background", [source]))
    sent = sent_input(fake_replicate, f"/v1/models/{RMBG}/predictions")
    assert sent == {"image": source.data_uri()}
    cutout = fetched(result.images[0].url)
    assert cutout.size == (320, 240) and cutout.mode == "RGBA" and cutout.getpixel((0, 0))[3] == 0
    assert result.cost_usd == Decimal("0.010000") and not result.cost_is_estimate


def test_a_refused_upload_is_a_provider_error_and_nothing_is_created(fake_replicate):
    fake_replicate.set_scenario("unauthorized")
    message = helpers.refusal_of(run, request_for(KONTEXT, "edit", [noise(700, 700)]))
    assert "rejected the API key" in message
    assert creates(fake_replicate) == [] and fake_replicate.predictions == {}
