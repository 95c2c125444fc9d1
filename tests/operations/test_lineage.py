"""Lineage: a chain of operations, retry of an inpaint with its drawn mask, shared images as
inputs, what a project member sees of a private parent."""

import pytest
from django.urls import reverse

from gallery.models import GenerationInput
from generation.services import retry_generation
from projects.models import ProjectMembership
from tests.gallery.factories import make_image
from tests.operations.helpers import left_half_mask_uri, made_image

pytestmark = pytest.mark.django_db


def _run(client, run_jobs, operation, source, **fields):
    """Runs ``operation`` on ``source`` with the offline provider; the image it made."""
    body = {"operation": operation, "input_images": [source.pk], **fields}
    return made_image(run_jobs(client, {"provider": "offline", **body}))


def test_a_chain_of_three_operations(owner, owner_api, run_jobs):
    start = make_image(owner, width=40, height=30)
    upscaled = _run(owner_api, run_jobs, "upscale", start, scale=2)
    inpainted = _run(
        owner_api, run_jobs, "inpaint", upscaled, mask=left_half_mask_uri(80, 60), prompt="a moon"
    )
    outpainted = _run(owner_api, run_jobs, "outpaint", inpainted, outpaint={"right": 20})
    assert (outpainted.width, outpainted.height) == (100, 60)

    def detail(image):
        return owner_api.get(f"/api/gallery/{image.pk}").json()

    assert detail(outpainted)["parents"] == [
        {"image": inpainted.pk, "role": "input", "state": "present"}
    ]
    assert detail(inpainted)["parents"] == [
        {"image": upscaled.pk, "role": "input", "state": "present"},
        {"image": None, "role": "mask", "state": "drawn"},
    ]
    assert detail(inpainted)["children"] == [
        {"image": outpainted.pk, "role": "input", "operation": "outpaint"}
    ]
    assert detail(upscaled)["children"] == [
        {"image": inpainted.pk, "role": "input", "operation": "inpaint"}
    ]
    assert detail(start)["children"] == [
        {"image": upscaled.pk, "role": "input", "operation": "upscale"}
    ]
    # The middle of the chain is deleted: both neighbours still say where it was.
    assert owner_api.delete(f"/api/gallery/{upscaled.pk}").status_code == 204
    assert detail(inpainted)["parents"][0] == {
        "image": upscaled.pk,
        "role": "input",
        "state": "deleted",
    }
    assert detail(start)["children"] == []
    generation = owner_api.get(f"/api/generations/{inpainted.generation_id}").json()
    assert [(i["image"], i["role"], i["state"]) for i in generation["inputs"]] == [
        (upscaled.pk, "input", "deleted"),
        (None, "mask", "drawn"),
    ]


def test_retry_of_an_inpaint_reads_its_drawn_mask_again(owner, owner_api, run_jobs):
    start = make_image(owner, width=40, height=30)
    first = _run(owner_api, run_jobs, "inpaint", start, mask=left_half_mask_uri(40, 30), prompt="x")
    again = retry_generation(first.generation)
    assert again.operation == "inpaint"
    masks = GenerationInput.objects.filter(role="mask")
    assert masks.count() == 2 and len({m.file for m in masks}) == 1


def test_a_shared_projects_image_is_an_input_and_a_private_parent_stays_hidden(
    owner, viewer, viewer_api, owner_api, shared_project, run_jobs
):
    private = make_image(owner, width=40, height=30)
    # The owner upscales a private image into the shared project.
    made = _run(owner_api, run_jobs, "upscale", private, scale=2, project=shared_project.pk)
    assert ProjectMembership.objects.filter(project=shared_project, user=viewer).exists()
    seen = viewer_api.get(f"/api/gallery/{made.pk}").json()
    assert seen["parents"] == [{"image": None, "role": "input", "state": "hidden"}]
    # The viewer may use the project's image as an input of their own.
    mine = _run(viewer_api, run_jobs, "upscale", made, scale=2)
    assert mine.owner == viewer and mine.project is None
    # …but not the owner's private one.
    response = viewer_api.post(
        "/api/generate",
        {"provider": "offline", "operation": "upscale", "input_images": [private.pk]},
        format="json",
    )
    assert response.status_code == 404


def test_an_input_no_longer_shared_is_hidden_on_the_generation_and_its_card(
    owner, viewer, viewer_api, client, shared_project, run_jobs
):
    """The viewer upscales a project image, then leaves the project: their generation (the
    API and the feed card) no longer names the image they may not see any more."""
    shared = make_image(owner, width=40, height=30, project=shared_project)
    mine = _run(viewer_api, run_jobs, "upscale", shared, scale=2)
    generation = f"/api/generations/{mine.generation_id}"
    assert viewer_api.get(generation).json()["inputs"][0]["image"] == shared.pk
    ProjectMembership.objects.filter(project=shared_project, user=viewer).delete()
    (entry,) = viewer_api.get(generation).json()["inputs"]
    assert (entry["image"], entry["role"], entry["state"]) == (None, "input", "hidden")
    listed = viewer_api.get("/api/generations").json()["results"][0]["inputs"]
    assert listed == [entry]
    client.force_login(viewer)
    card = client.get(f"/generations/{mine.generation_id}/").content.decode()
    assert "an image you can no longer see" in card
    assert reverse("image-thumbnail", args=[shared.pk]) not in card
