"""Image operations through POST /api/generate with the offline provider: validation (what
each operation takes, 404 for another user's image), real pixel work, lineage."""

import io

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gallery.models import GenerationInput, Image
from generation.models import Generation
from tests.gallery.factories import make_image
from tests.operations.helpers import data_uri, made_image, mask_png, mask_uri, noise_png

pytestmark = pytest.mark.django_db


def _open(image: Image) -> PILImage.Image:
    with default_storage.open(image.file, "rb") as handle:
        picture = PILImage.open(handle)
        picture.load()
    return picture.convert("RGB")


def _pixels(image: Image) -> list:
    """Rows of (r, g, b) tuples."""
    picture = _open(image)
    raw = picture.tobytes()
    data = [tuple(raw[i : i + 3]) for i in range(0, len(raw), 3)]
    return [data[row * picture.width : (row + 1) * picture.width] for row in range(picture.height)]


def _submit(run_jobs, api, operation, sources, **fields):
    """Submits ``operation`` on the offline provider with ``sources`` as its input images."""
    body = {"operation": operation, "input_images": [s.pk for s in sources], **fields}
    return run_jobs(api, {**body, "provider": "offline"})


@pytest.mark.parametrize("scale", [2, 4])
def test_upscale_is_exactly_scale_times(owner, owner_api, run_jobs, scale):
    source = make_image(owner, data=noise_png(40, 30))
    response = _submit(run_jobs, owner_api, "upscale", [source], scale=scale)
    body = response.json()
    assert (body["width"], body["height"]) == (40 * scale, 30 * scale)
    image = made_image(response)
    assert (image.width, image.height) == (40 * scale, 30 * scale)
    assert _open(image).size == (40 * scale, 30 * scale)


def test_inpaint_keeps_every_unmasked_pixel(owner, owner_api, run_jobs):
    source = make_image(owner, data=noise_png(64, 48))
    mask = mask_png(64, 48, (10, 10, 30, 40))
    uri = data_uri(mask)
    response = _submit(run_jobs, owner_api, "inpaint", [source], mask=uri, prompt="a door")
    before, after = _pixels(source), _pixels(made_image(response))
    masked = PILImage.open(io.BytesIO(mask))
    kept = changed = 0
    for y in range(48):
        for x in range(64):
            if masked.getpixel((x, y)) == 0:
                assert after[y][x] == before[y][x], (x, y)
                kept += 1
            else:
                changed += after[y][x] != before[y][x]
    assert kept == 64 * 48 - 20 * 30 and changed > 500
    roles = list(
        GenerationInput.objects.filter(generation_id=response.json()["id"]).values_list(
            "role", "image_id"
        )
    )
    assert roles == [("input", source.pk), ("mask", None)]


def test_outpaint_keeps_the_original_at_its_offset(owner, owner_api, run_jobs):
    source = make_image(owner, data=noise_png(40, 30))
    response = _submit(
        run_jobs,
        owner_api,
        "outpaint",
        [source],
        outpaint={"left": 8, "top": 4, "right": 12, "bottom": 0},
    )
    image = made_image(response)
    assert (image.width, image.height) == (60, 34)
    after = _pixels(image)
    assert [row[8:48] for row in after[4:34]] == _pixels(source)


def test_outpaint_to_an_aspect_ratio(owner, owner_api, run_jobs):
    source = make_image(owner, data=noise_png(40, 30))
    response = _submit(run_jobs, owner_api, "outpaint", [source], outpaint={"aspect_ratio": "16:9"})
    image = made_image(response)
    assert image.height == 30 and image.width == 54  # ceil(30 * 16 / 9)


def test_edit_changes_the_picture_with_references(owner, owner_api, run_jobs):
    first = make_image(owner, data=noise_png(64, 64, 1))
    second = make_image(owner, data=noise_png(64, 64, 2))
    response = _submit(run_jobs, owner_api, "edit", [first, second], prompt="make it blue")
    image = made_image(response)
    assert (image.width, image.height) == (64, 64)
    assert _pixels(image) != _pixels(first)


def test_another_users_image_is_a_404_and_stores_nothing(owner_api, outsider):
    theirs = make_image(outsider)
    before = Generation.objects.count()
    response = owner_api.post(
        "/api/generate",
        {"operation": "upscale", "input_images": [theirs.pk], "provider": "offline"},
        format="json",
    )
    assert response.status_code == 404, response.content
    assert response.json() == {"detail": f"No such image: {theirs.pk}."}
    assert Generation.objects.count() == before


