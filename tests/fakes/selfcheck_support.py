"""Helpers shared by the fake-server self-check modules (fixtures factory and SDK clients)."""

from __future__ import annotations

import io

import openai
import pytest
import replicate
from PIL import Image

FAL_H = {"Authorization": "Key fal-key-id:fal-key-secret"}


def fake_fixtures(name, cls, **kw):
    """A module-scoped running fake ``<name>_server`` plus ``<name>``, reset for each test."""

    @pytest.fixture(scope="module", name=f"{name}_server")
    def running():
        with cls(**kw) as server:
            yield server

    @pytest.fixture(name=name)
    def fake(request):
        server = request.getfixturevalue(f"{name}_server")
        server.reset()
        yield server
        assert server.server_errors == [], server.server_errors[-1]

    return running, fake


def oa_client(fake, key="sk-test-good", retries=0):
    return openai.OpenAI(base_url=fake.base_url + "/v1", api_key=key, max_retries=retries)


def or_client(fake, key="sk-or-v1-test-good"):
    return openai.OpenAI(base_url=fake.base_url + "/api/v1", api_key=key, max_retries=0)


def rep_client(fake, key="r8_test_good"):
    client = replicate.Client(api_token=key, base_url=fake.base_url)
    client.poll_interval = 0.01
    return client


def png_size(data: bytes) -> tuple[int, int]:
    return Image.open(io.BytesIO(data)).size
