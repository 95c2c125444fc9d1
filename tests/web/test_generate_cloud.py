"""The Generate page with cloud models: model info, sizes, options, key status."""

import pytest

from generation.models import Generation

pytestmark = pytest.mark.django_db


def test_model_info_lists_sizes_options_price_and_missing_key(owner_client):
    body = owner_client.get("/generate/model-info/?provider=fal&model=fal-ai/flux-pro/v1.1")
    html = body.content.decode()
    assert 'name="param_safety_tolerance"' in html and 'value="5"' in html
    assert 'name="param_enhance_prompt"' in html
    assert "No API key for fal.ai" in html and 'href="/settings/#provider-keys"' in html
    assert 'data-can-generate="false"' in html
    html = owner_client.get("/generate/model-info/?provider=openai&model=gpt-image-2").content
    assert b'data-width="1536" data-height="1024"' in html
    assert b'name="param_quality"' in html and b'value="high"' in html


def test_model_info_falls_back_to_the_providers_default_model(owner_client):
    html = owner_client.get("/generate/model-info/?provider=fal&model=dall-e-3").content
    assert b'data-model="fal-ai/flux/schnell"' in html


def test_submitting_with_options_records_typed_params(owner_client, monkeypatch):
    monkeypatch.setenv("REPLICATE_API_TOKEN", "r8_x")
    form = {
        "prompt": "x",
        "provider": "replicate",
        "model": "black-forest-labs/flux-1.1-pro",
        "width": 1344,
        "height": 768,
        "num_images": 1,
        "steps": "20",
        "cfg_scale": "7.5",
        "param_safety_tolerance": "4",
        "param_prompt_upsampling": "True",
        "param_go_fast": "",
    }
    response = owner_client.post("/generate/", form, HTTP_ACCEPT="application/json")
    assert response.status_code == 201, response.content.decode()[:500]
    generation = Generation.objects.get()
    assert generation.params == {"safety_tolerance": 4, "prompt_upsampling": True}
    assert generation.steps is None and generation.cfg_scale is None


def test_model_errors_show_next_to_the_field(owner_client, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk")
    form = {
        "prompt": "x",
        "provider": "openai",
        "model": "gpt-image-2",
        "width": 512,
        "height": 512,
        "num_images": 1,
    }
    html = owner_client.post("/generate/", form).content.decode()
    assert 'data-field="width"' in html and "1536x1024" in html
