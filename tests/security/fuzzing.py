"""What the schemathesis runs share (tests/security/test_api_fuzz.py for /api,
tests/gateway/test_fuzz.py for /v1): the schema, in-process on the WSGI app, and the checks
every answer must pass."""

import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from imagegen.wsgi import application

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def api_schema():
    """The public schema (built without the database, so loaded at collection)."""
    return schemathesis.openapi.from_wsgi("/api/schema/", application)
