"""The generation pipeline end to end with the offline provider: API → queue → provider →
stored image and thumbnail → API and files."""

import hashlib

import pytest
from django.core.files.storage import default_storage

from gallery.models import Image
from generation.models import Generation, Status
from imagegen.providers.offline import render

pytestmark = pytest.mark.django_db


def test_generate_with_offline_provider_stores_images_and_thumbnails(owner_api, run_jobs):
    response = run_jobs(
        owner_api,
        {"prompt": "a red fox in snow", "width": 320, "height": 256, "num_images": 2, "seed": 7},
    )
    body = response.json()
    assert body["status"] == "queued"
    assert body["provider"] == "offline" and body["model"] == "offline-shapes"

    detail = owner_api.get(f"/api/generation/{body['id']}").json()
    assert detail["status"] == "succeeded", detail["error"]
    assert detail["seed"] == 7 and detail["steps"] == 20 and detail["cfg_scale"] == 7.5
    assert detail["started_at"] and detail["finished_at"]
    assert detail["cost_usd"] == "0.000000" and detail["cost_is_estimate"] is False
    assert [(i["width"], i["height"]) for i in detail["images"]] == [(320, 256), (320, 256)]

    images = Image.objects.filter(generation_id=body["id"]).order_by("index")
    assert [i.seed for i in images] == [7, 8]
    for image in images:
        assert default_storage.exists(image.file) and default_storage.exists(image.thumbnail)
        assert image.file == f"images/{image.sha256[:2]}/{image.sha256[2:4]}/{image.sha256}.png"
        with default_storage.open(image.file) as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == image.sha256


def test_served_files_are_private_cacheable_and_inert(owner_api, run_jobs):
    body = run_jobs(owner_api, {"prompt": "a lighthouse", "width": 256, "height": 256}).json()
    image = owner_api.get(f"/api/generation/{body['id']}").json()["images"][0]

    original = owner_api.get(image["url"])
    assert original.status_code == 200
    assert original["Content-Type"] == "image/png"
    assert original["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in original["Content-Security-Policy"]
    assert original["Cache-Control"].startswith("private")
    assert original["Content-Disposition"].startswith("inline; filename=")
    assert b"".join(original.streaming_content).startswith(b"\x89PNG")

    thumb = owner_api.get(image["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
    data = b"".join(thumb.streaming_content)
    assert data[:4] == b"RIFF" and data[8:12] == b"WEBP"

    again = owner_api.get(image["thumbnail_url"], HTTP_IF_NONE_MATCH=thumb["ETag"])
    assert again.status_code == 304


def test_offline_render_is_deterministic_and_prompt_dependent():
    first = render("a castle", 42, 200, 150)
    assert first == render("a castle", 42, 200, 150)
    assert first != render("a castle", 43, 200, 150)
    assert first != render("a cottage", 42, 200, 150)


def test_same_bytes_are_stored_once(owner_api, run_jobs):
    payload = {"prompt": "twins", "width": 128, "height": 128, "seed": 99}
    first = run_jobs(owner_api, payload).json()["id"]
    second = run_jobs(owner_api, payload).json()["id"]
    a, b = Image.objects.get(generation_id=first), Image.objects.get(generation_id=second)
    assert a.sha256 == b.sha256 and a.file == b.file and a.pk != b.pk


def test_random_seed_is_recorded_when_absent(owner_api, run_jobs):
    body = run_jobs(owner_api, {"prompt": "anything", "width": 64, "height": 64}).json()
    assert isinstance(body["seed"], int)
    assert Image.objects.get(generation_id=body["id"]).seed == body["seed"]


def test_generation_into_own_project(owner, owner_api, run_jobs):
    from projects.models import Project

    project = Project.objects.create(owner=owner, name="Fox studies")
    body = run_jobs(
        owner_api, {"prompt": "fox", "width": 64, "height": 64, "project": project.pk}
    ).json()
    assert body["project"] == project.pk
    assert Image.objects.get(generation_id=body["id"]).project == project


def test_list_is_newest_first_cursor_paginated_and_filterable(owner_api, run_jobs, settings):
    settings.ITEMS_PER_PAGE = 2
    ids = [
        run_jobs(owner_api, {"prompt": f"p{i}", "width": 64, "height": 64}).json()["id"]
        for i in range(3)
    ]
    Generation.objects.filter(pk=ids[0]).update(status=Status.FAILED)

    page = owner_api.get("/api/generations").json()
    assert [g["id"] for g in page["results"]] == [ids[2], ids[1]]
    assert page["previous"] is None and "cursor=" in page["next"]
    rest = owner_api.get(page["next"]).json()
    assert [g["id"] for g in rest["results"]] == [ids[0]]

    failed = owner_api.get("/api/generations?status=failed").json()
    assert [g["id"] for g in failed["results"]] == [ids[0]]
    assert owner_api.get("/api/generations?status=bogus").status_code == 400


def test_list_query_count_does_not_grow_with_results(
    owner_api, run_jobs, django_assert_max_num_queries
):
    for i in range(5):
        run_jobs(owner_api, {"prompt": f"p{i}", "width": 64, "height": 64})
    with django_assert_max_num_queries(4):
        response = owner_api.get("/api/generations")
    assert len(response.json()["results"]) == 5
