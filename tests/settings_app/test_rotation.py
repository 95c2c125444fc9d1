"""Rotating ENCRYPTION_KEY: every stored key is re-encrypted, nothing is lost, the old key no
longer opens them, and a wrong old key changes nothing."""

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from imagegen.core.crypto import UndecryptableSecret, decrypt_text
from settings_app import services
from settings_app.models import ApiKey, TeamKey

pytestmark = pytest.mark.django_db

NEW = "a-brand-new-encryption-key-for-rotation-0123456789"


def raw_secrets(model):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret FROM {model._meta.db_table} ORDER BY id")
        return {pk: bytes(value) for pk, value in cursor.fetchall()}


@pytest.fixture
def stored(owner, member):
    services.save_api_key(owner, "openai", "sk-owner-openai-1111")
    services.save_api_key(owner, "fal", "owner-id:owner-secret-2222")
    services.save_api_key(member, "openai", "sk-member-openai-3333")
    services.save_team_key("replicate", "r8_team_token_4444")
    return {
        ("owner", "openai"): "sk-owner-openai-1111",
        ("owner", "fal"): "owner-id:owner-secret-2222",
        ("member", "openai"): "sk-member-openai-3333",
    }


def test_rotation_round_trip_loses_nothing(stored, settings):
    old = settings.ENCRYPTION_KEY
    before = raw_secrets(ApiKey)
    call_command("rotate_encryption_key", "--old", old, "--new", NEW)
    after = raw_secrets(ApiKey)
    assert set(after) == set(before) and all(after[pk] != before[pk] for pk in before)

    # The old key no longer opens anything; the new one opens everything.
    for value in [*after.values(), *raw_secrets(TeamKey).values()]:
        with pytest.raises(UndecryptableSecret):
            decrypt_text(value, old)
        decrypt_text(value, NEW)
    settings.ENCRYPTION_KEY = NEW
    found = {(k.user.username, k.provider): k.secret for k in ApiKey.objects.select_related("user")}
    assert found == stored
    assert TeamKey.objects.get().secret == "r8_team_token_4444"
    # ...and under the old key the app would now see no usable keys.
    settings.ENCRYPTION_KEY = old
    assert set(ApiKey.objects.values_list("secret", flat=True)) == {None}


def test_rotation_reads_the_keys_from_the_environment(stored, settings, monkeypatch):
    monkeypatch.setenv("OLD_ENCRYPTION_KEY", settings.ENCRYPTION_KEY)
    monkeypatch.setenv("NEW_ENCRYPTION_KEY", NEW)
    call_command("rotate_encryption_key")
    settings.ENCRYPTION_KEY = NEW
    assert ApiKey.objects.filter(provider="fal").get().secret == "owner-id:owner-secret-2222"


def test_a_wrong_old_key_changes_nothing(stored, settings):
    before = raw_secrets(ApiKey), raw_secrets(TeamKey)
    with pytest.raises(CommandError, match="does not open with the old key"):
        call_command("rotate_encryption_key", "--old", "not-the-key-at-all", "--new", NEW)
    assert (raw_secrets(ApiKey), raw_secrets(TeamKey)) == before


def test_a_half_done_rotation_is_rolled_back(stored, settings, owner):
    """One undecryptable row in the middle: the rows before it are not left re-encrypted."""
    services.save_api_key(owner, "openrouter", "sk-or-5555")
    last = ApiKey.objects.order_by("-id").first()
    with connection.cursor() as cursor:  # this row was encrypted with some other key
        cursor.execute(
            f"UPDATE {ApiKey._meta.db_table} SET secret = %s WHERE id = %s",
            [services.encrypt_text("sk-or-5555", "some-other-key"), last.pk],
        )
    before = raw_secrets(ApiKey)
    with pytest.raises(CommandError):
        call_command("rotate_encryption_key", "--old", settings.ENCRYPTION_KEY, "--new", NEW)
    assert raw_secrets(ApiKey) == before


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "Give the old and the new key"),
        (["--old", "x"], "Give the old and the new key"),
        (["--old", "x", "--new", "short"], "too short"),
    ],
)
def test_missing_or_weak_keys_are_refused(args, words, monkeypatch, db):
    monkeypatch.delenv("OLD_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("NEW_ENCRYPTION_KEY", raising=False)
    with pytest.raises(CommandError, match=words):
        call_command("rotate_encryption_key", *args)


def test_rotating_to_the_same_key_is_refused(settings, db):
    with pytest.raises(CommandError, match="same as the old"):
        call_command("rotate_encryption_key", "--old", NEW, "--new", NEW)
