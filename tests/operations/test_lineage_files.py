"""Lineage in the files people take away (docs/image-operations.md, "Lineage"): a download
embeds what made the image (operation, origin, inputs) and the ZIP manifests list it; a
deleted parent keeps its id there, a parent the downloading user may not see is "hidden",
a drawn mask is "drawn"; an upload that kept metadata of its own is served as stored."""

import csv
import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image as PILImage
from PIL import PngImagePlugin

from gallery.metadata import read_xmp
from gallery.models import Image
from tests.gallery.factories import link_input, make_image
from tests.operations.helpers import made_image, mask_uri, noise_png

pytestmark = pytest.mark.django_db


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    def send(client, name, data, **fields):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                "/api/gallery/upload",
                {"file": [SimpleUploadedFile(name, data)], **fields},
                format="multipart",
            )
        assert response.status_code == 201, response.content
        return Image.objects.get(pk=response.json()["images"][0]["id"])

    return send


def downloaded(client, image):
    response = client.get(f"/api/gallery/{image.pk}/download")
    assert response.status_code == 200, response.content
    return response


def embedded(response) -> dict:
    picture_ = PILImage.open(io.BytesIO(response.content))
    picture_.load()
    return {"json": json.loads(picture_.info["imagegen"]), "text": picture_.info["parameters"]}


def archive(client, ids) -> zipfile.ZipFile:
    response = client.post("/api/gallery/download", {"ids": ids}, format="json")
    assert response.status_code == 200, response.content
    return zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))


def manifests(zipped) -> tuple[dict, dict]:
    """{id: manifest.json entry}, {id: manifest.csv row}."""
    entries = {e["id"]: e for e in json.loads(zipped.read("manifest.json"))["images"]}
    text = zipped.read("manifest.csv").decode("utf-8-sig")
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(text))}
    return entries, rows


def present(image, role="input"):
    return {"image": image.pk, "role": role, "state": "present"}


def test_a_chain_of_three_operations_travels_in_downloads_and_manifests(
    owner, owner_api, run_jobs, upload, django_capture_on_commit_callbacks
):
    cat = upload(owner_api, "cat.png", noise_png(40, 30))
    base = {"provider": "offline"}
    bigger = made_image(
        run_jobs(owner_api, {**base, "operation": "upscale", "input_images": [cat.pk]})
    )
    painted = made_image(
        run_jobs(
            owner_api,
            {
                **base,
                "operation": "inpaint",
                "input_images": [bigger.pk],
                "prompt": "a door",
                "mask": mask_uri(80, 60),
            },
        )
    )
    edited = made_image(
        run_jobs(
            owner_api,
            {
                **base,
                "operation": "edit",
                "input_images": [painted.pk, cat.pk],
                "prompt": "make it blue",
            },
        )
    )

    found = embedded(downloaded(owner_api, edited))
    assert (found["json"]["operation"], found["json"]["origin"]) == ("edit", "generated")
    assert found["json"]["inputs"] == [present(painted), present(cat)]
    assert f"Operation: edit, Inputs: input {painted.pk}; input {cat.pk}" in found["text"]
    found = embedded(downloaded(owner_api, painted))
    assert found["json"]["inputs"] == [
        present(bigger),
        {"image": None, "role": "mask", "state": "drawn"},
    ]
    assert f"Inputs: input {bigger.pk}; mask (drawn)" in found["text"]
    assert embedded(downloaded(owner_api, bigger))["json"]["inputs"] == [present(cat)]

    before = downloaded(owner_api, edited)["ETag"]
    with django_capture_on_commit_callbacks(execute=True):
        assert owner_api.delete(f"/api/gallery/{cat.pk}").status_code == 204
    after = downloaded(owner_api, edited)
    assert after["ETag"] != before  # the lineage is part of the bytes
    assert embedded(after)["json"]["inputs"] == [
        present(painted),
        {"image": cat.pk, "role": "input", "state": "deleted"},
    ]

    entries, rows = manifests(archive(owner_api, [bigger.pk, painted.pk, edited.pk]))
    assert {pk: (e["origin"], e["operation"]) for pk, e in entries.items()} == {
        bigger.pk: ("generated", "upscale"),
        painted.pk: ("generated", "inpaint"),
        edited.pk: ("generated", "edit"),
    }
    assert entries[bigger.pk]["inputs"] == [{"image": cat.pk, "role": "input", "state": "deleted"}]
    assert entries[edited.pk]["inputs"][1] == {"image": cat.pk, "role": "input", "state": "deleted"}
    assert rows[bigger.pk]["inputs"] == f"input {cat.pk} (deleted)"
    assert rows[painted.pk]["inputs"] == f"input {bigger.pk}; mask (drawn)"
    assert rows[edited.pk]["inputs"] == f"input {painted.pk}; input {cat.pk} (deleted)"
    assert rows[edited.pk]["operation"] == "edit" and rows[edited.pk]["origin"] == "generated"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_jpeg_and_webp_carry_operation_origin_and_inputs_in_xmp(owner, owner_api, fmt):
    parent = make_image(owner)
    child = make_image(owner, fmt=fmt, operation="upscale")
    link_input(child.generation, parent)
    response = downloaded(owner_api, child)
    picture_ = PILImage.open(io.BytesIO(response.content))
    found = read_xmp(picture_.info["xmp"])
    assert (found["operation"], found["origin"]) == ("upscale", "generated")
    assert json.loads(found["inputs"]) == [present(parent)]
    assert f"Operation: upscale, Inputs: input {parent.pk}" in found["parameters"]


