"""Fixtures that point each provider's base URL at its local fake and give the owner a key.

Polls are fast everywhere: see ``fast_time`` in the root conftest."""

import pytest

from tests.fakes.fal_server import FakeFal
from tests.fakes.openai_server import FakeOpenAI
from tests.fakes.openrouter_server import FakeOpenRouter
from tests.fakes.replicate_server import FakeReplicate
from tests.providers.helpers import KEYS


def _with_key(monkeypatch, provider):
    variable, value = KEYS[provider]
    monkeypatch.setenv(variable, value)


@pytest.fixture
def fake_openai(settings, monkeypatch):
    with FakeOpenAI() as fake:
        settings.OPENAI_BASE_URL = fake.base_url + "/v1"
        _with_key(monkeypatch, "openai")
        yield fake


@pytest.fixture
def fake_openrouter(settings, monkeypatch):
    with FakeOpenRouter() as fake:
        settings.OPENROUTER_BASE_URL = fake.base_url + "/api/v1"
        _with_key(monkeypatch, "openrouter")
        yield fake


@pytest.fixture
def fake_replicate(settings, monkeypatch):
    with FakeReplicate() as fake:
        settings.REPLICATE_BASE_URL = fake.base_url
        _with_key(monkeypatch, "replicate")
        yield fake


@pytest.fixture
def fake_fal(settings, monkeypatch):
    with FakeFal() as fake:
        settings.FAL_QUEUE_BASE_URL = fake.base_url
        settings.FAL_API_BASE_URL = fake.base_url + "/v1"
        _with_key(monkeypatch, "fal")
        yield fake
