"""Provider keys through the API: stored encrypted, shown masked, write-only, owner-only."""

import pytest
from django.db import connection

from settings_app.models import ApiKey

pytestmark = pytest.mark.django_db

URL = "/api/settings/api-keys"
KEY = "sk-proj-ABCDEFGHIJKLMNOP-wxyz"


def store(client, provider="openai", api_key=KEY):
    return client.post(URL, {"provider": provider, "api_key": api_key}, format="json")


def test_storing_a_key_answers_the_masked_form_only(owner_api):
    response = store(owner_api)
    assert response.status_code == 201
    body = response.json()
    assert body["provider"] == "openai" and body["masked"] == "••••wxyz"
    assert KEY not in response.content.decode() and "api_key" not in body
    assert set(body) == {
        "provider",
        "masked",
        "created_at",
        "updated_at",
        "last_used_at",
        "last_test",
    }


def test_listing_keys_shows_masked_keys_with_their_history(owner_api):
    store(owner_api)
    store(owner_api, "fal", "abc-id:secret-part-9876")
    response = owner_api.get(URL)
    assert response.status_code == 200
    rows = response.json()
    assert [(r["provider"], r["masked"]) for r in rows] == [
        ("fal", "••••9876"),
        ("openai", "••••wxyz"),
    ]
    assert rows[1]["last_used_at"] is None and rows[1]["last_test"] is None
    assert KEY not in response.content.decode()


def test_storing_again_replaces_the_key(owner_api, owner):
    store(owner_api)
    response = store(owner_api, api_key="sk-replacement-key-1234")
    assert response.status_code == 200 and response.json()["masked"] == "••••1234"
    assert ApiKey.objects.get(user=owner).secret == "sk-replacement-key-1234"
    assert ApiKey.objects.count() == 1


def test_surrounding_whitespace_is_trimmed(owner_api, owner):
    store(owner_api, api_key=f"  {KEY}\n")
    assert ApiKey.objects.get(user=owner).secret == KEY


def test_deleting_a_key_removes_it(owner_api, owner):
    store(owner_api)
    assert owner_api.delete(f"{URL}/openai").status_code == 204
    assert not ApiKey.objects.filter(user=owner).exists()
    assert owner_api.delete(f"{URL}/openai").status_code == 404


@pytest.mark.parametrize(
    "provider, api_key, words",
    [
        ("openai", "", "Enter the key"),
        ("openai", "   \t ", "only whitespace"),
        ("openai", "sk-abc def", "spaces or line breaks"),
        ("openai", "sk-abc\ndef", "spaces or line breaks"),
        ("openai", "sk-abc\x00def", "characters are not allowed"),
        ("openai", "sk-\u200bhidden", "control characters"),
        ("openai", "s" * 501, "at most 500"),
        ("fal", "no-colon-here", "key_id:key_secret"),
        ("fal", ":secret-only", "key_id:key_secret"),
        ("fal", "id-only:", "key_id:key_secret"),
        ("fal", "a:b:c", "key_id:key_secret"),
    ],
)
def test_badly_formed_keys_are_rejected_in_words(owner_api, provider, api_key, words):
    response = store(owner_api, provider, api_key)
    assert response.status_code == 400
    message = response.json()["api_key"][0]
    assert words in message
    if api_key.strip():
        assert api_key.strip() not in message
    assert not ApiKey.objects.exists()


def test_missing_fields_are_field_errors(owner_api):
    response = owner_api.post(URL, {}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"provider", "api_key"}


def test_unknown_provider_is_rejected_with_the_choices(owner_api):
    response = store(owner_api, "nonsense")
    assert response.status_code == 400
    assert "openai, replicate, fal, openrouter" in response.json()["provider"][0]


def test_the_offline_provider_needs_no_key(owner_api):
    response = store(owner_api, "offline")
    assert response.status_code == 400 and "needs no key" in response.json()["provider"][0]


def test_registered_keyed_provider_accepts_keys(owner_api, keyed):
    assert store(owner_api, "keyed").status_code == 201


def test_outsider_cannot_read_or_remove_the_owners_keys(owner_api, outsider_api, owner):
    store(owner_api)
    assert outsider_api.get(URL).json() == []
    assert outsider_api.delete(f"{URL}/openai").status_code == 404
    assert ApiKey.objects.filter(user=owner).exists()


def test_outsider_storing_a_key_does_not_touch_the_owners(owner_api, outsider_api, owner):
    store(owner_api)
    store(outsider_api, api_key="sk-outsider-key-0000")
    assert ApiKey.objects.get(user=owner).secret == KEY
    assert owner_api.get(URL).json()[0]["masked"] == "••••wxyz"


def test_anonymous_requests_are_refused(api):
    assert api.get(URL).status_code in (401, 403)
    assert store(api).status_code in (401, 403)


def test_the_raw_column_holds_no_plaintext(owner_api, owner):
    store(owner_api)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT secret FROM {ApiKey._meta.db_table}")
        (raw,) = cursor.fetchone()
    raw = bytes(raw)
    assert KEY.encode() not in raw and b"ABCDEFGHIJKLMNOP" not in raw
    assert len(raw) > len(KEY)  # something is stored: the ciphertext
    assert ApiKey.objects.get(user=owner).secret == KEY  # and it decrypts


def test_the_key_is_not_signed_with_secret_key(owner_api, owner, settings):
    """Rotating SECRET_KEY must not lose the stored keys."""
    store(owner_api)
    settings.SECRET_KEY = "a-completely-different-secret-key-0123456789"
    assert ApiKey.objects.get(user=owner).secret == KEY


def test_a_key_that_no_longer_decrypts_reads_as_missing(owner_api, owner, settings):
    store(owner_api)
    settings.ENCRYPTION_KEY = "another-encryption-key-that-did-not-encrypt-it"
    assert ApiKey.objects.get(user=owner).secret is None
    assert owner_api.get(URL).json()[0]["masked"] == "••••wxyz"


def test_listing_keys_takes_a_fixed_number_of_queries(owner_api, django_assert_max_num_queries):
    for provider in ("openai", "replicate", "openrouter"):
        store(owner_api, provider)
    with django_assert_max_num_queries(2):
        response = owner_api.get(URL)
    assert len(response.json()) == 3
