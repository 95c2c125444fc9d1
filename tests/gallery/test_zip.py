"""Streamed ZIP archives of a selection and of a project, with their manifests."""

import csv
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from gallery.metadata import read_xmp
from projects.models import Project
from tests.gallery.factories import make_image

pytestmark = pytest.mark.django_db


def day(image) -> str:
    """The creation day that starts a download's name."""
    return f"{timezone.localtime(image.created_at):%Y-%m-%d}"


def archive_of(response) -> zipfile.ZipFile:
    assert response.status_code == 200, response.content
    assert response.streaming
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def manifest_rows(archive) -> list[dict]:
    text = archive.read("manifest.csv").decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def select(client, ids, **extra):
    return client.post("/api/gallery/download", {"ids": ids}, format="json", **extra)


def test_selection_zip_holds_the_images_and_both_manifests(owner_api, owner):
    fox = make_image(owner, prompt="a red fox", seed=5, title="Fox")
    owl = make_image(owner, fmt="JPEG", prompt="an owl at night", negative_prompt="")
    response = select(owner_api, [owl.pk, fox.pk])
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="images-')
    assert response["X-Content-Type-Options"] == "nosniff"
    archive = archive_of(response)
    assert archive.testzip() is None
    assert archive.namelist() == [
        f"{day(owl)}-an-owl-at-night-{owl.pk}.jpg",
        f"{day(fox)}-fox-{fox.pk}.png",
        "manifest.json",
        "manifest.csv",
    ]

    png = PILImage.open(io.BytesIO(archive.read(f"{day(fox)}-fox-{fox.pk}.png")))
    assert json.loads(png.info["imagegen"])["seed"] == 5
    jpeg = PILImage.open(io.BytesIO(archive.read(f"{day(owl)}-an-owl-at-night-{owl.pk}.jpg")))
    assert read_xmp(jpeg.info["xmp"])["prompt"] == "an owl at night"

    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["count"] == 2
    first = manifest["images"][1]
    assert {
        k: first[k]
        for k in (
            "id",
            "file",
            "title",
            "prompt",
            "negative_prompt",
            "provider",
            "model",
            "width",
            "height",
            "seed",
            "steps",
            "cfg_scale",
            "tags",
            "sha256",
        )
    } == {
        "id": fox.pk,
        "file": f"{day(fox)}-fox-{fox.pk}.png",
        "title": "Fox",
        "prompt": "a red fox",
        "negative_prompt": "blurry",
        "provider": "offline",
        "model": "offline-shapes",
        "width": 48,
        "height": 32,
        "seed": 5,
        "steps": 20,
        "cfg_scale": 7.5,
        "tags": [],
        "sha256": fox.sha256,
    }
    assert first["created_at"] == fox.created_at.isoformat()

    rows = manifest_rows(archive)
    assert [row["id"] for row in rows] == [str(owl.pk), str(fox.pk)]
    assert rows[1]["file"] == f"{day(fox)}-fox-{fox.pk}.png" and rows[1]["cfg_scale"] == "7.5"
    assert list(rows[0]) == [
        "id",
        "file",
        "title",
        "prompt",
        "negative_prompt",
        "provider",
        "model",
        "width",
        "height",
        "seed",
        "steps",
        "cfg_scale",
        "created_at",
        "tags",
        "sha256",
        "origin",
        "operation",
        "inputs",
    ]


def test_csv_cells_that_look_like_formulas_are_quoted(owner_api, owner):
    image = make_image(
        owner, title='=HYPERLINK("http://evil","x")', prompt="+1+1", negative_prompt="@SUM(A1)"
    )
    row = manifest_rows(archive_of(select(owner_api, [image.pk])))[0]
    assert row["title"] == '\'=HYPERLINK("http://evil","x")'
    assert row["prompt"] == "'+1+1"
    assert row["negative_prompt"] == "'@SUM(A1)"
    assert row["model"] == "offline-shapes"


def test_zip_streams_in_chunks_without_touching_the_database(
    owner_api, owner, django_assert_num_queries
):
    ids = [make_image(owner).pk for _ in range(3)]
    response = select(owner_api, ids)
    with django_assert_num_queries(0):
        chunks = list(response.streaming_content)
    assert len(chunks) > 3
    assert zipfile.ZipFile(io.BytesIO(b"".join(chunks))).testzip() is None


def test_selection_query_count_does_not_grow_with_the_selection(
    owner_api, owner, django_assert_max_num_queries
):
    few = [make_image(owner).pk for _ in range(2)]
    many = few + [make_image(owner).pk for _ in range(8)]
    # One more than before the audit trail: the export's entry (one INSERT, whatever the count).
    with django_assert_max_num_queries(4):
        archive_of(select(owner_api, few))
    with django_assert_max_num_queries(4):
        archive_of(select(owner_api, many))


