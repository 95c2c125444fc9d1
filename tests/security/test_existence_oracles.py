"""Lookups by name or id from a non-staff user answer alike for "does not exist" and "exists
but is not yours" (or, for users, "exists but inactive"): no endpoint tells a member which
usernames, projects or presets exist on the team."""

import pytest

from projects.models import Project
from tests.users import make_user

pytestmark = pytest.mark.django_db

MISSING_ID = 987654


@pytest.fixture
def someone_elses_project(outsider):
    return Project.objects.create(owner=outsider, name="Private")


@pytest.fixture
def inactive(db):
    return make_user("sleeper", is_active=False)


def members_error(api, username):
    response = api.post(
        "/api/projects",
        {"name": "New", "members": [{"username": username, "role": "viewer"}]},
        format="json",
    )
    assert response.status_code == 400
    return response.json()


def test_members_api_answers_alike_for_unknown_and_inactive_users(owner_api, outsider, inactive):
    unknown = members_error(owner_api, "nobody-by-this-name")
    asleep = members_error(owner_api, "sleeper")
    assert unknown == asleep and list(unknown) == ["members"]
    assert "nobody-by-this-name" not in str(unknown) and "sleeper" not in str(asleep)


def test_members_api_does_not_say_which_listed_names_exist(owner_api, outsider):
    response = owner_api.post(
        "/api/projects",
        {
            "name": "New",
            "members": [
                {"username": "outsider", "role": "viewer"},
                {"username": "ghost", "role": "viewer"},
            ],
        },
        format="json",
    )
    assert response.status_code == 400
    text = str(response.json()["members"])
    assert "ghost" not in text and "outsider" not in text
    assert not Project.objects.filter(name="New").exists()


def test_members_form_answers_alike_for_unknown_and_inactive_users(
    owner_client, shared_project, inactive
):
    def error_for(username):
        response = owner_client.post(
            f"/projects/{shared_project.pk}/members/", {"username": username, "role": "viewer"}
        )
        assert response.status_code == 302
        shown = owner_client.get(response.url)  # shows (and so uses up) the message
        return [m.message for m in shown.context["messages"]]

    unknown, asleep = error_for("nobody-by-this-name"), error_for("sleeper")
    assert unknown == asleep and unknown
    assert "nobody-by-this-name" not in str(unknown)


@pytest.mark.parametrize("param", ["user", "project"])
def test_dashboard_filters_answer_alike_for_missing_and_someone_elses(
    member_api, outsider, someone_elses_project, param
):
    theirs = outsider.pk if param == "user" else someone_elses_project.pk
    for url in ("/api/dashboard/stats", "/api/dashboard/usage", "/api/dashboard/trends"):
        missing = member_api.get(url, {param: MISSING_ID})
        other = member_api.get(url, {param: theirs})
        assert missing.status_code == other.status_code == 404, url
        assert missing.json() == other.json()


def test_dashboard_page_answers_alike_for_missing_and_someone_elses(
    client, member, outsider, someone_elses_project
):
    client.force_login(member)
    for param, theirs in (("user", outsider.pk), ("project", someone_elses_project.pk)):
        missing = client.get("/dashboard/", {param: MISSING_ID})
        other = client.get("/dashboard/", {param: theirs})
        assert missing.status_code == other.status_code == 404


def test_project_fields_answer_alike_for_missing_and_someone_elses(
    member_api, someone_elses_project
):
    def answers(project_id):
        generate = member_api.post(
            "/api/generate", {"prompt": "a fox", "project": project_id}, format="json"
        )
        prefs = member_api.patch("/api/settings", {"default_project": project_id}, format="json")
        # The same answer, apart from echoing the id that was sent.
        return [
            (r.status_code, r.content.decode().replace(str(project_id), "ID"))
            for r in (generate, prefs)
        ]

    missing = answers(MISSING_ID)
    assert [status for status, _ in missing] == [400, 400]
    assert missing == answers(someone_elses_project.pk)


def test_project_detail_answers_alike_for_missing_and_someone_elses(
    member_api, someone_elses_project
):
    missing = member_api.get(f"/api/projects/{MISSING_ID}")
    other = member_api.get(f"/api/projects/{someone_elses_project.pk}")
    assert missing.status_code == other.status_code == 404
    assert missing.json() == other.json()