def test_another_users_mask_is_a_404(owner, owner_api, outsider):
    mine = make_image(owner)
    theirs = make_image(outsider, width=mine.width, height=mine.height)
    response = owner_api.post(
        "/api/generate",
        {
            "operation": "inpaint",
            "input_images": [mine.pk],
            "mask": theirs.pk,
            "prompt": "x",
            "provider": "offline",
        },
        format="json",
    )
    assert response.status_code == 404, response.content
    assert not GenerationInput.objects.exists()


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"operation": "upscale", "scale": 3}, "scale"),
        ({"operation": "upscale", "num_images": 2}, "num_images"),
        ({"operation": "inpaint", "prompt": "x"}, "mask"),
        ({"operation": "outpaint", "outpaint": {"left": -1}}, "outpaint"),
        ({"operation": "outpaint", "outpaint": {}}, "outpaint"),
        ({"operation": "outpaint", "outpaint": {"aspect_ratio": "wide"}}, "outpaint"),
        ({"operation": "remove_background"}, "operation"),
        ({"operation": "bake"}, "operation"),
        ({"operation": "edit", "prompt": "x", "strength": 2}, "strength"),
        ({"operation": "generate", "prompt": "x"}, "input_images"),
        ({"operation": "edit"}, "prompt"),
    ],
)
def test_refusals_name_the_field(owner, owner_api, payload, field):
    source = make_image(owner)
    body = {"provider": "offline", "input_images": [source.pk], **payload}
    response = owner_api.post("/api/generate", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json(), response.json()
    assert Generation.objects.filter(owner=owner).count() == 1  # make_image's own


def test_providers_list_operations(owner_api):
    providers = owner_api.get("/api/providers").json()["providers"]
    offline = next(p for p in providers if p["name"] == "offline")
    model = offline["models"][0]
    assert model["operations"] == ["generate", "edit", "inpaint", "outpaint", "upscale"]
    assert model["scales"] == [2, 4] and model["mask"] is True


def test_an_upscale_too_big_for_a_png_is_a_jpeg(owner, owner_api, run_jobs, settings):
    source = make_image(owner, data=noise_png(64, 48))
    settings.MAX_IMAGE_SIZE = 60_000  # the noise PNG ×4 is over it, its JPEG is not
    response = _submit(run_jobs, owner_api, "upscale", [source], scale=4)
    image = made_image(response)
    assert image.format == "JPEG" and (image.width, image.height) == (256, 192)


def test_an_operation_the_model_does_not_do_is_the_only_error(owner, owner_api):
    source = make_image(owner)
    response = owner_api.post(
        "/api/generate",
        {"provider": "offline", "operation": "remove_background", "input_images": [source.pk]},
        format="json",
    )
    assert response.status_code == 400
    assert list(response.json()) == ["operation"]
    assert "offline-shapes does not do remove_background" in response.json()["operation"][0]


def test_inpaint_strength_moves_masked_pixels_part_of_the_way(owner, owner_api, run_jobs):
    source = make_image(owner, data=noise_png(64, 48))
    uri = mask_uri(64, 48, (0, 0, 64, 48))

    def run(strength):
        body = {"operation": "inpaint", "input_images": [source.pk], "mask": uri}
        body.update(prompt="a door", provider="offline", seed=5)
        if strength is not None:
            body["strength"] = strength
        return _pixels(made_image(run_jobs(owner_api, body)))

    before, full, none = _pixels(source), run(None), run(0)
    assert none == before  # strength 0: nothing moves
    half = run(0.5)
    assert half != before and half != full


@pytest.mark.parametrize(
    "mask", ["²", "١٢", "data:text/html;base64,PGI+", "data:image/png;base64,!!"]
)
def test_a_malformed_mask_is_a_field_error(owner, owner_api, mask):
    source = make_image(owner)
    body = {"provider": "offline", "operation": "inpaint", "input_images": [source.pk]}
    response = owner_api.post("/api/generate", {**body, "prompt": "x", "mask": mask}, format="json")
    assert response.status_code == 400, response.content
    assert list(response.json()) == ["mask"]
