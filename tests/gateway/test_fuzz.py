"""Schemathesis against the /v1 part of the schema, in-process on the WSGI app, with a user's
Bearer token: no answer is a 5xx, every answer matches the documented status, content type
and body (the OpenAI error object included). Jobs run inline, so a request that passes
every check gets its images at once instead of waiting."""

import asyncio

import pytest
from hypothesis import HealthCheck, settings

from settings_app.services import create_named_token
from tests.security.fuzzing import CHECKS, api_schema

schema = api_schema().include(path_regex="^/v1/")


@pytest.fixture
def bearer(transactional_db, owner, monkeypatch, no_watcher_left):
    """The owner's Bearer header, with jobs run inline.

    The views are async: in-process on the WSGI app, Django runs them through asgiref's
    AsyncToSync, which refuses a thread whose event loop is marked running. Playwright's
    sync API (a browser test earlier in this process) leaves its loop marked so in the main
    thread; it is idle while this test runs (Playwright runs only when called), so the mark
    is lifted for the test and put back after."""
    from generation import runner, services

    monkeypatch.setattr(services, "enqueue_generation", runner.execute)
    marked = asyncio._get_running_loop()
    asyncio._set_running_loop(None)
    try:
        yield {"Authorization": f"Bearer {create_named_token(owner, 'fuzz')[1]}"}
    finally:
        asyncio._set_running_loop(marked)


@schema.parametrize()
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_v1_answers_match_the_schema_and_never_5xx(case, bearer):
    case.call_and_validate(headers=bearer, checks=CHECKS)
