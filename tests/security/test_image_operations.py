"""Images in (docs/image-operations.md), from an attacker's side: the new body fields of
POST /api/generate (operation, input_images, mask, strength, scale, outpaint) and the upload
form are fuzzed and never answer 5xx; another user's image, as an input or a mask, is the
404 of a missing one and stores nothing (no generation, no input row, no file); an image of a
project shared with the user may be an input, and a parent private to its owner stays
hidden from the project's members (lineage, remix).

The fuzzing is hypothesis, derandomized and bounded like test_api_fuzz.py's schemathesis
run, but aimed at the values a schema cannot describe: ids that are the user's, someone
else's or nobody's, data URIs of hostile or mis-sized images, odd margins and ratios."""

import base64
import io
import string

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image as PILImage

from gallery.models import GenerationInput, Image
from generation.models import Generation, Status
from projects.models import ProjectMembership
from tests.fakes.base import make_bomb_png
from tests.gallery.factories import image_bytes, make_image
from tests.reliability.payloads import HOSTILE

pytestmark = pytest.mark.django_db

FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
OPERATIONS = ["generate", "edit", "inpaint", "outpaint", "upscale", "remove_background", "upload"]
# What the API may answer a hostile body: accepted, refused, not found, over a quota.
ANSWERS = {202, 400, 404, 429}


def png(width=48, height=32, mode="L", colour=0) -> bytes:
    out = io.BytesIO()
    PILImage.new(mode, (width, height), colour).save(out, format="PNG")
    return out.getvalue()


def uri(data: bytes, kind="png") -> str:
    return f"data:image/{kind};base64," + base64.b64encode(data).decode()


def files_in(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


class Stored:
    """What a refused request must leave as it was: generations, inputs, stored files."""

    def __init__(self, root):
        self.root = root
        self.before = self.now()

    def now(self):
        return (Generation.objects.count(), GenerationInput.objects.count(), files_in(self.root))

    def unchanged(self) -> bool:
        return self.now() == self.before


@pytest.fixture
def ids(owner, outsider, shared_project, settings):
    """Images of every kind of owner: the caller's, the shared project's, someone else's."""
    settings.MAX_QUEUED_GENERATIONS_PER_USER = 0  # fuzzing queues many; no cap
    mine = make_image(owner)
    shared = make_image(shared_project.owner, project=shared_project)
    theirs = make_image(outsider)
    return {"mine": mine.pk, "shared": shared.pk, "theirs": theirs.pk, "missing": 987_654}


JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.lists(st.integers(min_value=-5, max_value=5), max_size=3),
    st.dictionaries(st.text(max_size=6), st.integers(), max_size=3),
)
MASK_URIS = st.sampled_from(
    [
        uri(png()),  # a mask of the right size
        uri(png(16, 16)),  # the wrong size
        uri(png(mode="RGBA")),
        uri(image_bytes("JPEG"), "jpeg"),  # not a PNG
        uri(make_bomb_png()),  # declares 20000x20000
        uri(HOSTILE["png-then-html"][0]),
        uri(HOSTILE["png-truncated-in-data"][0]),
        uri(b""),
        "data:image/png;base64,!!!not base64!!!",
        "data:image/svg+xml;base64," + base64.b64encode(b"<svg/>").decode(),
        "data:text/html,<script>alert(1)</script>",
        "javascript:alert(1)",
        "http://169.254.169.254/latest/meta-data/",
        "../../etc/passwd",
    ]
)
MARGIN_VALUES = st.one_of(
    st.integers(min_value=-(2**40), max_value=2**40),
    st.sampled_from(["1e308:1", "16:9", "0:0", "16:0", "-1:2", "9999999:1", "a:b", "∞:1", ""]),
    JUNK,
)


def bodies(ids: dict):
    id_values = st.one_of(st.sampled_from(list(ids.values())), st.integers(-(2**40), 2**40))
    return st.fixed_dictionaries(
        {"provider": st.just("offline")},
        optional={
            "operation": st.one_of(st.sampled_from(OPERATIONS), JUNK),
            "input_images": st.one_of(st.lists(id_values, max_size=20), JUNK),
            "mask": st.one_of(id_values, id_values.map(str), MASK_URIS, JUNK),
            "strength": st.one_of(
                st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["0.5", "1e9"])
            ),
            "scale": st.one_of(st.sampled_from([1, 2, 3, 4, 8, 0, -2]), JUNK),
            "outpaint": st.one_of(
                st.dictionaries(
                    st.sampled_from(["left", "top", "right", "bottom", "aspect_ratio", "x"]),
                    MARGIN_VALUES,
                    max_size=5,
                ),
                JUNK,
            ),
            "prompt": st.sampled_from(["", "a fox", "x" * 50]),
            "num_images": st.sampled_from([1, 2, 0]),
            "width": st.sampled_from([48, 64, 0, 100_000]),
            "height": st.sampled_from([32, 64]),
        },
    )