def test_a_project_viewer_sees_a_private_parent_as_hidden_everywhere(
    owner, owner_api, viewer_api, shared_project
):
    private = make_image(owner)  # the owner's alone
    shared = make_image(owner, project=shared_project)
    child = make_image(owner, project=shared_project, operation="edit")
    link_input(child.generation, private, position=0)
    link_input(child.generation, shared, position=1)
    hidden = {"image": None, "role": "input", "state": "hidden"}

    assert viewer_api.get(f"/api/gallery/{child.pk}").json()["parents"] == [hidden, present(shared)]
    theirs = downloaded(viewer_api, child)
    found = embedded(theirs)
    assert found["json"]["inputs"] == [hidden, present(shared)]
    assert f"Inputs: input (hidden); input {shared.pk}" in found["text"]
    mine = downloaded(owner_api, child)
    assert embedded(mine)["json"]["inputs"] == [present(private), present(shared)]
    assert mine["ETag"] != theirs["ETag"]

    project_zip = viewer_api.get(f"/api/projects/{shared_project.pk}/download")
    zipped = zipfile.ZipFile(io.BytesIO(b"".join(project_zip.streaming_content)))
    entries, rows = manifests(zipped)
    assert entries[child.pk]["inputs"] == [hidden, present(shared)]
    assert rows[child.pk]["inputs"] == f"input (hidden); input {shared.pk}"
    assert f'"image": {private.pk}' not in zipped.read("manifest.json").decode()


def _png_with_text(**text) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in text.items():
        info.add_text(key, value)
    out = io.BytesIO()
    PILImage.new("RGB", (20, 10), (10, 200, 30)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


def _jpeg_with_xmp() -> bytes:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta><!-- camera -->'
    out = io.BytesIO()
    PILImage.new("RGB", (20, 10), (10, 200, 30)).save(out, format="JPEG", xmp=xmp)
    return out.getvalue()


@pytest.mark.parametrize(
    "name, data",
    [
        ("a1111.png", _png_with_text(parameters="their prompt\nSteps: 20, Seed: 1")),
        ("camera.jpg", _jpeg_with_xmp()),
    ],
)
def test_an_upload_that_kept_its_metadata_downloads_as_stored(owner_api, upload, name, data):
    image = upload(owner_api, name, data, keep_metadata="true")
    with default_storage.open(image.file, "rb") as handle:
        stored = handle.read()
    assert downloaded(owner_api, image).content == stored


def test_a_stripped_upload_downloads_with_its_origin(owner_api, upload):
    image = upload(owner_api, "plain.png", _png_with_text(parameters="their prompt"))
    found = embedded(downloaded(owner_api, image))
    assert (found["json"]["origin"], found["json"]["operation"]) == ("upload", "upload")
    assert found["json"]["inputs"] == [] and found["json"]["prompt"] == ""
    entries, rows = manifests(archive(owner_api, [image.pk]))
    assert entries[image.pk]["origin"] == rows[image.pk]["origin"] == "upload"


def test_lineage_costs_a_fixed_number_of_queries_per_archive(
    owner, owner_api, django_assert_max_num_queries
):
    parent = make_image(owner)

    def children(count):
        made = []
        for _ in range(count):
            child = make_image(owner, operation="upscale")
            link_input(child.generation, parent)
            made.append(child.pk)
        return made

    few = children(2)
    many = few + children(8)
    for ids in (few, many):
        # a fixed number of reads, and one insert: the ZIP export's audit entry
        with django_assert_max_num_queries(5):
            entries, _ = manifests(archive(owner_api, ids))
        assert all(entries[pk]["inputs"] == [present(parent)] for pk in ids)
