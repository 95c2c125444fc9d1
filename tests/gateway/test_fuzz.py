"""Schemathesis against the /v1 part of the schema, in-process on the WSGI app, with a user's
Bearer token: no answer is a 5xx, every answer matches the documented status, content type
and body (the OpenAI error object included). Jobs run inline, so a request that passes
every check gets its images at once instead of waiting."""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagegen.wsgi import application
from settings_app.services import create_named_token

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

schema = schemathesis.openapi.from_wsgi("/api/schema/", application).include(path_regex="^/v1/")


@pytest.fixture
def bearer(transactional_db, owner, monkeypatch, no_watcher_left):
    from generation import runner, services

    monkeypatch.setattr(services, "enqueue_generation", runner.execute)
    return {"Authorization": f"Bearer {create_named_token(owner, 'fuzz')[1]}"}


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
