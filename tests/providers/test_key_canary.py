"""Canary through the real provider modules: a stored key is used against each fake, in
successful and failing generations, and its plaintext appears in no table, queue row, log
line or response."""

import pytest

from tests.settings_app.test_canary import django_q_contents, holds, rows_holding
from tests.users import client_for

pytestmark = pytest.mark.django_db

CANARY = "CANARY0123456789abcdef"
FAL_CANARY = "canary-id:CANARY0123456789abcdef"
CASES = [
    ("openai", "fake_openai", "sk-" + CANARY, "gpt-image-2", 1024),
    ("replicate", "fake_replicate", "r8_" + CANARY, "black-forest-labs/flux-schnell", 1024),
    ("fal", "fake_fal", FAL_CANARY, "fal-ai/flux/schnell", 1024),
    ("openrouter", "fake_openrouter", "sk-or-v1-" + CANARY, "google/gemini-3.1-flash-image", 1024),
]


@pytest.mark.parametrize(("provider", "fake_name", "key", "model", "side"), CASES)
def test_key_is_used_and_never_leaks(
    request, owner, run_jobs, caplog, monkeypatch, provider, fake_name, key, model, side
):
    import logging

    caplog.set_level(logging.DEBUG)
    fake = request.getfixturevalue(fake_name)
    for variable in ("OPENAI_API_KEY", "REPLICATE_API_TOKEN", "FAL_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(variable, raising=False)
    fake.api_keys.add(key)
    api = client_for(owner)
    texts = [
        api.post(
            "/api/settings/api-keys", {"provider": provider, "api_key": key}, format="json"
        ).content
    ]
    body = {
        "prompt": "a canary",
        "provider": provider,
        "model": model,
        "width": side,
        "height": side,
    }
    ok = run_jobs(api, body).json()
    fake.set_scenario("unauthorized")
    failed = run_jobs(api, body).json()
    fake.set_scenario("validation")
    invalid = run_jobs(api, body).json()
    for generation in (ok, failed, invalid):
        texts.append(api.get(f"/api/generation/{generation['id']}").content)
    texts.append(api.get("/api/generations").content)
    texts.append(api.get("/api/settings/api-keys").content)

    statuses = [
        api.get(f"/api/generation/{g['id']}").json()["status"] for g in (ok, failed, invalid)
    ]
    assert statuses == ["succeeded", "failed", "failed"]
    assert any(r["headers"].get("authorization", "").endswith(key) for r in fake.requests)
    assert rows_holding(key, skip_encrypted=True) == []
    assert not any(holds(text, key) for text in django_q_contents())
    assert not any(holds(text, key) for text in texts)
    assert not any(holds(record.getMessage(), key) for record in caplog.records)
