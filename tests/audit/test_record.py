"""The audit trail's core: record(), redaction, the request's address and client, the
append-only rule and the retention purge."""

from datetime import timedelta

import pytest
from django.test import RequestFactory
from django.utils import timezone
from django_q.models import Schedule

from generation.tasks import TASK_FUNCS, purge_audit_entries
from imagegen.core import audit
from imagegen.core.models import AuditEntry, AuditEntryImmutable
from settings_app.services import create_named_token
from tests.audit.helpers import as_text, assert_no_secret, mark, only_entry


def test_record_writes_one_entry_with_actor_and_object(owner):
    before = mark()
    audit.record("user.changed", actor=owner, obj=owner, changes={"is_staff": [False, True]})
    entry = only_entry(before, "user.changed")
    assert entry.actor == owner
    assert entry.actor_label == "owner"
    assert (entry.object_type, entry.object_id) == ("auth.user", str(owner.pk))
    assert entry.changes == {"is_staff": [False, True]}
    assert entry.client == "command"  # no request, not a worker


def test_unknown_action_is_refused(owner):
    with pytest.raises(ValueError, match="Unknown audit action"):
        audit.record("user.hacked", actor=owner)


@pytest.mark.parametrize(
    "name",
    ["api_key", "secret", "password", "new_password", "token", "totp_secret", "apiKey",
     "client_secret", "recovery_codes", "key", "Authorization", "otp", "old-password"],
)  # fmt: skip
def test_secret_looking_names_are_recognised(name):
    assert audit.is_secret_name(name)


@pytest.mark.parametrize("name", ["provider", "monthly_budget_usd", "is_staff", "count", "role"])
def test_ordinary_names_are_kept(name):
    assert not audit.is_secret_name(name)


def test_redaction_drops_secret_values_at_any_depth(owner):
    real_key = "sk-live-REALKEY-0123456789abcdef"
    before = mark()
    audit.record(
        "key.added",
        actor=owner,
        obj=owner,
        changes={
            "provider": ["", "openai"],
            "api_key": ["", real_key],
            "nested": {"password": "hunter2-real", "ok": 1, "list": [{"token": real_key}]},
        },
        details={"TOTP_SECRET": "JBSWY3DPEHPK3PXP", "count": 2, "apiKey": real_key},
    )
    entry = only_entry(before, "key.added")
    assert_no_secret(entry, real_key, "hunter2-real", "JBSWY3DPEHPK3PXP")
    assert entry.changes["provider"] == ["", "openai"]
    assert entry.changes["nested"] == {"ok": 1, "list": [{}]}
    assert entry.details == {"count": 2}


def test_a_request_gives_the_address_and_the_browser(owner, settings):
    request = RequestFactory().get("/x", HTTP_USER_AGENT="Firefox/140", REMOTE_ADDR="10.1.2.3")
    request.user = owner
    before = mark()
    with audit.request_context(request):
        audit.record("export.zip", details={"count": 3})
    entry = only_entry(before, "export.zip")
    assert entry.actor == owner  # the request's user when no actor is given
    assert entry.ip_address == "10.1.2.3"
    assert entry.client == "Firefox/140"


def test_behind_a_trusted_proxy_the_forwarded_address_is_recorded(owner, settings):
    settings.TRUST_PROXY_HEADERS = True
    request = RequestFactory().get(
        "/x", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9"
    )
    request.user = owner
    before = mark()
    audit.record("export.zip", request=request)
    assert only_entry(before, "export.zip").ip_address == "203.0.113.9"


def test_an_admin_request_is_recorded_as_admin(owner):
    request = RequestFactory().post("/admin/auth/user/1/change/")
    request.user = owner
    before = mark()
    audit.record("user.changed", obj=owner, request=request)
    assert only_entry(before, "user.changed").client == "admin"


def test_an_api_token_request_names_the_token_not_its_secret(owner, api):
    named, plaintext = create_named_token(owner, "ci script")
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    before = mark()
    response = api.delete(f"/api/settings/tokens/{named.pk}")
    assert response.status_code == 204
    entry = only_entry(before, "token.revoked")
    assert entry.client.startswith("API token ")
    assert "(ci script)" in entry.client
    assert_no_secret(entry, plaintext)


# --- Append-only ----------------------------------------------------------------------------


def test_an_entry_cannot_be_changed_or_deleted_through_the_model(owner):
    entry = audit.record("auth.sign_in", actor=owner, obj=owner)
    entry.action = "auth.sign_out"
    with pytest.raises(AuditEntryImmutable):
        entry.save()
    with pytest.raises(AuditEntryImmutable):
        entry.delete()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="auth.sign_out")
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AuditEntryImmutable):
        AuditEntry.objects.all().delete()
    entry.refresh_from_db()
    assert entry.action == "auth.sign_in"


def test_deleting_the_actor_keeps_the_entry_and_the_name(owner):
    entry = audit.record("auth.sign_in", actor=owner, obj=owner)
    owner.delete()
    entry.refresh_from_db()
    assert entry.actor is None
    assert entry.actor_label == "owner"


# --- Retention ------------------------------------------------------------------------------


def test_the_purge_deletes_only_entries_older_than_the_retention(owner, settings):
    settings.AUDIT_RETENTION_DAYS = 30
    now = timezone.now()
    old = AuditEntry.objects.create(action="auth.sign_in", created_at=now - timedelta(days=31))
    kept = AuditEntry.objects.create(action="auth.sign_in", created_at=now - timedelta(days=29))
    assert purge_audit_entries() == 1
    assert not AuditEntry.objects.filter(pk=old.pk).exists()
    assert AuditEntry.objects.filter(pk=kept.pk).exists()
    purge = AuditEntry.objects.get(action="audit.purged")
    assert purge.details == {"count": 1, "retention_days": 30}
    assert purge_audit_entries() == 0  # nothing more, and no entry saying so


def test_the_purge_is_scheduled_daily_by_a_migration(db):
    schedule = Schedule.objects.get(name="purge-old-audit-entries")
    assert schedule.func == "generation.tasks.purge_audit_entries"
    assert schedule.schedule_type == Schedule.DAILY
    assert schedule.func in TASK_FUNCS


def test_as_text_searches_every_stored_field(owner):
    entry = audit.record(
        "key.deleted",
        actor=owner,
        object_type="settings_app.apikey",
        object_id="7",
        object_label="openai key of owner (••••CDEF)",
        details={"provider": "openai"},
    )
    text = as_text(entry)
    for value in ("settings_app.apikey", "••••CDEF", "key.deleted", "openai", "owner"):
        assert value in text, value


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://user:S3cret@gpu.lan:8188/base?api_key=K3Y#frag", "http://gpu.lan:8188/base"),
        ("https://gpu.lan/?token=K3Y", "https://gpu.lan/"),
        ("http://[::1]:8188", "http://[::1]:8188"),
        ("http://127.0.0.1:9", "http://127.0.0.1:9"),
        ("", ""),
        (None, None),
    ],
)
def test_redact_url_keeps_no_credential(url, expected):
    assert audit.redact_url(url) == expected
