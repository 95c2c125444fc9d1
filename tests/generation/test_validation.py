"""Bad input is a 400 with field errors that say what is allowed, and stores nothing."""

import pytest

from generation.models import Generation

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        # Not required by the serializer (upscale takes none): validation asks for one.
        ({}, "prompt", "write a prompt"),
        ({"prompt": "   "}, "prompt", "write a prompt"),
        ({"prompt": "x", "provider": "nope"}, "provider", "available: offline"),
        ({"prompt": "x", "model": "sdxl-9000"}, "model", "available: offline-shapes"),
        ({"prompt": "x", "width": 4096, "height": 512}, "width", "64 to 2048"),
        ({"prompt": "x", "width": 512, "height": 10}, "height", "64 to 2048"),
        ({"prompt": "x", "width": 512}, "height", "both width and height"),
        ({"prompt": "x", "num_images": 5}, "num_images", "4"),
        ({"prompt": "x", "num_images": 0}, "num_images", "1"),
        ({"prompt": "x", "width": "wide", "height": 512}, "width", "valid integer"),
        ({"prompt": "x", "steps": 1000}, "steps", "1 to 150"),
        ({"prompt": "x", "cfg_scale": 99}, "cfg_scale", "0.0 to 30.0"),
        ({"prompt": "x", "seed": 2**40}, "seed", "between 0 and"),
        ({"prompt": "x", "params": ["not", "an", "object"]}, "params", "dictionary"),
        ({"prompt": "x", "project": 12345}, "project", "No such project"),
    ],
)
def test_bad_input_is_400_with_field_error_and_stores_nothing(owner_api, payload, field, words):
    response = owner_api.post("/api/generate", payload, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert field in errors, errors
    assert words.lower() in " ".join(errors[field]).lower()
    assert Generation.objects.count() == 0


def test_malformed_json_is_400(owner_api):
    response = owner_api.post("/api/generate", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert Generation.objects.count() == 0


def test_another_users_project_is_refused(owner, outsider_api):
    from projects.models import Project

    project = Project.objects.create(owner=owner, name="Private")
    response = outsider_api.post(
        "/api/generate", {"prompt": "x", "project": project.pk}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["project"] == ["No such project."]


def test_every_invalid_field_is_reported_at_once(owner_api):
    payload = {"prompt": "x", "width": 100000, "height": 100000, "steps": 1000, "seed": 2**40}
    response = owner_api.post("/api/generate", payload, format="json")
    assert response.status_code == 400, response.content
    errors = response.json()
    assert {"width", "height", "steps", "seed"} <= set(errors), errors
    assert "100000 is out of range" in errors["height"][0]
