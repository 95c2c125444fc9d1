"""The Generate page's image inputs (issue #16), server side: the form takes an operation,
input images (the tray's hidden ids), a mask (a multipart file or a data URI), strength, scale
and outpaint margins or ratio, keeps only the chosen operation's fields, refuses another
user's image without queueing anything; ``?operation=…&input=…`` fills the selector and the
tray (dropping ids the user may not view); the feed's cards say the operation and its
inputs."""

import base64
import io

import pytest
from PIL import Image as PILImage

from gallery.models import GenerationInput
from generation.models import Generation, Status
from tests.gallery.factories import make_image
from tests.generation.helpers import make_generation

pytestmark = pytest.mark.django_db

SCRIPT = {"HTTP_ACCEPT": "application/json", "HTTP_X_REQUESTED_WITH": "fetch"}
BASE = {"provider": "offline", "model": "offline-shapes", "num_images": 1}


def _mask(width, height, box=(4, 4, 20, 20)) -> bytes:
    mask = PILImage.new("L", (width, height), 0)
    mask.paste(255, box)
    out = io.BytesIO()
    mask.save(out, format="PNG")
    return out.getvalue()


def _mask_file(width, height, **kwargs):
    upload = io.BytesIO(_mask(width, height, **kwargs))
    upload.name = "mask.png"
    return upload


def _runs():
    """The generations the page queued (make_image records one, "req-1", for each image)."""
    return Generation.objects.runs().exclude(provider_request_id="req-1")


def _post(client, data):
    return client.post("/generate/", data, **SCRIPT)


# --- the form ----------------------------------------------------------------------------------


def test_edit_with_two_inputs_in_the_trays_order(owner_client, owner):
    first, second = make_image(owner), make_image(owner)
    data = {**BASE, "operation": "edit", "prompt": "make it blue"}
    data["input_images"] = [str(second.pk), str(first.pk)]
    response = _post(owner_client, data)
    assert response.status_code == 201, response.json()
    generation = _runs().get()
    assert generation.operation == "edit"
    inputs = list(generation.inputs.order_by("position").values_list("role", "image_id"))
    assert inputs == [("input", second.pk), ("input", first.pk)]
    # The card the page gets back says what it was made from.
    cards = response.json()["cards"]
    assert "Edit" in cards and f"#{second.pk}" in cards and f"#{first.pk}" in cards


def test_another_users_image_is_refused_and_nothing_is_queued(owner_client, owner, outsider):
    mine, theirs = make_image(owner), make_image(outsider)
    before = Generation.objects.count()
    data = {**BASE, "operation": "edit", "prompt": "x"}
    data["input_images"] = [str(mine.pk), str(theirs.pk)]
    response = _post(owner_client, data)
    assert response.status_code == 200
    assert response.json()["errors"]["input_images"] == [f"No such image: {theirs.pk}."]
    assert Generation.objects.count() == before
    assert not GenerationInput.objects.exists()
    # As a mask id too: not an image of theirs, ever.
    data = {**BASE, "operation": "inpaint", "prompt": "x", "input_images": [str(mine.pk)]}
    response = _post(owner_client, {**data, "mask": str(theirs.pk)})
    assert response.status_code == 404
    assert Generation.objects.count() == before


def test_inpaint_with_the_mask_as_a_file_part(
    owner_client, owner, django_capture_on_commit_callbacks
):
    source = make_image(owner, width=48, height=32)
    data = {**BASE, "operation": "inpaint", "prompt": "a door"}
    data.update(input_images=[str(source.pk)], mask=_mask_file(48, 32))
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(owner_client, data)
    assert response.status_code == 201, response.json()
    generation = _runs().get()
    assert generation.operation == "inpaint" and generation.status == Status.SUCCEEDED
    roles = list(generation.inputs.order_by("position").values_list("role", "image_id"))
    assert roles == [("input", source.pk), ("mask", None)]
    mask = generation.inputs.get(role="mask")
    assert (mask.width, mask.height, mask.format) == (48, 32, "PNG")


def test_a_mask_file_is_read_once_for_every_variation(owner_client, owner):
    """{a|b} makes two generations: both get the same mask (a file can be read only once)."""
    source = make_image(owner, width=48, height=32)
    data = {**BASE, "operation": "inpaint", "prompt": "a {red|blue} door"}
    data.update(input_images=[str(source.pk)], mask=_mask_file(48, 32))
    response = _post(owner_client, data)
    assert response.status_code == 201, response.json()
    masks = GenerationInput.objects.filter(role="mask")
    assert masks.count() == 2 and len({m.sha256 for m in masks}) == 1