def refused_cleanly(response, stored: Stored) -> None:
    assert response.status_code in ANSWERS, (response.status_code, response.content[:300])
    if response.status_code != 202:
        assert stored.unchanged(), response.content[:300]


def test_generate_body_fields_never_5xx_and_refusals_store_nothing(
    owner_api, ids, isolated_storage
):
    @FUZZ
    @given(body=bodies(ids))
    def check(body):
        stored = Stored(isolated_storage)
        refused_cleanly(owner_api.post("/api/generate", body, format="json"), stored)
        stored = Stored(isolated_storage)
        estimate = owner_api.post("/api/generate/estimate", body, format="json")
        assert estimate.status_code in {200, 400, 404, 429}, estimate.content[:300]
        assert stored.unchanged()  # an estimate never stores anything

    check()


def test_generate_multipart_with_a_mask_file_never_5xx(owner_api, ids, isolated_storage):
    masks = st.one_of(
        st.sampled_from([png(), png(16, 16), make_bomb_png(), image_bytes("JPEG"), b""]),
        st.sampled_from([data for data, _ in HOSTILE.values()]),
        st.binary(max_size=300),
    )
    id_lists = st.lists(st.sampled_from(list(ids.values()) + [0, -1]), max_size=3)

    @FUZZ
    @given(
        mask=masks,
        inputs=id_lists,
        operation=st.sampled_from(OPERATIONS),
        name=st.text(string.printable, max_size=30),
    )
    def check(mask, inputs, operation, name):
        stored = Stored(isolated_storage)
        body = {
            "provider": "offline",
            "operation": operation,
            "prompt": "x",
            "input_images": inputs,
            "mask": SimpleUploadedFile(name or "mask.png", mask, content_type="image/png"),
        }
        refused_cleanly(owner_api.post("/api/generate", body, format="multipart"), stored)

    check()


def test_upload_form_never_5xx_and_a_refusal_stores_nothing(owner_api, ids, isolated_storage):
    contents = st.one_of(
        st.sampled_from([image_bytes(), image_bytes("JPEG"), image_bytes("WEBP")]),
        st.sampled_from([data for data, _ in HOSTILE.values()] + [make_bomb_png()]),
        st.binary(max_size=400),
    )
    names = st.one_of(
        st.text(max_size=300),
        st.sampled_from(["../../etc/passwd", "a\x00b.png", "<script>.png", "CON", ".png", ""]),
    )

    @FUZZ
    @given(
        files=st.lists(st.tuples(names, contents), max_size=4),
        project=st.one_of(st.none(), st.sampled_from(["", "0", "-1", "x", "99999999999999999"])),
        keep=st.one_of(st.none(), st.sampled_from(["true", "false", "maybe", ""])),
    )
    def check(files, project, keep):
        stored = Stored(isolated_storage)
        body = {"file": [SimpleUploadedFile(n or "f", data) for n, data in files]}
        if project is not None:
            body["project"] = project
        if keep is not None:
            body["keep_metadata"] = keep
        response = owner_api.post("/api/gallery/upload", body, format="multipart")
        assert response.status_code in {201, 400}, (response.status_code, response.content[:300])
        if response.status_code == 400:
            assert stored.unchanged(), response.content[:300]

    check()


# --- Another user's image: the 404 of a missing one, and nothing stored ---------------------


def _as_input(pk, ids):
    return {"operation": "upscale", "input_images": [pk]}


def _after_mine(pk, ids):
    return {"operation": "edit", "prompt": "x", "input_images": [ids["mine"], pk]}


def _as_mask(pk, ids):
    return {"operation": "inpaint", "prompt": "x", "input_images": [ids["mine"]], "mask": pk}


def _as_mask_text(pk, ids):
    return {**_as_mask(pk, ids), "mask": str(pk)}


def _with_a_drawn_mask(pk, ids):
    return {"operation": "inpaint", "prompt": "x", "input_images": [pk], "mask": uri(png())}


