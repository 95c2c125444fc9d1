"""The /v1 gateway's fixtures: a user's API token and the official openai SDK pointed at the
live test server (pytest-django's live_server) with it."""

import openai
import pytest

from imagegen.core import live
from settings_app.services import create_named_token


@pytest.fixture
def no_watcher_left(transactional_db):
    """A waiting request starts the process's live watcher: stopped while the test's database
    is still there (this fixture ends before the database fixture it depends on)."""
    yield
    live.broadcaster.stop()


@pytest.fixture
def owner_token(owner):
    return create_named_token(owner, "open webui")[1]


@pytest.fixture
def outsider_token(outsider):
    return create_named_token(outsider, "script")[1]


@pytest.fixture
def sdk(live_server, owner_token, background_jobs, no_watcher_left):
    """The owner's client: no retries, so that a test sees each answer as it is."""
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=owner_token, max_retries=0)


@pytest.fixture
def outsider_sdk(live_server, outsider_token, background_jobs, no_watcher_left):
    return openai.OpenAI(base_url=f"{live_server.url}/v1", api_key=outsider_token, max_retries=0)
