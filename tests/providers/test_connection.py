"""GET /api/settings/test-connection against each provider's fake, with a stored key."""

import pytest

pytestmark = pytest.mark.django_db

CASES = [
    ("openai", "fake_openai", "sk-test-good", "OpenAI accepted the key."),
    ("replicate", "fake_replicate", "r8_test_good", "Replicate accepted the key"),
    ("fal", "fake_fal", "fal-key-id:fal-key-secret", "fal.ai accepted the key."),
    ("openrouter", "fake_openrouter", "sk-or-v1-test-good", "OpenRouter accepted the key"),
]


@pytest.mark.parametrize(("provider", "fake", "good_key", "words"), CASES)
def test_stored_key_is_tested_and_the_result_recorded(
    request, owner_api, monkeypatch, provider, fake, good_key, words
):
    request.getfixturevalue(fake)
    monkeypatch.delenv(
        {
            "openai": "OPENAI_API_KEY",
            "replicate": "REPLICATE_API_TOKEN",
            "fal": "FAL_KEY",
            "openrouter": "OPENROUTER_API_KEY",
        }[provider]
    )
    assert owner_api.post(
        "/api/settings/api-keys", {"provider": provider, "api_key": good_key}, format="json"
    ).status_code in (200, 201)
    result = owner_api.get(f"/api/settings/test-connection?provider={provider}").json()
    assert result["ok"] is True and result["message"].startswith(words)
    assert isinstance(result["latency_ms"], int | float)
    listed = {k["provider"]: k for k in owner_api.get("/api/settings/api-keys").json()}
    assert listed[provider]["last_test"]["ok"] is True

    bad = "fal-bad:key-bad" if provider == "fal" else good_key[:-4] + "nope"
    owner_api.post("/api/settings/api-keys", {"provider": provider, "api_key": bad}, format="json")
    result = owner_api.get(f"/api/settings/test-connection?provider={provider}").json()
    assert result["ok"] is False and "rejected the API key" in result["message"]
    assert bad not in result["message"]