@pytest.mark.parametrize("endpoint", ["/api/generate", "/api/generate/estimate"])
@pytest.mark.parametrize(
    "shape", [_as_input, _after_mine, _as_mask, _as_mask_text, _with_a_drawn_mask]
)
def test_another_users_image_is_the_404_of_a_missing_one(
    owner_api, ids, isolated_storage, endpoint, shape
):
    answers = {}
    for whose in ("theirs", "missing"):
        stored = Stored(isolated_storage)
        body = {"provider": "offline", **shape(ids[whose], ids)}
        response = owner_api.post(endpoint, body, format="json")
        assert response.status_code == 404, response.content
        assert stored.unchanged()
        answers[whose] = response.json()["detail"].replace(str(ids[whose]), "N")
    assert answers["theirs"] == answers["missing"] == "No such image: N."


def test_another_users_image_beside_an_uploaded_mask_file_stores_no_mask(
    owner_api, ids, isolated_storage
):
    stored = Stored(isolated_storage)
    body = {
        "provider": "offline",
        "operation": "inpaint",
        "prompt": "x",
        "input_images": [ids["theirs"]],
        "mask": SimpleUploadedFile("mask.png", png(), content_type="image/png"),
    }
    response = owner_api.post("/api/generate", body, format="multipart")
    assert response.status_code == 404, response.content
    assert stored.unchanged()


# --- Shared projects -------------------------------------------------------------------------


def test_a_viewer_may_use_a_project_image_as_an_input(
    owner_api, viewer_api, viewer, ids, run_jobs, shared_project
):
    response = run_jobs(
        viewer_api, {"provider": "offline", "operation": "upscale", "input_images": [ids["shared"]]}
    )
    generation = Generation.objects.get(pk=response.json()["id"])
    assert generation.status == Status.SUCCEEDED and generation.owner == viewer
    made = generation.images.get()
    assert made.project_id is None  # the viewer's own result, not the project's
    assert viewer_api.get(f"/api/gallery/{made.pk}").json()["parents"] == [
        {"image": ids["shared"], "role": "input", "state": "present"}
    ]
    # The project's owner does not see the viewer's private result among the children.
    assert owner_api.get(f"/api/gallery/{ids['shared']}").json()["children"] == []
    # Once out of the project, the image is no longer the viewer's to use.
    ProjectMembership.objects.filter(project=shared_project, user=viewer).delete()
    response = viewer_api.post(
        "/api/generate",
        {"provider": "offline", "operation": "upscale", "input_images": [ids["shared"]]},
        format="json",
    )
    assert response.status_code == 404


def test_a_parent_private_to_its_owner_is_hidden_from_project_members(
    owner, owner_api, viewer_api, editor_api, shared_project, run_jobs
):
    private = make_image(owner)
    response = run_jobs(
        owner_api,
        {
            "provider": "offline",
            "operation": "inpaint",
            "input_images": [private.pk],
            "prompt": "a door",
            "mask": uri(png(colour=255)),
            "project": shared_project.pk,
        },
    )
    child = Generation.objects.get(pk=response.json()["id"]).images.get()
    assert child.project_id == shared_project.pk
    hidden = [
        {"image": None, "role": "input", "state": "hidden"},
        {"image": None, "role": "mask", "state": "drawn"},
    ]
    for member in (viewer_api, editor_api):
        assert member.get(f"/api/gallery/{child.pk}").json()["parents"] == hidden
        assert member.get(f"/api/gallery/{private.pk}").status_code == 404
        # A remix names no input the member may not use (nor the drawn mask: no id).
        remix = member.get(f"/api/gallery/{child.pk}/remix")
        assert remix.status_code == 200, remix.content
        assert remix.json()["input_images"] == [] and "mask" not in remix.json()
    mine = owner_api.get(f"/api/gallery/{child.pk}").json()["parents"]
    assert mine[0] == {"image": private.pk, "role": "input", "state": "present"}
    remix = owner_api.get(f"/api/gallery/{child.pk}/remix").json()
    assert remix["operation"] == "inpaint" and remix["input_images"] == [private.pk]


def test_remix_leaves_out_a_deleted_parent(
    owner, owner_api, run_jobs, django_capture_on_commit_callbacks
):
    source = make_image(owner)
    response = run_jobs(
        owner_api, {"provider": "offline", "operation": "upscale", "input_images": [source.pk]}
    )
    child = Generation.objects.get(pk=response.json()["id"]).images.get()
    with django_capture_on_commit_callbacks(execute=True):
        owner_api.delete(f"/api/gallery/{source.pk}")
    remix = owner_api.get(f"/api/gallery/{child.pk}/remix").json()
    assert remix["operation"] == "upscale" and remix["input_images"] == []
    assert Image.objects.filter(pk=child.pk).exists()
