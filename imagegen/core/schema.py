"""The OpenAPI schema's error answers, documented once for every operation.

Every operation may answer 401/403 (no or a bad token, not allowed), one with a path
parameter 404, one that takes a body or query parameters 400 with field errors, and one with
a body 415 (a content type it does not parse). Views still declare their own special answers
(409, 429, a 404 with extra keys) with ``extend_schema``; those win over these defaults.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers
from rest_framework.permissions import AllowAny


class ErrorSerializer(serializers.Serializer):
    """The body of every refusal that is not about fields: 401, 403, 404, 405, 409, 415."""

    detail = serializers.CharField()


# 400: {"field": ["message", ...], ...}; nested for list and object fields
# ({"ids": {"0": ["..."]}}); non-field errors under "detail" or "non_field_errors".
VALIDATION_ERROR_SCHEMA = {
    "type": "object",
    "description": "Field errors: each key is a field (or `detail` / `non_field_errors`), "
    "each value a list of messages, or nested errors for list and object "
    "fields.",
    "additionalProperties": {
        "anyOf": [
            {"type": "array", "items": {}},
            {"type": "object"},
            {"type": "string"},
        ],
    },
}


def error_response(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


VALIDATION_ERROR = OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Invalid input.")
# 429 from the daily image limit carries field errors; a throttle answers {"detail": ...}.
TOO_MANY = OpenApiResponse(VALIDATION_ERROR_SCHEMA, description="Over a limit.")
NOT_FOUND = error_response("Not found, or not yours.")
CONFLICT = error_response("Conflicts with the object's state.")


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers every operation can give."""

    def _default_errors(self) -> dict:
        errors = {}
        public = all(isinstance(p, AllowAny) for p in self.view.get_permissions())
        if not public:
            errors["401"] = error_response("Not signed in, or the token is bad or expired.")
            errors["403"] = error_response("Not allowed.")
        elif self.view.get_authenticators():
            # A bad token is refused even where no sign-in is needed.
            errors["401"] = error_response("The token is bad or expired.")
        if "{" in self.path:
            errors["404"] = NOT_FOUND
        has_body = self.method in ("POST", "PUT", "PATCH")
        has_query = any(p.get("in") == "query" for p in self._get_parameters())
        if has_body or has_query:
            errors["400"] = VALIDATION_ERROR
        if has_body:
            errors["415"] = error_response("A content type the operation does not accept.")
        if self.view.get_throttles():
            errors["429"] = TOO_MANY
        return errors

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code, response in self._default_errors().items():
            if code not in responses:
                responses[code] = self._get_response_for_code(response, code, direction=direction)
        return responses
