"""fal's cost: the hand-written price unit wins over the pricing API's ``unit: "image"``, a
megapixel model costs ceil(w*h/1e6) per image, a unit nobody wrote by hand gives an
estimate; images the safety checker flagged are not stored."""

from decimal import Decimal

import pytest

from gallery.models import Image
from generation.models import Generation
from imagegen.providers.models import CatalogModel
from tests.providers.helpers import generate, stored_image_count

pytestmark = pytest.mark.django_db

DEV = "fal-ai/flux/dev"


def run(owner_api, run_jobs, model=DEV, side=1024, **extra):
    body = {"provider": "fal", "model": model, "prompt": "a fox", "width": side, "height": side}
    return generate(owner_api, run_jobs, **{**body, **extra})


def test_a_megapixel_model_costs_whole_megapixels_per_image(owner_api, run_jobs, fake_fal):
    result = run(owner_api, run_jobs, side=2048)
    assert result["status"] == "succeeded", result["error"]
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_usd == Decimal("0.125000")  # ceil(4.19 MP) = 5 x 0.025
    assert not generation.cost_is_estimate


def test_the_handwritten_unit_wins_over_what_a_refresh_stored(owner_api, run_jobs, fake_fal):
    """fal's pricing API answers ``unit: "image"`` for flux/dev; a row that took it must
    still be costed per megapixel (not one unit for a 2048x2048 image)."""
    CatalogModel.objects.filter(provider="fal", model_id=DEV).update(price_unit="image")
    result = run(owner_api, run_jobs, side=2048)
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_usd == Decimal("0.125000") and not generation.cost_is_estimate


def test_a_price_unit_from_the_pricing_api_gives_an_estimate(owner_api, run_jobs, fake_fal):
    """A model added from fal's listing: its unit is what the pricing API said ("image"),
    which fal also says for per-megapixel models, so the cost is not an actual."""
    fake_fal.add_listed_model("fal-ai/new-flux", label="New FLUX", price=(0.01, "image"))
    CatalogModel.objects.create(
        provider="fal",
        model_id="fal-ai/new-flux",
        display_name="New FLUX",
        spec={
            "presets": {"1024x1024": "square_hd"},
            "min_size": 256,
            "max_size": 2048,
            "max_images": 4,
            "steps": [1, 50],
            "cfg_scale": None,
            "seed": True,
            "inputs": {"size": "image_size", "num_images": "num_images", "seed": "seed"},
        },
        price_unit="image",
        price_usd=Decimal("0.01"),
    )
    result = run(owner_api, run_jobs, model="fal-ai/new-flux")
    assert result["status"] == "succeeded", result["error"]
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_usd == Decimal("0.010000") and generation.cost_is_estimate


# ------------------------------------------------------------------ safety checker (#9)
def test_flagged_images_are_not_stored(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("nsfw", flags=[True, False], seed=5)
    result = run(owner_api, run_jobs, num_images=2)
    assert result["status"] == "succeeded", result["error"]
    assert stored_image_count(result["id"]) == 1
    image = Image.objects.get(generation_id=result["id"])
    assert image.seed is None  # one of a batch: only the batch seed is known
    generation = Generation.objects.get(pk=result["id"])
    assert generation.provider_metadata["nsfw_removed"] == 1
    assert generation.provider_metadata["has_nsfw_concepts"] == [True, False]
    # fal bills "successful outputs" and does not say whether a flagged one counts: only the
    # delivered image is costed (as when all are flagged: a failure, no spend), as an estimate.
    assert generation.cost_usd == Decimal("0.050000") and generation.cost_is_estimate


def test_all_flagged_fails_as_content_policy(owner_api, run_jobs, fake_fal):
    fake_fal.set_scenario("nsfw", flags=[True])
    result = run(owner_api, run_jobs)
    assert result["status"] == "failed"
    assert result["error"] == (
        "fal.ai refused the prompt (content policy): the safety checker flagged the image"
    )
    assert stored_image_count(result["id"]) == 0


def test_unflagged_results_are_actual_costs(owner_api, run_jobs, fake_fal):
    result = run(owner_api, run_jobs, num_images=2)
    generation = Generation.objects.get(pk=result["id"])
    assert generation.cost_usd == Decimal("0.100000")  # 2 images x ceil(1.05 MP) x 0.025
    assert not generation.cost_is_estimate
    assert "nsfw_removed" not in generation.provider_metadata
