"""The audit trail for staff: /audit/, its CSV export and GET /api/audit (everyone else gets
404), their filters, CSV formula injection, and the read-only admin."""

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from imagegen.core import audit
from imagegen.core.models import AuditEntry
from tests.users import client_for


@pytest.fixture
def staff_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture
def entries(owner, member):
    """Three entries: two by the owner on different days, one by the member."""
    now = timezone.now()
    first = audit.record("key.added", actor=owner, obj=owner, details={"provider": "openai"})
    second = audit.record("token.created", actor=owner, obj=owner, details={"name": "ci"})
    third = audit.record("export.zip", actor=member, details={"count": 4})
    old = AuditEntry.objects.create(
        action="auth.sign_in",
        actor=member,
        actor_label="member",
        created_at=now - timedelta(days=40),
    )
    return {"first": first, "second": second, "third": third, "old": old}


def _csv(response) -> list[list[str]]:
    text = b"".join(response.streaming_content).decode("utf-8-sig")
    return list(csv.reader(io.StringIO(text)))


# --- Who may read it ------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_pages_are_404_for_everyone_but_staff(client, owner, path):
    client.force_login(owner)
    assert client.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv"])
def test_pages_send_the_anonymous_to_sign_in(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert "/login/" in response["Location"]


def test_the_api_is_404_for_a_non_staff_user(owner_api, outsider):
    assert owner_api.get("/api/audit").status_code == 404
    assert client_for(outsider).get("/api/audit").status_code == 404


def test_the_api_is_401_for_the_anonymous(api):
    assert api.get("/api/audit").status_code == 401


# --- The page -------------------------------------------------------------------------------


def test_staff_see_the_entries_newest_first(staff_client, entries):
    response = staff_client.get("/audit/")
    assert response.status_code == 200
    rows = [row["entry"].pk for row in response.context["rows"]]
    # By id, the order they were written in (the backdated one was written last).
    assert rows[:4] == [
        e.pk for e in (entries["old"], entries["third"], entries["second"], entries["first"])
    ]
    html = response.content.decode()
    assert "Provider key added" in html and 'href="/audit/"' in html


def test_the_nav_links_staff_to_the_audit_page(staff_client, client, owner):
    assert 'href="/audit/"' in staff_client.get("/dashboard/").content.decode()


def test_the_nav_has_no_audit_link_for_others(owner_client):
    assert 'href="/audit/"' not in owner_client.get("/dashboard/").content.decode()


@pytest.mark.parametrize(
    ("query", "wanted"),
    [
        ("actor=owner", {"first", "second"}),
        ("action=export.zip", {"third"}),
        ("object_type=auth.user", {"first", "second"}),
        ("actor=member&action=auth.sign_in", {"old"}),
    ],
)
def test_the_page_filters(staff_client, entries, query, wanted):
    response = staff_client.get(f"/audit/?{query}")
    shown = {row["entry"].pk for row in response.context["rows"]}
    assert {pk for name, pk in ((n, e.pk) for n, e in entries.items()) if name in wanted} <= shown
    unwanted = {e.pk for n, e in entries.items() if n not in wanted}
    assert not shown & unwanted


def test_the_page_filters_by_days(staff_client, entries):
    today = timezone.localdate()
    response = staff_client.get(
        f"/audit/?from={today - timedelta(days=41)}&to={today - timedelta(days=39)}"
    )
    assert [row["entry"].pk for row in response.context["rows"]] == [entries["old"].pk]


def test_a_bad_filter_is_named_and_left_out(staff_client, entries):
    response = staff_client.get("/audit/?action=nonsense&actor=owner")
    assert response.status_code == 200
    assert "action" in response.context["errors"]
    shown = {row["entry"].pk for row in response.context["rows"]}
    assert shown == {entries["first"].pk, entries["second"].pk}


def test_the_page_pages_older_entries(staff_client, owner, monkeypatch):
    from dashboard import views

    monkeypatch.setattr(views, "AUDIT_PAGE_SIZE", 2)
    made = [audit.record("auth.sign_in", actor=owner, obj=owner).pk for _ in range(3)]
    response = staff_client.get("/audit/?actor=owner")
    assert [row["entry"].pk for row in response.context["rows"]] == made[::-1][:2]
    older = response.context["older_url"]
    assert "actor=owner" in older
    response = staff_client.get("/audit/" + older)
    assert [row["entry"].pk for row in response.context["rows"]] == [made[0]]
    assert response.context["older_url"] is None


# --- CSV ------------------------------------------------------------------------------------


def test_the_csv_has_the_filtered_entries(staff_client, entries):
    response = staff_client.get("/audit/export.csv?actor=owner")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = _csv(response)
    assert rows[0][:2] == ["created_at", "actor"]
    assert [row[4] for row in rows[1:]] == ["token.created", "key.added"]


def test_the_csv_guards_against_formula_injection(staff_client, db):
    for text in ('=HYPERLINK("http://evil")', "+1+1", "-2", "@SUM(A1)"):
        audit.record("auth.sign_in_failed", actor_label=text, object_label=text)
    rows = _csv(staff_client.get("/audit/export.csv?action=auth.sign_in_failed"))
    for row in rows[1:]:
        assert row[1].startswith("'"), row
        assert row[7].startswith("'"), row


# --- API ------------------------------------------------------------------------------------


def test_the_api_lists_entries_with_the_same_filters(admin_user, entries):
    api = client_for(admin_user)
    response = api.get("/api/audit?actor=owner&action=key.added")
    assert response.status_code == 200
    body = response.json()
    assert [item["id"] for item in body["results"]] == [entries["first"].pk]
    assert body["results"][0]["details"] == {"provider": "openai"}


def test_the_api_pages_by_cursor(admin_user, entries):
    api = client_for(admin_user)
    body = api.get("/api/audit?page_size=2").json()
    assert len(body["results"]) == 2
    assert body["next"]
    rest = api.get(body["next"]).json()
    assert {i["id"] for i in rest["results"]}.isdisjoint({i["id"] for i in body["results"]})


@pytest.mark.parametrize(
    "query", ["action=nope", "from=2026-13-01", "from=2026-02-02&to=2026-02-01", "to=0001-01-01"]
)
def test_the_api_refuses_bad_filters_with_400(admin_user, query):
    assert client_for(admin_user).get(f"/api/audit?{query}").status_code == 400


# --- The admin: read-only, even for a superuser -----------------------------------------------


def test_the_admin_cannot_change_or_delete_an_entry(staff_client, entries):
    entry = entries["first"]
    base = f"/admin/core/auditentry/{entry.pk}"
    assert staff_client.get(f"{base}/change/").status_code == 200  # it may be read
    response = staff_client.post(f"{base}/change/", {"action": "auth.sign_out"})
    assert response.status_code == 403
    assert staff_client.post(f"{base}/delete/", {"post": "yes"}).status_code == 403
    assert staff_client.get("/admin/core/auditentry/add/").status_code == 403
    response = staff_client.post(
        "/admin/core/auditentry/",
        {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"},
    )
    assert AuditEntry.objects.filter(pk=entry.pk, action="key.added").exists()
    changelist = staff_client.get("/admin/core/auditentry/")
    assert "delete_selected" not in changelist.content.decode()


def test_the_admin_filters_and_searches(staff_client, entries):
    response = staff_client.get("/admin/core/auditentry/?action=export.zip")
    assert response.status_code == 200
    assert list(response.context["cl"].result_list) == [entries["third"]]
    response = staff_client.get("/admin/core/auditentry/?q=member")
    assert entries["third"] in response.context["cl"].result_list
