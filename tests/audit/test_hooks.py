"""Each audited action leaves exactly one entry, with the right actor and no secret."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from gallery.models import Tag
from generation.usage.models import TeamBudget, UserBudget
from imagegen.core.models import AuditEntry
from imagegen.providers.backends import Backend
from imagegen.providers.models import CatalogModel
from projects.models import Project
from settings_app import services as settings_services
from settings_app.keys import TEAM_KEY_PERMISSION, KeySource, record_key_use
from settings_app.models import ApiKey, NamedToken, Preferences, TeamKey, TeamKeyUse
from tests.audit.helpers import assert_no_secret, mark, only_entry, since
from tests.gallery.factories import make_image
from tests.users import PASSWORD, make_user

OPENAI_KEY = "sk-proj-AUDITKEY0123456789abcdefABCDEF"
OTHER_KEY = "sk-proj-AUDITKEY-SECOND-9876543210zyx"
NEW_PASSWORD = "a brand new passphrase 9731"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


@pytest.fixture(autouse=True)
def fresh_throttle_counts(settings):
    settings.AXES_FAILURE_LIMIT = 3
    cache.clear()
    yield
    cache.clear()


# --- Sign-in --------------------------------------------------------------------------------


def test_sign_in_is_recorded_once_without_the_password(client, owner):
    before = mark()
    response = client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302
    entry = only_entry(before, "auth.sign_in")
    assert entry.actor == owner
    assert entry.ip_address == "127.0.0.1"
    assert_no_secret(entry, PASSWORD)


def test_sign_out_is_recorded_once(client, owner):
    client.force_login(owner)
    before = mark()
    client.post("/logout/")
    assert only_entry(before, "auth.sign_out").actor == owner


def test_a_failed_sign_in_names_the_username_never_the_password(client, owner):
    before = mark()
    client.post("/login/", {"username": "owner", "password": "Wrong-Pass-4711"})
    entry = only_entry(before, "auth.sign_in_failed")
    assert entry.actor is None
    assert entry.actor_label == "owner"
    assert_no_secret(entry, "Wrong-Pass-4711")


def test_a_lockout_is_recorded_once(client, owner):
    before = mark()
    for _ in range(4):
        client.post("/login/", {"username": "owner", "password": "Wrong-Pass-4711"})
    lockouts = [e for e in since(before) if e.action == "auth.lockout"]
    assert len(lockouts) == 1
    assert lockouts[0].actor_label == "owner"
    for entry in since(before):
        assert_no_secret(entry, "Wrong-Pass-4711")


def test_signing_in_for_a_token_records_the_sign_in_and_the_token(api, owner):
    before = mark()
    response = api.post(
        "/api/auth/token", {"username": "owner", "password": PASSWORD}, format="json"
    )
    assert response.status_code == 200
    entries = since(before)
    assert [e.action for e in entries] == ["auth.sign_in", "token.created"]
    for entry in entries:
        assert entry.actor == owner
        assert_no_secret(entry, PASSWORD, response.json()["token"])


# --- Provider keys --------------------------------------------------------------------------


def test_a_key_added_replaced_and_deleted_leaves_one_entry_each(owner_api, owner):
    before = mark()
    response = owner_api.post(
        "/api/settings/api-keys", {"provider": "openai", "api_key": OPENAI_KEY}, format="json"
    )
    assert response.status_code == 201
    added = only_entry(before, "key.added")
    assert added.actor == owner
    assert added.details == {"provider": "openai", "scope": "user", "owner": "owner"}

    before = mark()
    owner_api.post(
        "/api/settings/api-keys", {"provider": "openai", "api_key": OTHER_KEY}, format="json"
    )
    rotated = only_entry(before, "key.rotated")

    before = mark()
    assert owner_api.delete("/api/settings/api-keys/openai").status_code == 204
    deleted = only_entry(before, "key.deleted")
    assert deleted.actor == owner
    for entry in (added, rotated, deleted):
        assert_no_secret(entry, OPENAI_KEY, OTHER_KEY, OPENAI_KEY[-4:], OTHER_KEY[-4:])


def test_a_team_key_added_in_the_admin_is_one_key_entry(admin_client, admin_user):
    before = mark()
    response = admin_client.post(
        "/admin/settings_app/teamkey/add/", {"provider": "openai", "api_key": OPENAI_KEY}
    )
    assert response.status_code == 302, response.content[:2000]
    entry = only_entry(before, "key.added")
    assert entry.actor == admin_user
    assert entry.client == "admin"
    assert entry.details == {"provider": "openai", "scope": "team"}
    assert_no_secret(entry, OPENAI_KEY, OPENAI_KEY[-4:])

    team = TeamKey.objects.get()
    before = mark()
    response = admin_client.post(
        f"/admin/settings_app/teamkey/{team.pk}/change/",
        {"provider": "openai", "api_key": OTHER_KEY},
    )
    assert response.status_code == 302
    assert_no_secret(only_entry(before, "key.rotated"), OTHER_KEY, OPENAI_KEY)


def test_a_team_key_first_use_is_recorded_once_per_user(owner, member):
    settings_services.save_team_key("openai", OPENAI_KEY)
    permission = Permission.objects.get(
        codename=TEAM_KEY_PERMISSION.split(".")[1], content_type__app_label="settings_app"
    )
    owner.user_permissions.add(permission)
    before = mark()
    record_key_use(owner, "openai", KeySource.TEAM)
    record_key_use(owner, "openai", KeySource.TEAM)
    entry = only_entry(before, "key.team_first_use")
    assert entry.actor == owner
    assert_no_secret(entry, OPENAI_KEY)
    before = mark()
    record_key_use(member, "openai", KeySource.TEAM)
    assert only_entry(before, "key.team_first_use").actor == member
    before = mark()
    record_key_use(owner, "openai", KeySource.USER)  # the user's own key: nothing
    assert since(before) == []


def test_a_team_key_first_use_is_not_recorded_again_after_the_entries_are_purged(owner):
    # The first use is a row of its own (TeamKeyUse, unique per user and key), not a lookup
    # in the audit trail, which the retention purge empties.
    settings_services.save_team_key("openai", OPENAI_KEY)
    record_key_use(owner, "openai", KeySource.TEAM)
    AuditEntry.objects.purge_older_than(timezone.now() + timedelta(days=1))
    before = mark()
    record_key_use(owner, "openai", KeySource.TEAM)
    assert since(before) == []
    assert TeamKeyUse.objects.filter(user=owner).count() == 1


# --- API tokens -----------------------------------------------------------------------------


def test_a_token_created_and_revoked_leaves_one_entry_each(owner_api, owner):
    before = mark()
    response = owner_api.post("/api/settings/tokens", {"name": "nightly"}, format="json")
    assert response.status_code == 201
    plaintext = response.json()["token"]
    created = only_entry(before, "token.created")
    assert created.actor == owner
    assert created.details["name"] == "nightly"
    before = mark()
    assert owner_api.delete(f"/api/settings/tokens/{response.json()['id']}").status_code == 204
    revoked = only_entry(before, "token.revoked")
    assert revoked.actor == owner
    for entry in (created, revoked):
        assert_no_secret(entry, plaintext)


def test_a_tokens_rate_limit_change_is_a_limit_entry(owner):
    named, plaintext = settings_services.create_named_token(owner, "bot")
    named = NamedToken.objects.get(pk=named.pk)
    named.requests_per_minute = 30
    before = mark()
    named.save()
    entry = only_entry(before, "limit.changed")
    assert entry.changes == {"requests_per_minute": [None, 30]}
    assert_no_secret(entry, plaintext)


# --- Users, groups, roles -------------------------------------------------------------------


def test_a_new_user_is_one_entry(db):
    before = mark()
    make_user("newcomer", email="n@example.com")
    entry = only_entry(before, "user.created")
    assert entry.object_label == "newcomer"
    assert entry.changes == {"username": ["", "newcomer"], "email": ["", "n@example.com"]}
    assert_no_secret(entry, PASSWORD)


@pytest.mark.parametrize(("field", "value"), [("is_staff", True), ("is_superuser", True)])
def test_a_role_flag_change_is_one_entry_with_before_and_after(owner, field, value):
    setattr(owner, field, value)
    before = mark()
    owner.save()
    assert only_entry(before, "user.changed").changes == {field: [not value, value]}


def test_a_password_change_is_one_entry_without_the_hash(owner):
    owner.set_password("An0ther-Secret-Pass")
    before = mark()
    owner.save()
    entry = only_entry(before, "user.password_changed")
    assert (entry.object_type, entry.object_id) == ("auth.user", str(owner.pk))
    assert entry.changes == {} and entry.details == {}
    assert_no_secret(entry, "An0ther-Secret-Pass", owner.password, owner.password.split("$")[-1])


def test_a_password_changed_on_the_account_page_is_one_entry(client, owner):
    client.force_login(owner)
    before = mark()
    response = client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    entry = only_entry(before, "user.password_changed")
    assert entry.actor == owner
    assert_no_secret(entry, PASSWORD, NEW_PASSWORD)


def test_an_admin_set_password_is_one_entry_and_names_the_tokens_it_revoked(
    admin_client, admin_user, owner
):
    named, plaintext = settings_services.create_named_token(owner, "nightly")
    before = mark()
    response = admin_client.post(
        f"/admin/auth/user/{owner.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD, "usable_password": "true"},
    )
    assert response.status_code == 302, response.content[:2000]
    entries = since(before)  # no admin.change besides
    assert [e.action for e in entries] == ["user.password_changed", "token.revoked"]
    changed, revoked = entries
    assert (changed.actor, changed.client, changed.object_id) == (
        admin_user,
        "admin",
        str(owner.pk),
    )
    assert revoked.details == {
        "count": 1,
        "names": ["nightly"],
        "owner": "owner",
        "reason": "password_changed",
    }
    for entry in entries:
        assert_no_secret(entry, NEW_PASSWORD, plaintext, named.token.token_key)


def test_deactivation_and_deletion_revoke_tokens_in_one_entry_each(owner, member):
    settings_services.create_named_token(owner, "a")
    settings_services.create_named_token(owner, "b")
    owner.is_active = False
    before = mark()
    owner.save()
    revoked = [e for e in since(before) if e.action == "token.revoked"]
    assert len(revoked) == 1
    assert revoked[0].details["count"] == 2
    assert revoked[0].details["names"] == ["a", "b"]
    assert revoked[0].details["reason"] == "deactivated"
    _, plaintext = settings_services.create_named_token(member, "c")
    before = mark()
    member.delete()
    entries = since(before)
    assert [e.action for e in entries] == ["token.revoked", "user.deleted"]
    assert entries[0].details["reason"] == "deleted"
    assert_no_secret(entries[0], plaintext)


def test_ending_access_without_tokens_records_no_token_entry(owner):
    owner.is_active = False
    before = mark()
    owner.save()
    assert [e.action for e in since(before)] == ["user.changed"]


def test_group_membership_and_permissions_are_one_entry_each(owner):
    group = Group.objects.create(name="Artists")
    before = mark()
    owner.groups.add(group)
    assert only_entry(before, "user.changed").details == {"groups_added": ["Artists"]}
    before = mark()
    group.user_set.remove(owner)
    assert only_entry(before, "group.changed").details == {"members_removed": ["owner"]}
    permission = Permission.objects.get(codename="view_image")
    before = mark()
    group.permissions.add(permission)
    assert only_entry(before, "group.changed").details == {
        "permissions_added": ["gallery.view_image"]
    }
    before = mark()
    owner.user_permissions.set([permission])
    assert only_entry(before, "user.changed").details == {
        "permissions_added": ["gallery.view_image"]
    }


def test_deactivating_users_in_the_admin_is_one_entry(admin_client, owner, member):
    before = mark()
    response = admin_client.post(
        "/admin/auth/user/",
        {"action": "deactivate", "_selected_action": [owner.pk, member.pk]},
    )
    assert response.status_code == 302
    entry = only_entry(before, "user.changed")
    assert entry.details == {"count": 2, "users": ["member", "owner"]}
    assert entry.changes == {"is_active": [True, False]}


# --- Sharing --------------------------------------------------------------------------------


def test_sharing_changes_are_one_entry_each(owner_api, owner, outsider):
    project = Project.objects.create(owner=owner, name="Shared later")
    url = f"/api/projects/{project.pk}"
    before = mark()
    members = [{"username": "outsider", "role": "viewer"}]
    assert owner_api.patch(url, {"members": members}, format="json").status_code == 200
    shared = only_entry(before, "project.shared")
    assert shared.actor == owner
    assert shared.details["member"] == "outsider"
    before = mark()
    members = [{"username": "outsider", "role": "editor"}]
    owner_api.patch(url, {"members": members}, format="json")
    assert only_entry(before, "project.role_changed").changes == {"role": ["viewer", "editor"]}
    before = mark()
    owner_api.patch(url, {"members": []}, format="json")
    assert only_entry(before, "project.unshared").changes == {"role": ["editor", None]}


# --- Budgets and limits ---------------------------------------------------------------------


def test_a_budget_through_the_admin_is_one_budget_entry(admin_client, admin_user, owner):
    before = mark()
    response = admin_client.post(
        "/admin/dashboard/userbudget/add/",
        {"user": owner.pk, "monthly_budget_usd": "20", "daily_image_limit": ""},
    )
    assert response.status_code == 302, response.content[:2000]
    entry = only_entry(before, "budget.changed")  # no second admin.change entry
    assert entry.actor == admin_user
    assert entry.changes == {"monthly_budget_usd": [None, "20"]}
    budget = UserBudget.objects.get(user=owner)
    before = mark()
    response = admin_client.post(
        f"/admin/dashboard/userbudget/{budget.pk}/change/",
        {"user": owner.pk, "monthly_budget_usd": "20.00", "daily_image_limit": "5"},
    )
    assert response.status_code == 302
    assert only_entry(before, "budget.changed").changes == {"daily_image_limit": [None, 5]}


@pytest.mark.parametrize(("field", "value"), [("max_running", 2), ("max_queued", 7)])
def test_a_budgets_generation_caps_are_recorded(owner, field, value):
    budget = UserBudget.objects.create(user=owner)
    setattr(budget, field, value)
    before = mark()
    budget.save()
    assert only_entry(before, "budget.changed").changes == {field: [None, value]}


def test_the_team_budget_is_recorded_and_the_budget_gate_row_is_not(owner):
    before = mark()
    TeamBudget.objects.get_or_create(pk=1)  # what the budget check does: no person's change
    assert since(before) == []
    team = TeamBudget.current()
    team.monthly_budget_usd = Decimal("100.00")
    team.save()
    assert only_entry(before, "budget.changed").changes == {"monthly_budget_usd": [None, "100.00"]}


# --- Catalog and backends -------------------------------------------------------------------


def test_a_catalog_change_is_one_entry(db):
    row = CatalogModel.objects.filter(enabled=True).first()
    row.enabled = False
    before = mark()
    row.save()
    entry = only_entry(before, "catalog.changed")
    assert entry.changes == {"enabled": [True, False]}
    assert entry.object_type == "generation.catalogmodel"


def test_a_backend_change_is_one_entry_without_its_secret(db):
    backend = Backend.objects.create(
        kind="comfyui",
        name="gpu-1",
        base_url="http://127.0.0.1:9",
        auth="bearer",
        secret="backend-Bearer-S3CRET",
    )
    backend.max_concurrent = 4
    backend.secret = "backend-Bearer-NEW-S3CRET"
    before = mark()
    backend.save()
    entry = only_entry(before, "backend.changed")
    assert entry.changes == {"max_concurrent": [1, 4]} or "max_concurrent" in entry.changes
    assert_no_secret(entry, "backend-Bearer-S3CRET", "backend-Bearer-NEW-S3CRET")


def test_a_backend_url_with_credentials_is_recorded_without_them(db):
    backend = Backend.objects.create(kind="comfyui", name="gpu-2", base_url="http://127.0.0.1:9")
    backend.base_url = "http://alice:Url-Pa55word@gpu.lan:8188/comfy?api_key=Url-K3Y-value"
    before = mark()
    backend.save()
    entry = only_entry(before, "backend.changed")
    assert entry.changes == {"base_url": ["http://127.0.0.1:9", "http://gpu.lan:8188/comfy"]}
    assert_no_secret(entry, "alice", "Url-Pa55word", "Url-K3Y-value", "api_key")


def test_a_backend_whose_url_changes_only_in_its_credentials_says_so_without_them(db):
    backend = Backend.objects.create(
        kind="comfyui", name="gpu-3", base_url="http://a:Old-Pa55@gpu.lan:8188"
    )
    backend.base_url = "http://a:New-Pa55@gpu.lan:8188"
    before = mark()
    backend.save()
    entry = only_entry(before, "backend.changed")
    assert entry.changes == {}
    assert entry.details == {"hidden_changes": ["base_url"]}
    assert_no_secret(entry, "Old-Pa55", "New-Pa55")

    before = mark()
    backend.save()  # saved unchanged: nothing
    assert since(before) == []


# --- Deletions and exports ------------------------------------------------------------------


def test_deleting_one_image_is_one_entry(owner_api, owner):
    image = make_image(owner)
    before = mark()
    assert owner_api.delete(f"/api/gallery/{image.pk}").status_code == 204
    entry = only_entry(before, "image.deleted")
    assert entry.actor == owner
    assert entry.object_id == str(image.pk)


def test_a_bulk_deletion_is_one_entry_with_the_count(owner_api, owner):
    images = [make_image(owner) for _ in range(3)]
    before = mark()
    response = owner_api.post(
        "/api/gallery/bulk",
        {"action": "delete", "ids": [image.pk for image in images]},
        format="json",
    )
    assert response.status_code == 200, response.content
    entry = only_entry(before, "image.deleted")
    assert entry.details["count"] == 3


def test_deleting_a_project_with_its_images_is_one_entry(owner_api, owner):
    project = Project.objects.create(owner=owner, name="Doomed")
    make_image(owner, project=project)
    make_image(owner, project=project)
    before = mark()
    response = owner_api.delete(f"/api/projects/{project.pk}?delete_images=true")
    assert response.status_code == 204
    entry = only_entry(before, "project.deleted")
    assert entry.details["images_deleted"] == 2
    assert entry.object_label == "Doomed"


def test_zip_exports_are_one_entry_with_the_count(owner_api, owner):
    project = Project.objects.create(owner=owner, name="Zipped")
    images = [make_image(owner, project=project) for _ in range(2)]
    before = mark()
    response = owner_api.post(
        "/api/gallery/download", {"ids": [i.pk for i in images]}, format="json"
    )
    assert response.status_code == 200
    b"".join(response.streaming_content)
    assert only_entry(before, "export.zip").details["count"] == 2
    before = mark()
    response = owner_api.get(f"/api/projects/{project.pk}/download")
    assert response.status_code == 200
    b"".join(response.streaming_content)
    entry = only_entry(before, "export.zip")
    assert (entry.object_type, entry.object_id) == ("projects.project", str(project.pk))


# --- The admin ------------------------------------------------------------------------------


def test_an_admin_change_without_a_domain_hook_is_one_admin_entry(admin_client, admin_user):
    tag = Tag.objects.create(name="fox")
    before = mark()
    response = admin_client.post(f"/admin/gallery/tag/{tag.pk}/change/", {"name": "wolf"})
    assert response.status_code == 302
    entry = only_entry(before, "admin.change")
    assert entry.actor == admin_user
    assert entry.details["admin_action"] == "change"
    assert (entry.object_type, entry.object_id) == ("gallery.tag", str(tag.pk))


def test_an_admin_deletion_is_one_entry_even_with_a_domain_hook(admin_client, owner):
    budget = UserBudget.objects.create(user=owner, monthly_budget_usd=5)
    before = mark()
    response = admin_client.post(
        f"/admin/dashboard/userbudget/{budget.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    entry = only_entry(before, "admin.change")
    assert entry.details["admin_action"] == "deletion"


def test_an_admin_user_key_deletion_is_one_entry_without_the_key(admin_client, owner):
    settings_services.save_api_key(owner, "openai", OPENAI_KEY)
    key = ApiKey.objects.get(user=owner)
    before = mark()
    response = admin_client.post(f"/admin/settings_app/apikey/{key.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert_no_secret(only_entry(before, "admin.change"), OPENAI_KEY, OPENAI_KEY[-4:])


def test_the_admins_bulk_delete_is_one_entry_with_the_count(admin_client):
    tags = [Tag.objects.create(name=name) for name in ("a", "b", "c")]
    before = mark()
    response = admin_client.post(
        "/admin/gallery/tag/",
        {"action": "delete_selected", "_selected_action": [t.pk for t in tags], "post": "yes"},
    )
    assert response.status_code == 302
    entry = only_entry(before, "admin.change")
    assert entry.details["count"] == 3
    assert entry.object_type == "gallery.tag"
    assert not Tag.objects.filter(pk__in=[t.pk for t in tags]).exists()


def test_the_bulk_delete_confirmation_page_records_nothing(admin_client):
    tags = [Tag.objects.create(name=name) for name in ("a", "b")]
    before = mark()
    response = admin_client.post(
        "/admin/gallery/tag/",
        {"action": "delete_selected", "_selected_action": [t.pk for t in tags]},
    )
    assert response.status_code == 200
    assert since(before) == []


def test_no_entry_holds_a_secret_after_a_busy_day(owner_api, owner, admin_client):
    owner_api.post(
        "/api/settings/api-keys", {"provider": "openai", "api_key": OPENAI_KEY}, format="json"
    )
    token = owner_api.post("/api/settings/tokens", {"name": "x"}, format="json").json()["token"]
    admin_client.post("/admin/settings_app/teamkey/add/", {"provider": "fal", "api_key": "id:s3"})
    Preferences.for_user(owner)
    for entry in AuditEntry.objects.all():
        assert_no_secret(entry, OPENAI_KEY, token, PASSWORD, "id:s3")


def test_an_action_that_rolls_back_leaves_no_entry(owner):
    before = mark()
    with pytest.raises(RuntimeError), transaction.atomic():
        settings_services.save_api_key(owner, "openai", OPENAI_KEY)
        raise RuntimeError("the caller fails after the save")
    assert since(before) == []
    assert not ApiKey.objects.filter(user=owner).exists()


def test_signing_in_for_the_admin_is_one_entry_through_the_one_sign_in_page(client, admin_user):
    # The admin's own login page sends to /login/ (one password form, one code step).
    assert client.get("/admin/login/?next=/admin/").url.startswith("/login/")
    before = mark()
    response = client.post(
        "/login/?next=/admin/",
        {"username": "boss", "password": PASSWORD},
        HTTP_USER_AGENT="Firefox/140",
    )
    assert response.status_code == 302 and response.url == "/admin/"
    entry = only_entry(before, "auth.sign_in")
    assert (entry.actor, entry.client) == (admin_user, "Firefox/140")
