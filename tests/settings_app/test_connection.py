"""GET /api/settings/test-connection: asks the provider, answers in words, records the result."""

import pytest

from settings_app import services
from settings_app.models import ApiKey, TeamKey
from tests.settings_app.helpers import GOOD_KEY

pytestmark = pytest.mark.django_db

URL = "/api/settings/test-connection"


def test_a_working_key_is_reported_and_recorded(owner_api, owner, keyed):
    services.save_api_key(owner, "keyed", GOOD_KEY)
    response = owner_api.get(URL, {"provider": "keyed"})
    assert response.status_code == 200
    body = response.json()
    assert body["ok"] is True and body["message"] == "The key works: Keyed Test Cloud answered."
    assert isinstance(body["latency_ms"], int) and body["latency_ms"] >= 0
    assert body["key_source"] == "user"
    stored = ApiKey.objects.get()
    assert stored.last_test_ok is True and stored.last_test_at is not None
    listed = owner_api.get("/api/settings/api-keys").json()[0]["last_test"]
    assert listed["ok"] is True and "works" in listed["message"] and listed["at"]


def test_a_refused_key_is_reported_in_words_and_recorded(owner_api, owner, keyed):
    services.save_api_key(owner, "keyed", "sk-wrong-key-9999")
    body = owner_api.get(URL, {"provider": "keyed"}).json()
    assert body["ok"] is False and "refused the key" in body["message"]
    assert ApiKey.objects.get().last_test_ok is False


def test_a_provider_message_never_repeats_the_key(owner_api, owner, keyed):
    keyed.echo_key_in_check = True
    services.save_api_key(owner, "keyed", "sk-wrong-key-9999")
    response = owner_api.get(URL, {"provider": "keyed"})
    assert "sk-wrong-key-9999" not in response.content.decode()
    assert "sk-wrong-key-9999" not in ApiKey.objects.get().last_test_message


def test_a_crashing_check_is_a_failed_test_not_an_error(owner_api, owner, keyed):
    keyed.check_error = RuntimeError("boom with sk-wrong-key-9999 inside")
    services.save_api_key(owner, "keyed", "sk-wrong-key-9999")
    response = owner_api.get(URL, {"provider": "keyed"})
    assert response.status_code == 200
    assert response.json()["ok"] is False and "RuntimeError" in response.json()["message"]
    assert "sk-wrong-key-9999" not in response.content.decode()


def test_without_a_key_the_answer_says_where_to_add_one(owner_api, keyed, no_env_keys):
    body = owner_api.get(URL, {"provider": "keyed"}).json()
    assert body["ok"] is False and "Settings → Provider keys" in body["message"]
    assert body["latency_ms"] is None


def test_the_team_key_test_is_recorded_on_the_team_key(owner, keyed):
    from tests.settings_app.test_key_resolution import allow_team_keys
    from tests.users import client_for

    services.save_team_key("keyed", GOOD_KEY)
    owner = allow_team_keys(owner)
    body = client_for(owner).get(URL, {"provider": "keyed"}).json()
    assert body["ok"] is True and body["key_source"] == "team"
    assert TeamKey.objects.get().last_test_ok is True


def test_provider_is_required_and_must_be_known(owner_api):
    assert "provider" in owner_api.get(URL).json()
    response = owner_api.get(URL, {"provider": "nonsense"})
    assert response.status_code == 400 and "Unknown provider" in response.json()["provider"][0]


def test_a_cloud_provider_not_installed_yet_is_a_field_error(owner_api, owner, monkeypatch):
    from imagegen import providers

    monkeypatch.delitem(providers._REGISTRY, "replicate", raising=False)
    services.save_api_key(owner, "replicate", "r8_token_0000")
    response = owner_api.get(URL, {"provider": "replicate"})
    assert response.status_code == 400 and "not installed" in response.json()["provider"][0]


def test_outsider_testing_records_nothing_on_the_owners_key(owner, outsider_api, keyed):
    services.save_api_key(owner, "keyed", GOOD_KEY)
    body = outsider_api.get(URL, {"provider": "keyed"}).json()
    assert body["ok"] is False
    assert ApiKey.objects.get().last_test_at is None


@pytest.mark.parametrize(
    ("status", "ok", "words"),
    [
        ("valid", True, "works"),
        ("restricted", True, "works, not with every model"),
        ("unverified", False, "could not be verified"),
        ("no_credit", False, "no credit left"),
        ("invalid", False, "refused"),
    ],
)
def test_each_check_status_is_answered_stored_and_listed(
    owner_api, owner, keyed, status, ok, words
):
    from imagegen.providers.base import KeyCheck, KeyStatus

    keyed.check_answer = KeyCheck(KeyStatus(status), f"The provider says: {status}.")
    services.save_api_key(owner, "keyed", GOOD_KEY)
    body = owner_api.get(URL, {"provider": "keyed"}).json()
    assert body["ok"] is ok and body["status"] == status
    assert body["message"] == f"The provider says: {status}."
    stored = ApiKey.objects.get()
    assert stored.last_test_status == status and stored.last_test_ok is ok
    listed = owner_api.get("/api/settings/api-keys").json()[0]["last_test"]
    assert listed["status"] == status and listed["label"] == words


def test_the_settings_page_marks_a_restricted_or_unverified_key_as_a_warning(owner, keyed, client):
    from imagegen.providers.base import KeyCheck, KeyStatus

    client.force_login(owner)
    services.save_api_key(owner, "keyed", GOOD_KEY)
    keyed.check_answer = KeyCheck(KeyStatus.UNVERIFIED, "could not verify: refused the check.")
    html = client.post("/settings/keys/keyed/test/", HTTP_HX_REQUEST="true").content.decode()
    assert 'class="test-result warn"' in html and "could not verify" in html
    assert 'data-status="unverified"' in html and "Last test: could not be verified" in html


def test_replacing_a_key_forgets_what_was_learned_about_the_old_one(owner_api, owner, keyed):
    services.save_api_key(owner, "keyed", GOOD_KEY)
    owner_api.get(URL, {"provider": "keyed"})
    services.save_api_key(owner, "keyed", "sk-another-key-123456")
    stored = ApiKey.objects.get()
    assert stored.last_test_status == "" and stored.last_test is None
