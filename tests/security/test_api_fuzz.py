"""Schemathesis against /api/schema/, in-process on the WSGI app, as a signed-in user with a
token: no operation may answer 5xx, and every answer must match the schema (documented
status code, content type, headers and body).

Bounded for CI: ``max_examples`` per operation, no deadline, derandomized (the same examples
on every run). Checks left out, and why:

- ``negative_data_rejection``: DRF is lenient by design in ways the schema cannot say: a
  number is accepted for a text field (``{"name": 0}`` is the name "0"), "true"/"1"/"0" for a
  boolean, and an empty query parameter (``?user=``) means "not given". None of these is
  harmful, and every answer is still checked against the schema.
- ``positive_data_acceptance``: several valid-by-schema inputs are refused for reasons a
  schema cannot express (a model's own size ranges, an id that belongs to nobody, a budget),
  with a documented 400/404/409.
- ``use_after_free`` / ``ensure_resource_availability``: stateful checks for links between
  operations; the runs here are stateless.
- ``ignored_auth``: it calls each operation without credentials; the permission matrix
  (test_permission_matrix.py) covers that exhaustively, per role.

Hostile cursors: the schema says only that ``cursor`` is a string, so schemathesis would
rarely make one that decodes. ``flatmap_query`` below gives every operation with a ``cursor``
parameter, besides the generated queries, queries whose cursor is forged the way an attacker
would: base64 of a query string with a made-up position (text, a number beyond 64 bits),
offset or reverse flag, base64 of random bytes, a truncated real-looking cursor, or long
random text. test_malformed_input.py checks the same by hand on every list endpoint.
"""

import base64

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from knox.models import AuthToken

from tests.gallery.factories import make_image
from tests.security.fuzzing import CHECKS, api_schema

MAX_EXAMPLES = 20


@pytest.fixture
def keep_test_connection():
    """Calling the WSGI app fires request_started/finished, whose close_old_connections would
    close the test's connection mid-transaction; Django's own test client unhooks it too."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def token_header(db, owner, keep_test_connection):
    """A token for an owner who has an image in a project (so some ids exist)."""
    from projects.models import Project

    project = Project.objects.create(owner=owner, name="Fuzzed")
    make_image(owner, project=project, title="fuzz me", tags=["fox"])
    _, token = AuthToken.objects.create(owner)
    return {"Authorization": f"Token {token}"}


# The schema is public and built without the database, so it is loaded at collection. The
# /v1 gateway waits for its generations, which need jobs to run: tests/gateway/test_fuzz.py
# fuzzes it with them.
schema = api_schema().exclude(path_regex="^/v1/")


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


_POSITIONS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.text(max_size=20),
    st.sampled_from(["abc", "", "1.5", "\x00", str(2**64)]),
)
_CURSOR_FIELDS = st.fixed_dictionaries(
    {"p": _POSITIONS},
    optional={
        "o": st.integers(min_value=-(2**70), max_value=2**70).map(str),
        "r": st.sampled_from(["0", "1", "2", "x", ""]),
    },
)
HOSTILE_CURSORS = st.one_of(
    # A DRF cursor (base64 of "o=…&r=…&p=…") with made-up values.
    _CURSOR_FIELDS.map(
        lambda fields: _b64("&".join(f"{k}={v}" for k, v in fields.items()).encode())
    ),
    # The same, truncated (padding and all).
    _CURSOR_FIELDS.map(lambda fields: _b64(f"p={fields['p']}".encode())[:-2]),
    # base64 of anything, and anything at all (long, non-ASCII, NUL).
    st.binary(max_size=64).map(_b64),
    st.text(max_size=600),
)


@schema.hook
def flatmap_query(context, query):
    """The generated query, or (operations that page) a query with only a hostile
    ``cursor``: alone, so that no other bad parameter answers 400 before it is read."""
    operation = context.operation
    if operation is None or not any(param.name == "cursor" for param in operation.query):
        return st.just(query)
    return st.one_of(st.just(query), HOSTILE_CURSORS.map(lambda cursor: {"cursor": cursor}))


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_answers_match_the_schema_and_never_5xx(case, token_header):
    case.call_and_validate(headers=token_header, checks=CHECKS)
