"""The admin: staff with permissions (or a superuser) get in, everyone else goes to the login;
no admin page shows a secret (tests/security/world.py: admin_secrets; what staff members who
are not superusers can do with each permission is in test_admin_power.py)."""

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.security.world import admin_secrets
from tests.users import make_user


def _admin_urls(world):
    for model in admin.site._registry:
        info = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        yield model, reverse(f"{info}_changelist")
        yield model, reverse(f"{info}_change", args=[world.admin_rows[model].pk])


def test_superuser_opens_every_changelist_and_change_page_without_seeing_a_secret(world):
    client = Client()
    client.force_login(world.users["staff"])
    opened = 0
    for model, url in _admin_urls(world):
        response = client.get(url)
        assert response.status_code == 200, (model._meta.label, url, response.status_code)
        html = response.content.decode()
        for secret in admin_secrets(world):
            assert secret not in html, f"{url} shows a secret"
        opened += 1
    assert opened == 2 * len(admin.site._registry)


def test_staff_with_view_permission_sees_that_changelist_only(world):
    clerk = make_user("clerk", is_staff=True)
    clerk.user_permissions.add(Permission.objects.get(codename="view_image"))
    client = Client()
    client.force_login(clerk)
    assert client.get(reverse("admin:gallery_image_changelist")).status_code == 200
    assert client.get(reverse("admin:settings_app_apikey_changelist")).status_code == 403
    assert client.get(reverse("admin:gallery_image_add")).status_code == 403


def test_staff_without_permissions_is_refused_every_model(world):
    clerk = make_user("clerk", is_staff=True)
    client = Client()
    client.force_login(clerk)
    for model, url in _admin_urls(world):
        assert client.get(url).status_code == 403, (model._meta.label, url)


@pytest.mark.parametrize("role", ["anonymous", "outsider", "viewer", "editor", "owner"])
def test_non_staff_are_sent_to_the_admin_login(world, role):
    client = Client()
    if world.user(role) is not None:
        client.force_login(world.user(role))
    for _model, url in _admin_urls(world):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login"))
