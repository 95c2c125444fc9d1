"""The admin's side: a superuser adds a ComfyUI backend (checked at once, its credentials
write-only) and uploads a workflow exported in API format; an invalid workflow is refused
with a message naming the problem; staff without superuser rights only look; backends from
the environment."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.backends import sync_environment_backends
from imagegen.providers.backends import Backend, Workflow
from tests.fakes.comfyui_server import FakeComfyUI, txt2img_workflow
from tests.users import make_user

pytestmark = pytest.mark.django_db

PROMPT_ONLY = {"prompt": {"node": "6", "input": "text"}}


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def workflow_post(graph, fields=PROMPT_ONLY, **extra):
    data = {
        "model_id": "sd15",
        "label": "SD 1.5",
        "description": "",
        "operation": "generate",
        "enabled": "on",
        "sort_order": "100",
        "workflow": "",
        "fields": json.dumps(fields),
        **extra,
    }
    data["workflow_file"] = SimpleUploadedFile(
        "workflow_api.json", json.dumps(graph).encode(), "application/json"
    )
    return data


def errors_of(response) -> str:
    return " ".join(str(e) for errors in response.context["adminform"].form.errors.values()
                    for e in errors)  # fmt: skip


def test_a_workflow_file_exported_in_api_format_becomes_a_model(admin_client):
    response = admin_client.post(
        "/admin/generation/workflow/add/", workflow_post(txt2img_workflow())
    )
    assert response.status_code == 302, errors_of(response)
    row = Workflow.objects.get(model_id="sd15")
    assert row.workflow["3"]["class_type"] == "KSampler"
    page = admin_client.get(f"/admin/generation/workflow/{row.pk}/change/").content.decode()
    assert "What the Generate page shows" in page and "size 512x512" in page


@pytest.mark.parametrize(
    ("graph", "fields", "says"),
    [
        ({"nodes": [], "links": []}, PROMPT_ONLY, "UI format, not the API format"),
        (
            {**txt2img_workflow(), "8": {"class_type": "VAEDecode", "inputs": {
                "samples": ["99", 0], "vae": ["4", 2]}}},
            PROMPT_ONLY,
            "linked to node 99, which is not in the workflow",
        ),
        (
            {k: v for k, v in txt2img_workflow().items() if k != "9"},
            PROMPT_ONLY,
            "no image output",
        ),
        (txt2img_workflow(), {"prompt": {"node": "42", "input": "text"}}, "node 42 is not in"),
        (
            txt2img_workflow(),
            {**PROMPT_ONLY, "steps": {"node": "3", "input": "step"}},
            "has no input 'step'",
        ),
        (
            txt2img_workflow(),
            {**PROMPT_ONLY, "colour": {"node": "3", "input": "x"}},
            "Unknown field",
        ),
        (txt2img_workflow(), {}, "must map the prompt field"),
    ],
)  # fmt: skip
def test_an_invalid_workflow_is_refused_naming_the_problem(admin_client, graph, fields, says):
    response = admin_client.post("/admin/generation/workflow/add/", workflow_post(graph, fields))
    assert response.status_code == 200
    assert says in errors_of(response)
    assert not Workflow.objects.exists()


def test_a_file_that_is_not_json_is_refused(admin_client):
    data = workflow_post(txt2img_workflow())
    data["workflow_file"] = SimpleUploadedFile("w.json", b"{nope", "application/json")
    response = admin_client.post("/admin/generation/workflow/add/", data)
    assert response.status_code == 200 and "not JSON" in errors_of(response)


def test_adding_a_backend_checks_it_and_never_shows_the_token(admin_client):
    with FakeComfyUI(bearer="gpu-token-abcdef123456") as fake:
        response = admin_client.post(
            "/admin/generation/backend/add/",
            {
                "name": "gpu-1",
                "kind": "comfyui",
                "base_url": fake.base_url,
                "enabled": "on",
                "max_concurrent": "2",
                "price_per_gpu_second": "0.0004",
                "typical_seconds": "12",
                "auth": "bearer",
                "username": "",
                "credential": "gpu-token-abcdef123456",
            },
            follow=True,
        )
        page = response.content.decode()
        assert "Checked gpu-1: it answers" in page, page[:2000]
        backend = Backend.objects.get(name="gpu-1")
        assert backend.secret == "gpu-token-abcdef123456" and backend.healthy
        assert fake.requests[-1]["headers"]["authorization"] == "Bearer gpu-token-abcdef123456"
        change = admin_client.get(f"/admin/generation/backend/{backend.pk}/change/")
        assert "gpu-token-abcdef123456" not in change.content.decode()
        assert "one is stored (hidden)" in change.content.decode()
    # The fake is gone: "Check now" says so, with the reason.
    response = admin_client.post(
        "/admin/generation/backend/",
        {"action": "check_now", "_selected_action": [backend.pk]},
        follow=True,
    )
    assert "Checked gpu-1: it does not answer" in response.content.decode()
    backend.refresh_from_db()
    assert backend.healthy is False and backend.unhealthy_since is not None


def test_a_bearer_login_needs_its_token(admin_client):
    response = admin_client.post(
        "/admin/generation/backend/add/",
        {
            "name": "gpu-2",
            "kind": "a1111",
            "base_url": "http://10.0.0.5:7860",
            "max_concurrent": "1",
            "typical_seconds": "20",
            "auth": "bearer",
        },
    )
    assert response.status_code == 200
    assert "Give the password or token" in errors_of(response)


def test_staff_who_are_not_superusers_only_look(client, admin_user):
    from django.contrib.auth.models import Permission

    clerk = make_user("clerk", is_staff=True)
    clerk.user_permissions.add(*Permission.objects.filter(codename__endswith="_backend"))
    client.force_login(clerk)
    assert client.get("/admin/generation/backend/").status_code == 200
    assert client.get("/admin/generation/backend/add/").status_code == 403
    posted = client.post(
        "/admin/generation/backend/add/",
        {"name": "evil", "kind": "comfyui", "base_url": "http://169.254.169.254"},
    )
    assert posted.status_code == 403 and not Backend.objects.exists()


def test_environment_backends_are_made_once_and_disabled_when_gone(settings):
    settings.COMFYUI_BASE_URL = "http://10.0.0.5:8188, http://10.0.0.6:8188"
    settings.A1111_BASE_URL = ""
    rows = sync_environment_backends()
    assert sorted(b.name for b in rows) == ["comfyui-10.0.0.5", "comfyui-10.0.0.6"]
    assert all(b.source == "environment" and b.enabled for b in rows)
    sync_environment_backends()
    assert Backend.objects.count() == 2
    settings.COMFYUI_BASE_URL = "http://10.0.0.6:8188"
    sync_environment_backends()
    assert list(Backend.objects.filter(enabled=True).values_list("name", flat=True)) == [
        "comfyui-10.0.0.6"
    ]


def test_rotating_the_encryption_key_re_encrypts_backend_tokens(settings):
    from settings_app.services import rotate_encryption_key

    Backend.objects.create(kind="comfyui", name="a", base_url="http://x", secret="tok-1")
    Backend.objects.create(kind="comfyui", name="b", base_url="http://y")  # no login
    old = settings.ENCRYPTION_KEY
    new = "n" * 40
    assert rotate_encryption_key(old, new) == 1
    settings.ENCRYPTION_KEY = new
    assert Backend.objects.get(name="a").secret == "tok-1"


def test_a_refused_form_keeps_the_uploaded_workflow_in_the_box(admin_client):
    """A file input cannot keep its file: the workflow comes back as indented JSON, so the
    admin corrects the field map and saves without choosing the file again."""
    bad = workflow_post(txt2img_workflow(), {"prompt": {"node": "42", "input": "text"}})
    response = admin_client.post("/admin/generation/workflow/add/", bad)
    assert response.status_code == 200
    box = response.context["adminform"].form["workflow"].value()
    assert json.loads(box) == txt2img_workflow() and '\n  "3": {' in box
    again = workflow_post(txt2img_workflow(), PROMPT_ONLY)
    del again["workflow_file"]
    again["workflow"] = box
    assert admin_client.post("/admin/generation/workflow/add/", again).status_code == 302
    assert Workflow.objects.get().workflow == txt2img_workflow()


def test_saving_a_workflow_names_node_types_a_backend_lacks(admin_client):
    with FakeComfyUI() as fake:
        Backend.objects.create(kind="comfyui", name="gpu-1", base_url=fake.base_url)
        graph = txt2img_workflow()
        graph["20"] = {"class_type": "IPAdapterApply", "inputs": {"image": ["8", 0]}}
        graph["9"]["inputs"]["images"] = ["20", 0]
        response = admin_client.post(
            "/admin/generation/workflow/add/", workflow_post(graph), follow=True
        )
        page = response.content.decode()
        assert "The backend gpu-1 does not have these node types: IPAdapterApply" in page
        assert Workflow.objects.filter(model_id="sd15").exists()  # saved all the same
        plain = admin_client.post(
            "/admin/generation/workflow/add/",
            workflow_post(txt2img_workflow(), model_id="plain"),
            follow=True,
        )
        assert "does not have these node types" not in plain.content.decode()


def backend_post(**fields):
    return {
        "name": "gpu-9",
        "kind": "comfyui",
        "base_url": "http://10.0.0.9:8188",
        "max_concurrent": "1",
        "typical_seconds": "20",
        "auth": "none",
        **fields,
    }


def test_a_login_inside_the_url_is_refused(admin_client, settings):
    response = admin_client.post(
        "/admin/generation/backend/add/",
        backend_post(base_url="http://team:s3cret@10.0.0.9:8188"),
    )
    assert response.status_code == 200 and "Leave the login out of the address" in errors_of(
        response
    )
    settings.COMFYUI_BASE_URL = "http://team:s3cret@10.0.0.9:8188"
    assert sync_environment_backends() == [] and not Backend.objects.exists()


def test_an_a1111_backend_runs_one_job_at_a_time(admin_client):
    response = admin_client.post(
        "/admin/generation/backend/add/", backend_post(kind="a1111", max_concurrent="2")
    )
    assert response.status_code == 200
    assert "AUTOMATIC1111 runs one job at a time" in errors_of(response)


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({**PROMPT_ONLY, "scale": {"node": "3", "input": "seed", "choices": ["2x"]}},
         "whole factors of 2 or more"),
        ({**PROMPT_ONLY, "width": {"node": "5", "input": "width", "multiple": 0},
          "height": {"node": "5", "input": "height"}}, "multiple must be a whole number"),
        ({**PROMPT_ONLY, "steps": "3"}, "give the node id and the input name"),
        ({**PROMPT_ONLY, "steps": {"node": "3", "input": ["steps"]}},
         "give the node id and the input name"),
        ({**PROMPT_ONLY, "sampler": {"node": "3", "input": "sampler_name", "choices": [1]}},
         "the choices are names"),
    ],
)  # fmt: skip
def test_a_field_map_of_the_wrong_shape_is_a_field_error_not_a_crash(admin_client, fields, says):
    response = admin_client.post(
        "/admin/generation/workflow/add/", workflow_post(txt2img_workflow(), fields)
    )
    assert response.status_code == 200 and says in errors_of(response)
