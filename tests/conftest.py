"""Shared fixtures: three users (owner, member, outsider), API clients, isolated storage."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

PASSWORD = "correct horse battery staple"


@pytest.fixture(autouse=True)
def isolated_storage(settings, tmp_path):
    """Each test stores files under its own folder."""
    location = tmp_path / "storage"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {**settings.STORAGES["default"], "OPTIONS": {"location": str(location)}},
    }
    settings.STORAGE_DIR = location
    return location


def _user(username, **extra):
    return get_user_model().objects.create_user(username=username, password=PASSWORD, **extra)


@pytest.fixture
def owner(db):
    return _user("owner")


@pytest.fixture
def member(db):
    return _user("member")


@pytest.fixture
def outsider(db):
    return _user("outsider")


@pytest.fixture
def admin_user(db):
    return get_user_model().objects.create_superuser("boss", password=PASSWORD)


@pytest.fixture
def api():
    """An unauthenticated API client."""
    return APIClient()


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def owner_api(owner):
    return client_for(owner)


@pytest.fixture
def outsider_api(outsider):
    return client_for(outsider)


@pytest.fixture
def owner_client(client, owner):
    """Django's test client, logged in as the owner (HTML pages)."""
    client.force_login(owner)
    return client


@pytest.fixture
def run_jobs(django_capture_on_commit_callbacks):
    """Run what the request enqueued (sync django-q2 runs generations inline)."""

    def submit(client, payload, expect=202):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/generate", payload, format="json")
        assert response.status_code == expect, response.content
        return response

    return submit


@pytest.fixture
def scripted():
    """A provider whose behaviour the test scripts (see tests/generation/helpers.py)."""
    from tests.generation.helpers import install_scripted, uninstall_scripted

    provider = install_scripted()
    yield provider
    uninstall_scripted()
