"""Which key a generation uses: own key, then the team key when allowed, then the environment."""

import pytest
from django.contrib.auth.models import Permission

from generation.models import Generation, Status
from settings_app import services
from settings_app.keys import KeySource, record_key_use, resolve_api_key
from settings_app.models import ApiKey, TeamKey
from tests.settings_app.helpers import GOOD_KEY

pytestmark = pytest.mark.django_db

TEAM = "sk-team-key-5555"


def allow_team_keys(user):
    user.user_permissions.add(Permission.objects.get(codename="use_team_keys"))
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached


def test_no_key_anywhere_resolves_to_none(owner, no_env_keys):
    assert resolve_api_key(owner, "openai") is None


def test_own_key_comes_first(owner, no_env_keys, monkeypatch):
    services.save_team_key("openai", TEAM)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    services.save_api_key(owner, "openai", "sk-own-1111")
    owner = allow_team_keys(owner)
    key = resolve_api_key(owner, "openai")
    assert (key.value, key.source) == ("sk-own-1111", KeySource.USER)


def test_team_key_needs_the_permission(owner, member, no_env_keys):
    services.save_team_key("openai", TEAM)
    assert resolve_api_key(owner, "openai") is None
    owner = allow_team_keys(owner)
    key = resolve_api_key(owner, "openai")
    assert (key.value, key.source) == (TEAM, KeySource.TEAM)
    assert resolve_api_key(member, "openai") is None


def test_deactivated_user_cannot_use_the_team_key(owner, no_env_keys):
    services.save_team_key("openai", TEAM)
    owner = allow_team_keys(owner)
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    assert resolve_api_key(type(owner).objects.get(pk=owner.pk), "openai") is None


def test_environment_is_the_last_fallback(owner, no_env_keys, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-env")
    assert resolve_api_key(owner, "openai").source == KeySource.ENVIRONMENT


def test_record_key_use_marks_the_key_that_was_used(owner, no_env_keys):
    services.save_api_key(owner, "openai", "sk-own-1111")
    services.save_team_key("openai", TEAM)
    record_key_use(owner, "openai", KeySource.USER)
    assert ApiKey.objects.get().last_used_at is not None
    assert TeamKey.objects.get().last_used_at is None
    record_key_use(owner, "openai", KeySource.TEAM)
    assert TeamKey.objects.get().last_used_at is not None


def test_generation_with_the_team_key_records_team_as_its_source(owner, keyed, run_jobs):
    from tests.users import client_for

    services.save_team_key("keyed", GOOD_KEY)
    owner = allow_team_keys(owner)
    run_jobs(client_for(owner), {"prompt": "a kite", "provider": "keyed"})
    generation = Generation.objects.get()
    assert generation.status == Status.SUCCEEDED and generation.key_source == KeySource.TEAM
    assert keyed.seen_keys == [GOOD_KEY]
    assert TeamKey.objects.get().last_used_at is not None


def test_generation_without_any_key_is_refused_saying_where_to_add_one(owner_api, keyed):
    response = owner_api.post("/api/generate", {"prompt": "x", "provider": "keyed"}, format="json")
    assert response.status_code == 400
    assert "Settings → Provider keys" in response.json()["provider"][0]


def test_team_key_without_permission_is_refused(owner_api, keyed):
    services.save_team_key("keyed", GOOD_KEY)
    response = owner_api.post("/api/generate", {"prompt": "x", "provider": "keyed"}, format="json")
    assert response.status_code == 400 and not Generation.objects.exists()


def test_settings_show_team_key_availability(owner, owner_api, keyed):
    services.save_team_key("keyed", GOOD_KEY)
    rows = {r["provider"]: r for r in owner_api.get("/api/settings").json()["team_keys"]}
    assert rows["keyed"] == {
        "provider": "keyed",
        "label": "Keyed Test Cloud",
        "team_key": True,
        "available": False,
    }
    from tests.users import client_for

    client = client_for(allow_team_keys(owner))
    rows = {r["provider"]: r for r in client.get("/api/settings").json()["team_keys"]}
    assert rows["keyed"]["available"] is True and rows["openai"]["available"] is False


def test_a_run_the_provider_refuses_for_this_model_marks_the_key_restricted(
    owner, owner_api, keyed, run_jobs, no_env_keys
):
    """OpenAI's "organization must be verified" 403: the key is fine, the model is not
    allowed. The generation fails with the provider's words and the key's status says so
    (it was "works" before), so Settings explains the failure instead of blaming the key."""
    services.save_api_key(owner, "keyed", GOOD_KEY)
    owner_api.get("/api/settings/test-connection", {"provider": "keyed"})
    assert ApiKey.objects.get().last_test_status == "valid"
    run_jobs(owner_api, {"prompt": "verify me", "provider": "keyed"})
    generation = Generation.objects.get()
    assert generation.status == Status.FAILED
    assert "organisation must be verified" in generation.error
    stored = ApiKey.objects.get()
    assert stored.last_test_status == "restricted" and stored.last_test_ok is True
    assert "will not let it use keyed-1" in stored.last_test_message
    listed = owner_api.get("/api/settings/api-keys").json()[0]["last_test"]
    assert listed["label"] == "works, not with every model"


def test_what_a_run_learned_survives_a_check_until_the_model_succeeds(
    owner, owner_api, keyed, run_jobs, no_env_keys
):
    """A check cannot see an organisation-verification refusal (the models list still shows
    the model), so a later "Test" must not erase what the failed run learned; a successful
    run with that model (the organisation got verified) clears it, as does a new key."""
    services.save_api_key(owner, "keyed", GOOD_KEY)
    run_jobs(owner_api, {"prompt": "verify me", "provider": "keyed"})
    body = owner_api.get("/api/settings/test-connection", {"provider": "keyed"}).json()
    assert body["ok"] is True and body["status"] == "restricted"
    assert body["message"].startswith("The key works: Keyed Test Cloud answered. But a run")
    assert "keyed-1 was refused on" in body["message"]
    assert "organisation must be verified" in body["message"]
    assert ApiKey.objects.get().last_test_status == "restricted"

    run_jobs(owner_api, {"prompt": "a kite", "provider": "keyed"})  # verified meanwhile
    body = owner_api.get("/api/settings/test-connection", {"provider": "keyed"}).json()
    assert body["status"] == "valid" and "refused" not in body["message"]

    run_jobs(owner_api, {"prompt": "verify again", "provider": "keyed"})
    services.save_api_key(owner, "keyed", GOOD_KEY)  # replaced: nothing is known of it
    stored = ApiKey.objects.get()
    assert (stored.restriction, stored.restricted_model, stored.last_test_status) == ("", "", "")
    body = owner_api.get("/api/settings/test-connection", {"provider": "keyed"}).json()
    assert body["status"] == "valid"