def test_inpaint_with_the_mask_as_a_data_uri(owner_client, owner):
    source = make_image(owner, width=48, height=32)
    uri = "data:image/png;base64," + base64.b64encode(_mask(48, 32)).decode()
    data = {**BASE, "operation": "inpaint", "prompt": "a door", "mask": uri}
    data["input_images"] = [str(source.pk)]
    assert _post(owner_client, data).status_code == 201
    assert GenerationInput.objects.filter(role="mask").count() == 1


@pytest.mark.parametrize(
    ("mask", "words"),
    [
        (None, "Inpaint needs a mask"),
        ("wrong-size", "it must be the input image's size, 48x32"),
        ("data:image/png;base64,!!!", "data:image/png;base64"),
    ],
)
def test_inpaint_mask_errors_are_the_masks(owner_client, owner, mask, words):
    source = make_image(owner, width=48, height=32)
    data = {**BASE, "operation": "inpaint", "prompt": "a door", "input_images": [str(source.pk)]}
    if mask == "wrong-size":
        data["mask"] = _mask_file(20, 20, box=(0, 0, 5, 5))
    elif mask:
        data["mask"] = mask
    response = _post(owner_client, data)
    assert response.status_code == 200
    assert words in " ".join(response.json()["errors"]["mask"])
    assert not _runs().exists()


def test_upscale_needs_no_prompt_and_ignores_the_pages_size(owner_client, owner):
    source = make_image(owner, width=48, height=32)
    # What the page would send if a hidden field were left enabled: ignored, not an error.
    data = {**BASE, "operation": "upscale", "scale": "2", "input_images": [str(source.pk)]}
    data.update(width="1024", height="1024", num_images="3", prompt="")
    response = _post(owner_client, data)
    assert response.status_code == 201, response.json()
    generation = _runs().get()
    assert (generation.operation, generation.width, generation.height) == ("upscale", 96, 64)
    assert generation.num_images == 1 and generation.operation_params == {"scale": 2}
    assert "Upscale ×2" in response.json()["cards"]


def test_a_scale_the_model_does_not_offer_is_the_scales_error(owner_client, owner):
    source = make_image(owner)
    data = {**BASE, "operation": "upscale", "scale": "3", "input_images": [str(source.pk)]}
    errors = _post(owner_client, data).json()["errors"]
    assert "allowed: 2, 4" in " ".join(errors["scale"])
    assert not _runs().exists()


def test_outpaint_to_a_ratio_or_by_margins(owner_client, owner):
    source = make_image(owner, width=40, height=30)
    data = {**BASE, "operation": "outpaint", "input_images": [str(source.pk)], "prompt": ""}
    ratio = {**data, "outpaint_mode": "ratio", "outpaint_ratio": "16:9"}
    assert _post(owner_client, ratio).status_code == 201
    margins = {**data, "outpaint_mode": "margins", "outpaint_left": "8", "outpaint_top": "0"}
    margins.update(outpaint_right="12", outpaint_bottom="4", outpaint_ratio="16:9")
    assert _post(owner_client, margins).status_code == 201
    first, second = _runs().order_by("pk")
    assert (first.width, first.height) == (54, 30)
    assert (second.width, second.height) == (60, 34)
    assert second.operation_params["margins"] == {"left": 8, "top": 0, "right": 12, "bottom": 4}


def test_outpaint_errors_name_the_outpaint_field(owner_client, owner):
    source = make_image(owner, width=40, height=30)
    data = {**BASE, "operation": "outpaint", "input_images": [str(source.pk)]}
    none = {**data, "outpaint_mode": "margins", "outpaint_left": "0"}
    assert "at least one side" in " ".join(_post(owner_client, none).json()["errors"]["outpaint"])
    too_big = {**data, "outpaint_mode": "margins", "outpaint_left": "5000"}
    assert "outpaint_left" in _post(owner_client, too_big).json()["errors"]
    assert not _runs().exists()


def test_strength_out_of_range_and_a_generate_keeps_none_of_the_operation_fields(
    owner_client, owner
):
    source = make_image(owner)
    data = {**BASE, "operation": "edit", "prompt": "x", "input_images": [str(source.pk)]}
    errors = _post(owner_client, {**data, "strength": "1.5"}).json()["errors"]
    assert "strength" in errors
    # Generate: the tray, mask, scale and outpaint fields left in the form are not sent.
    leftovers = {**data, "operation": "generate", "strength": "0.5", "scale": "2"}
    leftovers.update(mask=_mask_file(48, 32), outpaint_mode="margins", outpaint_left="8")
    leftovers.update(width="64", height="64")
    response = _post(owner_client, leftovers)
    assert response.status_code == 201, response.json()
    generation = _runs().get()
    assert generation.operation == "generate" and generation.strength is None
    assert not generation.inputs.exists() and generation.operation_params == {}


