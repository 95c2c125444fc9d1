"""Admin: users with masked key status and the team-key permission, write-only team keys."""

import pytest
from django.contrib.auth import get_user_model

from settings_app import services
from settings_app.keys import KeySource, resolve_api_key
from settings_app.models import TeamKey

pytestmark = pytest.mark.django_db

TEAM = "sk-team-secret-ABCDEF-7777"


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_users_list_shows_key_status_masked(
    admin_client, owner, member, django_assert_max_num_queries
):
    services.save_api_key(owner, "openai", "sk-owner-key-1234")
    services.save_api_key(owner, "fal", "id:secret-5678")
    with django_assert_max_num_queries(12):
        response = admin_client.get("/admin/auth/user/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "fal ••••5678, openai ••••1234" in body
    assert "sk-owner-key-1234" not in body and "secret-5678" not in body


def test_user_page_lists_the_users_keys_masked(admin_client, owner):
    services.save_api_key(owner, "openai", "sk-owner-key-1234")
    body = admin_client.get(f"/admin/auth/user/{owner.pk}/change/").content.decode()
    assert "••••1234" in body and "sk-owner-key-1234" not in body


def test_admin_adds_a_team_key_through_a_write_only_field(admin_client, admin_user):
    form = admin_client.get("/admin/settings_app/teamkey/add/").content.decode()
    assert 'type="password"' in form
    response = admin_client.post(
        "/admin/settings_app/teamkey/add/", {"provider": "openai", "api_key": TEAM}
    )
    assert response.status_code == 302
    key = TeamKey.objects.get()
    assert key.secret == TEAM and key.updated_by == admin_user and key.masked == "••••7777"
    for url in ("/admin/settings_app/teamkey/", f"/admin/settings_app/teamkey/{key.pk}/change/"):
        body = admin_client.get(url).content.decode()
        assert TEAM not in body and "••••7777" in body


def test_saving_the_team_key_form_empty_keeps_the_key(admin_client):
    key = services.save_team_key("openai", TEAM)
    response = admin_client.post(
        f"/admin/settings_app/teamkey/{key.pk}/change/", {"provider": "openai", "api_key": ""}
    )
    assert response.status_code == 302
    assert TeamKey.objects.get().secret == TEAM


def test_a_badly_formed_team_key_is_an_error_next_to_the_field(admin_client):
    response = admin_client.post(
        "/admin/settings_app/teamkey/add/", {"provider": "fal", "api_key": "no-colon-key"}
    )
    body = response.content.decode()
    assert response.status_code == 200 and "key_id:key_secret" in body
    assert "no-colon-key" not in body  # not even re-rendered into the password input
    assert not TeamKey.objects.exists()


def test_admin_grants_and_removes_team_key_use_per_user(admin_client, owner, member, no_env_keys):
    services.save_team_key("openai", TEAM)
    admin_client.post(
        "/admin/auth/user/", {"action": "allow_team_keys", "_selected_action": [owner.pk]}
    )
    User = get_user_model()
    assert resolve_api_key(User.objects.get(pk=owner.pk), "openai").source == KeySource.TEAM
    assert resolve_api_key(User.objects.get(pk=member.pk), "openai") is None
    body = admin_client.get("/admin/auth/user/?team_keys=yes").content.decode()
    assert ">owner<" in body and ">member<" not in body
    admin_client.post(
        "/admin/auth/user/", {"action": "disallow_team_keys", "_selected_action": [owner.pk]}
    )
    assert resolve_api_key(User.objects.get(pk=owner.pk), "openai") is None


def test_admin_deactivates_a_user_who_then_cannot_log_in(admin_client, owner, client):
    admin_client.post("/admin/auth/user/", {"action": "deactivate", "_selected_action": [owner.pk]})
    owner.refresh_from_db()
    assert owner.is_active is False
    from tests.users import PASSWORD

    admin_client.logout()
    response = admin_client.post("/login/", {"username": "owner", "password": PASSWORD})
    assert response.status_code == 200 and b"Wrong username or password" in response.content


def test_the_bulk_deactivation_ends_sessions_and_tokens_and_stops_queued_work(admin_client, owner):
    """As a deactivating save does: the action is an UPDATE, which no save hook sees."""
    from django.contrib.messages import get_messages
    from django.contrib.sessions.models import Session
    from django.test import Client
    from knox.models import AuthToken

    from generation.models import Generation, Status
    from tests.generation.helpers import make_generation
    from tests.users import make_user

    client = Client()  # the owner's browser (admin_client is pytest-django's `client`)
    client.force_login(owner)
    owner_session = client.session.session_key
    admin_session = admin_client.session.session_key
    inactive = make_user("gone", is_active=False)  # counted nowhere
    AuthToken.objects.create(user=owner)
    queued = make_generation(owner)
    response = admin_client.post(
        "/admin/auth/user/", {"action": "deactivate", "_selected_action": [owner.pk, inactive.pk]}
    )
    assert response.status_code == 302
    assert not AuthToken.objects.filter(user=owner).exists()
    assert not Session.objects.filter(session_key=owner_session).exists()
    assert Session.objects.filter(session_key=admin_session).exists()
    assert Generation.objects.get(pk=queued.pk).status == Status.CANCELED
    assert "1 user(s) deactivated." in [str(m) for m in get_messages(response.wsgi_request)]


def test_user_keys_cannot_be_added_or_read_in_the_admin(admin_client, owner):
    stored, _ = services.save_api_key(owner, "openai", "sk-owner-key-1234")
    assert admin_client.get("/admin/settings_app/apikey/add/").status_code == 403
    body = admin_client.get(f"/admin/settings_app/apikey/{stored.pk}/change/").content.decode()
    assert "••••1234" in body and "sk-owner-key-1234" not in body


def test_granting_team_keys_to_many_users_takes_as_many_queries_as_to_one(admin_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    User = get_user_model()
    users = [User.objects.create_user(f"crowd{n}") for n in range(6)]

    def queries(action, selected):
        with CaptureQueriesContext(connection) as ctx:
            admin_client.post("/admin/auth/user/", {"action": action, "_selected_action": selected})
        return len(ctx.captured_queries)

    for action in ("allow_team_keys", "disallow_team_keys"):
        one = queries(action, [users[0].pk])
        assert queries(action, [u.pk for u in users[1:]]) == one, action
    assert not User.objects.filter(user_permissions__codename="use_team_keys").exists()
