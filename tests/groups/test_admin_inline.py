"""The group's policy is edited inline on the Group admin page; its team-keys checkbox is the
group's ``use_team_keys`` permission, which only a superuser changes."""

import re

import pytest
from django.contrib.auth.models import Group, Permission
from django.test import Client

from settings_app.models import GroupPolicy
from tests.groups.helpers import group_post, policy_for
from tests.users import make_user

pytestmark = pytest.mark.django_db


def team_keys_permission():
    return Permission.objects.get(codename="use_team_keys", content_type__app_label="settings_app")


def checkbox(page: str) -> str:
    """The team-keys checkbox's <input> tag."""
    return re.search(r'<input[^>]*name="policy-0-team_keys"[^>]*>', page).group(0)


def test_a_superuser_adds_a_group_with_its_policy_and_team_keys(admin_client):
    page = admin_client.get("/admin/auth/group/add/").content.decode()
    assert "policy: models and limits of the members" in page.lower()
    assert 'name="policy-0-team_keys"' in page
    data = group_post(
        "Designers",
        allowed_providers="offline\nopenai",
        allowed_models="openai/gpt-image-2",
        monthly_budget_usd="40",
        max_running="2",
        team_keys="on",
    )
    response = admin_client.post("/admin/auth/group/add/", data)
    assert response.status_code == 302, response.context["inline_admin_formsets"][0].formset.errors
    group = Group.objects.get(name="Designers")
    assert group.policy.providers == ["offline", "openai"]
    assert group.policy.models == [("openai", "gpt-image-2")]
    assert (group.policy.monthly_budget_usd, group.policy.max_running) == (40, 2)
    assert team_keys_permission() in group.permissions.all()


def test_the_checkbox_shows_and_removes_the_permission(admin_client):
    policy = policy_for("Designers")
    policy.group.permissions.add(team_keys_permission())
    page = admin_client.get(f"/admin/auth/group/{policy.group.pk}/change/").content.decode()
    assert " checked" in checkbox(page)
    data = group_post("Designers", policy_id=str(policy.pk))
    data["permissions"] = [str(team_keys_permission().pk)]  # left as it was in the list
    response = admin_client.post(f"/admin/auth/group/{policy.group.pk}/change/", data)
    assert response.status_code == 302
    assert not policy.group.permissions.filter(codename="use_team_keys").exists()


def test_the_inline_refuses_a_list_it_cannot_mean(admin_client):
    data = group_post("Designers", allowed_models="gpt-image-2")
    response = admin_client.post("/admin/auth/group/add/", data)
    assert response.status_code == 200
    assert "Write each model as provider/model id" in response.content.decode()
    assert not Group.objects.filter(name="Designers").exists()


def clerk_client() -> Client:
    """A staff member who may edit groups and their policies, but is no superuser."""
    clerk = make_user("clerk", is_staff=True)
    wanted = ["change_group", "view_group", "add_grouppolicy", "change_grouppolicy"]
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=wanted))
    client = Client()
    client.force_login(clerk)
    return client


def test_staff_with_the_policy_permissions_edit_limits_but_never_the_team_keys():
    client = clerk_client()
    policy = policy_for("Designers")
    url = f"/admin/auth/group/{policy.group.pk}/change/"
    page = client.get(url).content.decode()
    assert (
        'name="policy-0-team_keys"' not in page
        or "disabled"
        in page.split('name="policy-0-team_keys"')[1].split(">")[0]
        + page.split('name="policy-0-team_keys"')[0].rsplit("<input", 1)[1]
    )
    data = group_post("Designers", policy_id=str(policy.pk), daily_image_limit="9", team_keys="on")
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy.refresh_from_db()
    assert policy.daily_image_limit == 9
    assert not policy.group.permissions.exists()
    assert GroupPolicy.objects.count() == 1


def test_a_clerks_disabled_checkbox_stays_theirs(admin_client):
    # The checkbox is disabled for the clerk's request only: a superuser's next save of the
    # same page still grants the team keys.
    clerk = clerk_client()
    policy = policy_for("Designers")
    url = f"/admin/auth/group/{policy.group.pk}/change/"
    assert clerk.get(url).status_code == 200
    assert "disabled" not in checkbox(admin_client.get(url).content.decode())
    data = group_post("Designers", policy_id=str(policy.pk), team_keys="on")
    assert admin_client.post(url, data).status_code == 302
    assert list(policy.group.permissions.all()) == [team_keys_permission()]


def test_a_model_the_catalog_does_not_have_is_saved_with_a_warning(admin_client):
    """Not refused (the catalog may list it later), but said: most likely misspelt. A
    provider the catalog holds nothing of is not checked."""
    from imagegen.providers.models import CatalogModel

    known = (
        CatalogModel.objects.filter(provider="openai")
        .order_by("model_id")
        .values_list("model_id", flat=True)
    )
    data = group_post(
        "Designers",
        allowed_models=f"openai/{known[0]}\nopenai/gpt-imag-1\noffline/offline-shapes",
    )
    response = admin_client.post("/admin/auth/group/add/", data, follow=True)
    assert response.redirect_chain, response.context["inline_admin_formsets"][0].formset.errors
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert "openai/gpt-imag-1" in warnings[0]
    assert f"openai/{known[0]}," not in warnings[0] and "offline" not in warnings[0]
    policy = Group.objects.get(name="Designers").policy
    assert policy.models[1] == ("openai", "gpt-imag-1")

    # Saved again with its models unchanged: not said again.
    data = group_post(
        "Designers",
        policy_id=str(policy.pk),
        allowed_models=policy.allowed_models,
        monthly_budget_usd="5",
    )
    response = admin_client.post(f"/admin/auth/group/{policy.group.pk}/change/", data, follow=True)
    assert response.redirect_chain
    assert not [m for m in response.context["messages"] if m.level_tag == "warning"]
