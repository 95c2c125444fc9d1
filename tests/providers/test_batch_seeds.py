"""A batch's seed is the batch's, not an image's (#14, item 11).

fal and Replicate report one seed per request. Image 2 of a batch made with seed S is not
what seed S makes alone, so no page, file or remix may present S as that image's seed; the
generation keeps it as the batch seed."""

import pytest

from gallery.models import Image
from tests.providers.helpers import generate

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("fake", ["fake_fal", "fake_replicate"])
def test_batch_images_carry_no_invented_seed_anywhere(request, owner_api, run_jobs, fake):
    request.getfixturevalue(fake)
    provider, model = (
        ("fal", "fal-ai/flux/schnell")
        if fake == "fake_fal"
        else ("replicate", "black-forest-labs/flux-schnell")
    )
    result = generate(
        owner_api, run_jobs, provider=provider, model=model, prompt="kites", num_images=2, seed=77
    )
    assert result["status"] == "succeeded", result["error"]
    assert result["seed"] == 77  # the batch seed, as the provider reported it
    images = Image.objects.filter(generation_id=result["id"]).order_by("pk")
    assert images.count() == 2 and all(image.seed is None for image in images)
    listed = owner_api.get("/api/gallery").json()["results"]
    assert [item["seed"] for item in listed] == [None, None]
    second = images[1]
    assert owner_api.get(f"/api/gallery/{second.pk}").json()["seed"] is None
    remix = owner_api.get(f"/api/gallery/{second.pk}/remix").json()
    assert remix.get("seed") is None and remix["num_images"] == 1
    download = owner_api.get(f"/api/gallery/{second.pk}/download")
    assert download.status_code == 200
    body = b"".join(download.streaming_content) if download.streaming else download.content
    # The embedded parameters (PNG text, or XMP/EXIF in WebP and JPEG) name no seed.
    assert b"Seed: 77" not in body and b'"seed": 77' not in body


def test_a_single_image_keeps_the_seed_it_was_made_with(owner_api, run_jobs, fake_fal):
    result = generate(
        owner_api, run_jobs, provider="fal", model="fal-ai/flux/schnell", prompt="kite", seed=5
    )
    assert result["status"] == "succeeded", result["error"]
    image = Image.objects.get(generation_id=result["id"])
    assert owner_api.get(f"/api/gallery/{image.pk}").json()["seed"] == 5
    assert owner_api.get("/api/gallery").json()["results"][0]["seed"] == 5


def test_the_migration_forgets_seeds_earlier_versions_invented(owner_api, run_jobs, fake_fal):
    """Before the fix, image i of a fal/Replicate batch got ``seed + i``; the data migration
    clears exactly those, and leaves seeds that do not follow the pattern (the offline
    provider knows each image's own seed)."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("generation.migrations.0010_forget_invented_batch_seeds")
    batch = generate(
        owner_api, run_jobs, provider="fal", model="fal-ai/flux/schnell", prompt="k", num_images=3,
        seed=40,
    )  # fmt: skip
    images = list(Image.objects.filter(generation_id=batch["id"]).order_by("pk"))
    for index, image in enumerate(images):  # what the old code stored
        Image.objects.filter(pk=image.pk).update(seed=40 + index)
    Image.objects.filter(pk=images[2].pk).update(seed=7)  # not the pattern: kept
    offline = generate(owner_api, run_jobs, prompt="own seeds", num_images=2, seed=9)
    offline_seeds = list(
        Image.objects.filter(generation_id=offline["id"])
        .order_by("pk")
        .values_list("seed", flat=True)
    )
    migration.forget_invented_seeds(apps, None)
    assert list(
        Image.objects.filter(generation_id=batch["id"])
        .order_by("pk")
        .values_list("seed", flat=True)
    ) == [None, None, 7]
    assert (
        list(
            Image.objects.filter(generation_id=offline["id"])
            .order_by("pk")
            .values_list("seed", flat=True)
        )
        == offline_seeds
    )