def test_an_operation_the_model_does_not_do_is_refused(owner_client, owner):
    source = make_image(owner)
    data = {**BASE, "operation": "remove_background", "input_images": [str(source.pk)]}
    errors = _post(owner_client, data).json()["errors"]
    assert "does not do remove_background" in " ".join(errors["operation"])
    assert not _runs().exists()


# --- the page -----------------------------------------------------------------------------------


def test_the_query_string_fills_the_selector_and_the_tray(owner_client, owner, outsider):
    mine, theirs = make_image(owner), make_image(outsider)
    body = owner_client.get(
        f"/generate/?operation=edit&input={mine.pk}&input={theirs.pk}&input=x"
    ).content.decode()
    assert 'name="operation" value="edit" checked' in body
    assert f'<input type="hidden" name="input_images" value="{mine.pk}">' in body
    assert f'name="input_images" value="{theirs.pk}"' not in body  # dropped silently
    assert f'data-id="{theirs.pk}"' not in body
    assert 'data-open-on-load="true"' not in body
    assert '<button type="submit" class="primary" id="generate-button">Edit</button>' in body


def test_inpaint_from_the_query_opens_the_mask_editor(owner_client, owner):
    mine = make_image(owner)
    body = owner_client.get(f"/generate/?operation=inpaint&input={mine.pk}").content.decode()
    assert 'name="operation" value="inpaint" checked' in body
    assert 'data-open-on-load="true"' in body
    assert 'id="mask-editor"' in body and 'aria-pressed="true"' in body


def test_an_operation_no_usable_model_does_starts_on_generate(owner_client, owner):
    mine = make_image(owner)
    body = owner_client.get(
        f"/generate/?operation=remove_background&input={mine.pk}"
    ).content.decode()
    assert "No model you can use does remove background" in body
    assert 'name="operation" value="generate" checked' in body
    # The model shows only the operations it does.
    assert 'data-operation="remove_background" hidden' in body
    assert 'data-operation="upscale">' in body


def test_use_these_settings_of_an_outpaint_fills_its_margins(owner_client, owner):
    source = make_image(owner, width=40, height=30)
    outpaint = make_generation(
        owner,
        operation="outpaint",
        operation_params={"margins": {"left": 8, "top": 0, "right": 12, "bottom": 4}},
        status=Status.SUCCEEDED,
    )
    GenerationInput.objects.create(
        generation=outpaint,
        image=source,
        image_ref=source.pk,
        file=source.file,
        sha256=source.sha256,
        format="PNG",
        width=40,
        height=30,
    )
    result = make_image(owner, generation=outpaint)
    body = owner_client.get(f"/generate/?remix={result.pk}").content.decode()
    assert 'name="operation" value="outpaint" checked' in body
    assert f'name="input_images" value="{source.pk}"' in body
    assert 'name="outpaint_mode" value="margins" checked' in body
    assert 'name="outpaint_left" value="8"' in body and 'name="outpaint_bottom" value="4"' in body


def test_a_card_says_the_operation_and_what_it_was_made_from(owner_client, owner, viewer):
    kept, gone = make_image(owner), make_image(owner)
    generation = make_generation(
        owner,
        operation="upscale",
        operation_params={"scale": 4},
        prompt="",
        status=Status.FAILED,
        error="Input image 12 was deleted before the generation ran.",
    )
    for position, image in enumerate((kept, gone)):
        GenerationInput.objects.create(
            generation=generation,
            image=image,
            image_ref=image.pk,
            position=position,
            file=image.file,
            sha256=image.sha256,
            format="PNG",
            width=48,
            height=32,
        )
    gone_pk = gone.pk
    gone.delete()
    card = owner_client.get(f"/generations/{generation.pk}/status/").content.decode()
    assert "Upscale ×4" in card
    assert f'href="/files/images/{kept.pk}"' in card and f"#{kept.pk}" in card
    assert f"#{gone_pk} (deleted)" in card
    assert "Input image 12 was deleted before the generation ran." in card
    assert 'class="gen-prompt"' not in card  # no empty prompt line


def test_the_price_line_prices_an_operation_at_its_result_size(owner_client, owner, monkeypatch):
    """An upscale ×4 of a 48×32 image is priced at 192×128 (the offline provider is priced
    like a cloud one here, so that the line names the size)."""
    monkeypatch.setattr("generation.page.runs_locally", lambda provider: False)
    source = make_image(owner, width=48, height=32)
    query = (
        "/generate/price/?provider=offline&model=offline-shapes&operation=upscale"
        f"&input_images={source.pk}&scale=4&width=1024&height=1024"
    )
    assert "at 192×128" in owner_client.get(query).content.decode()
    outpaint = (
        "/generate/price/?provider=offline&model=offline-shapes&operation=outpaint"
        f"&input_images={source.pk}&outpaint_mode=margins&outpaint_left=16"
    )
    assert "at 64×32" in owner_client.get(outpaint).content.decode()