def test_selection_with_another_users_id_is_404_and_streams_nothing(owner_api, owner, outsider):
    mine = make_image(owner)
    theirs = make_image(outsider)
    response = select(owner_api, [mine.pk, theirs.pk])
    assert response.status_code == 404
    assert not response.streaming
    assert select(owner_api, [mine.pk, 999999]).status_code == 404


def test_outsider_gets_404_for_a_selection_of_someone_elses_images(outsider_api, owner):
    assert select(outsider_api, [make_image(owner).pk]).status_code == 404


def test_duplicate_ids_are_zipped_once(owner_api, owner):
    image = make_image(owner)
    archive = archive_of(select(owner_api, [image.pk, image.pk]))
    assert len([n for n in archive.namelist() if n.endswith(".png")]) == 1


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": []}, {"ids": ["x"]}, {"ids": [0]}, {"ids": "1"}, {"ids": list(range(1, 1002))}],
)
def test_bad_selection_is_400_with_field_errors(owner_api, body):
    response = owner_api.post("/api/gallery/download", body, format="json")
    assert response.status_code == 400
    assert "ids" in response.json()


def test_selection_can_be_posted_by_an_html_form(client, owner):
    first, second = make_image(owner), make_image(owner)
    client.force_login(owner)
    response = client.post("/api/gallery/download", {"ids": [first.pk, second.pk]})
    assert len(archive_of(response).namelist()) == 4


def test_image_missing_from_storage_is_marked_in_the_manifest(owner_api, owner):
    kept, lost = make_image(owner), make_image(owner)
    default_storage.delete(lost.file)
    archive = archive_of(select(owner_api, [kept.pk, lost.pk]))
    assert archive.namelist() == [
        f"{day(kept)}-a-red-fox-in-snow-{kept.pk}.png",
        "manifest.json",
        "manifest.csv",
    ]
    entries = json.loads(archive.read("manifest.json"))["images"]
    assert entries[1] == {**entries[1], "id": lost.pk, "file": None, "missing": True}


def test_project_zip_holds_only_that_projects_images(owner_api, owner):
    project = Project.objects.create(owner=owner, name="Winter campaign")
    other = Project.objects.create(owner=owner, name="Other")
    inside = [make_image(owner, project=project) for _ in range(2)]
    make_image(owner, project=other)
    make_image(owner)
    response = owner_api.get(f"/api/projects/{project.pk}/download")
    assert response["Content-Disposition"] == (
        f'attachment; filename="winter-campaign-{project.pk}.zip"'
    )
    archive = archive_of(response)
    assert archive.namelist() == [
        f"{day(image)}-a-red-fox-in-snow-{image.pk}.png" for image in inside
    ] + [
        "manifest.json",
        "manifest.csv",
    ]
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["project"] == {"id": project.pk, "name": "Winter campaign"}
    assert [entry["id"] for entry in manifest["images"]] == [image.pk for image in inside]


def test_empty_project_zip_has_only_the_manifests(owner_api, owner):
    project = Project.objects.create(owner=owner, name="Empty")
    archive = archive_of(owner_api.get(f"/api/projects/{project.pk}/download"))
    assert archive.namelist() == ["manifest.json", "manifest.csv"]
    assert manifest_rows(archive) == []


def test_outsider_gets_404_for_a_project_zip(outsider_api, owner):
    project = Project.objects.create(owner=owner, name="Private")
    make_image(owner, project=project)
    response = outsider_api.get(f"/api/projects/{project.pk}/download")
    assert response.status_code == 404 and not response.streaming


@pytest.mark.parametrize(
    "method,url", [("post", "/api/gallery/download"), ("get", "/api/projects/1/download")]
)
def test_anonymous_is_refused(api, method, url):
    response = getattr(api, method)(url, {"ids": [1]} if method == "post" else None, format="json")
    assert response.status_code in (401, 403)


def test_project_zip_query_count_does_not_grow_with_the_project(
    owner_api, owner, django_assert_max_num_queries
):
    project = Project.objects.create(owner=owner, name="Big")
    make_image(owner, project=project)
    # 4, plus the export's audit entry (one INSERT, whatever the count).
    with django_assert_max_num_queries(5):
        archive_of(owner_api.get(f"/api/projects/{project.pk}/download"))
    for _ in range(6):
        make_image(owner, project=project)
    with django_assert_max_num_queries(5):
        assert (
            len(archive_of(owner_api.get(f"/api/projects/{project.pk}/download")).namelist()) == 9
        )
