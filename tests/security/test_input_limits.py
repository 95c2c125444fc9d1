"""Unbounded work per request: every text field a user types has a length limit that holds
before anything parses it (serializers, forms and the services behind them), a body over
DATA_UPLOAD_MAX_MEMORY_SIZE is a JSON 400, and the estimate checks a style like a submission.
The numbers live in imagegen/core/limits.py."""

import json

import pytest
from django.core.exceptions import ValidationError

from generation.forms import GenerateForm
from generation.models import Generation, StylePreset
from generation.prompts import services as prompt_tools
from generation.prompts import variations
from imagegen.core import limits
from projects.forms import ProjectForm

pytestmark = pytest.mark.django_db

OFFLINE = {"provider": "offline", "model": "offline-shapes", "width": 64, "height": 64}
# Five variation groups (32 combinations, over the cap of 16) and then too many characters:
# the length is what the answer must be about, found before the groups are counted.
TOO_LONG_PROMPT = "{a|b}" * 5 + "x" * limits.MAX_PROMPT


@pytest.fixture
def no_parsing(monkeypatch):
    """Fail if the variation parser runs at all."""

    def refuse(text, *args, **kwargs):
        raise AssertionError(f"the variation parser ran on {len(text):,} characters")

    monkeypatch.setattr(prompt_tools, "check_variation_count", refuse)
    monkeypatch.setattr(prompt_tools, "expand", refuse)
    monkeypatch.setattr(variations, "count_combinations", refuse)


@pytest.mark.parametrize(
    "url", ["/api/generate", "/api/generate/estimate", "/api/prompts/variations/preview"]
)
def test_an_over_long_prompt_is_refused_before_the_variations_are_parsed(
    owner_api, url, no_parsing
):
    response = owner_api.post(url, {**OFFLINE, "prompt": TOO_LONG_PROMPT}, format="json")
    assert response.status_code == 400, response.content
    assert "characters" in response.json()["prompt"][0]
    assert Generation.objects.count() == 0


def test_the_service_refuses_an_over_long_prompt_without_parsing_it(owner, no_parsing):
    """For callers that reach the service without the serializer or the form."""
    with pytest.raises(ValidationError) as refused:
        prompt_tools.expand_submission(owner, {**OFFLINE, "prompt": "{" + "|" * 10**6})
    assert "characters" in refused.value.message_dict["prompt"][0]
    with pytest.raises(ValidationError) as refused:
        prompt_tools.expand_submission(
            owner, {**OFFLINE, "prompt": "a fox", "negative_prompt": "x" * 10**6}
        )
    assert "negative_prompt" in refused.value.message_dict


def test_the_generate_form_limits_every_text_field(owner):
    form = GenerateForm(
        data={"prompt": "x" * (limits.MAX_PROMPT + 1), "provider": "offline", "model": "m" * 201},
        user=owner,
    )
    assert not form.is_valid()
    assert {"prompt", "model"} <= set(form.errors)
    assert f'maxlength="{limits.MAX_PROMPT}"' in str(form["prompt"])


def test_the_project_form_limits_the_description():
    form = ProjectForm(data={"name": "p", "description": "x" * (limits.MAX_LONG_TEXT + 1)})
    assert not form.is_valid()
    assert "description" in form.errors


@pytest.mark.parametrize(
    ("url", "body", "field"),
    [
        ("/api/generate", {"prompt": "a fox", "provider": "p" * 201}, "provider"),
        ("/api/generate", {"prompt": "a fox", "model": "m" * 201}, "model"),
        ("/api/generate/estimate", {"prompt": "a fox", "model": "m" * 201}, "model"),
        ("/api/prompts/styles", {"name": "n" * 101, "template": "{prompt}"}, "name"),
        (
            "/api/prompts/styles",
            {"name": "n", "template": "{prompt}", "negative_prompt": "x" * 2001},
            "negative_prompt",
        ),
        ("/api/settings/api-keys", {"provider": "p" * 201, "api_key": "k"}, "provider"),
        ("/api/settings/api-keys", {"provider": "openai", "api_key": "k" * 1001}, "api_key"),
        ("/api/projects", {"name": "p" * 201}, "name"),
        ("/api/projects", {"name": "p", "description": "x" * 10_001}, "description"),
    ],
)
def test_api_text_fields_have_length_limits(owner_api, url, body, field):
    response = owner_api.post(url, body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_login_fields_have_length_limits(api, owner):
    response = api.post(
        "/api/auth/token",
        {"username": "u" * 151, "password": "p" * (limits.MAX_PASSWORD + 1)},
        format="json",
    )
    assert response.status_code == 400
    assert {"username", "password"} <= set(response.json())


def test_prompt_history_search_has_a_length_limit(owner_api):
    response = owner_api.get("/api/prompts/history", {"q": "x" * (limits.MAX_SEARCH + 1)})
    assert response.status_code == 400
    assert "q" in response.json()


def test_style_service_limits_name_and_negative_prompt(owner):
    """save_style checks what the serializer checks, for callers without it."""
    with pytest.raises(ValidationError) as refused:
        prompt_tools.save_style(
            owner, {"name": "n", "template": "{prompt}", "negative_prompt": "x" * 10**6}
        )
    assert "negative_prompt" in refused.value.message_dict
    with pytest.raises(ValidationError) as refused:
        prompt_tools.save_style(owner, {"name": "n" * 101, "template": "{prompt}"})
    assert "name" in refused.value.message_dict
    assert not StylePreset.objects.filter(owner=owner).exists()


def test_a_body_over_the_upload_limit_is_a_json_400(owner_api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = json.dumps({"prompt": "x" * 20_000})
    response = owner_api.post("/api/generate", body, content_type="application/json")
    assert response.status_code in (400, 413)
    assert response["Content-Type"].startswith("application/json")
    assert "detail" in response.json()


def test_estimate_refuses_another_users_private_style(owner, outsider_api):
    """Defect 11: the estimate accepted a preset the user may not see; now it answers as
    POST /api/generate does."""
    style = StylePreset.objects.create(owner=owner, name="mine", template="{prompt}, secret")
    body = {**OFFLINE, "prompt": "a fox", "style": style.pk}
    for url in ("/api/generate/estimate", "/api/generate", "/api/prompts/variations/preview"):
        response = outsider_api.post(url, body, format="json")
        assert response.status_code == 400, (url, response.content)
        assert response.json() == {"style": ["No such style preset."]}, url
