"""The gateway's one error mapping: OpenAI's error object and status codes.

Every refusal under ``/v1`` is ``{"error": {"message", "type", "param", "code"}}`` with the
status OpenAI would use, so that the official SDKs raise their own classes
(``BadRequestError`` 400, ``AuthenticationError`` 401, ``NotFoundError`` 404,
``RateLimitError`` 429, ``InternalServerError`` 5xx). The SDKs retry 408, 409, 429 and 5xx
answers unless told not to: ``x-should-retry: false`` goes with every answer a retry would
repeat (a failed or timed-out generation, a spent budget), so that a client never pays twice
for one call without knowing it.
"""

from django.core.exceptions import ValidationError
from django.http import JsonResponse

from imagegen.core.exceptions import NotFound, QuotaExceeded, ServiceError

INVALID_REQUEST = "invalid_request_error"

# The studio's field names, as the OpenAI parameter a client sent for them.
PARAM_OF_FIELD = {
    "width": "size",
    "height": "size",
    "num_images": "n",
    "provider": "model",
    "input_images": "image",
    "project": "X-Project",
}


class OpenAIError(Exception):
    """An answer in OpenAI's error shape."""

    def __init__(
        self,
        message: str,
        *,
        status: int = 400,
        type: str = INVALID_REQUEST,
        param: str | None = None,
        code: str | None = None,
        retry: bool | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.param = param
        self.code = code
        self.retry = retry
        self.retry_after = retry_after

    def body(self) -> dict:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def response(self) -> JsonResponse:
        response = JsonResponse(self.body(), status=self.status)
        if self.retry is not None:
            response["x-should-retry"] = "true" if self.retry else "false"
        if self.retry_after is not None:
            response["Retry-After"] = str(self.retry_after)
        return response


def invalid(message: str, param: str | None = None, code: str | None = "invalid_value"):
    return OpenAIError(message, param=param, code=code)


def model_not_found(name: str) -> OpenAIError:
    return OpenAIError(
        f"The model '{name}' does not exist or you do not have access to it.",
        status=404,
        param="model",
        code="model_not_found",
    )


def from_validation(error: ValidationError, quota_reset=None) -> OpenAIError:
    """A studio ValidationError (a form's field errors) as one OpenAI error: the first field's
    first message, with that field named as the OpenAI parameter. A QuotaExceeded (the daily
    image limit, the queue cap) and a monthly budget are 429s (``quota_reset(kind)``
    says when the limit resets: kind "day", "month" or "queue")."""
    fields = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    field, messages = next(iter(fields.items()))
    message = " ".join(messages) if field is None else messages[0]
    if field == "budget":  # the user's or the team's monthly budget
        return _quota(message, "insufficient_quota", "month", quota_reset)
    if isinstance(error, QuotaExceeded):
        kind = "queue" if field == "queued" else "day"
        return _quota(message, "rate_limit_exceeded", kind, quota_reset)
    if field in (None, "__all__", "non_field_errors"):
        return invalid(message, None)
    return invalid(message, PARAM_OF_FIELD.get(field, field))


def _quota(message: str, code: str, kind: str, quota_reset) -> OpenAIError:
    seconds, words = quota_reset(kind) if quota_reset else (None, "")
    return OpenAIError(
        f"{message} {words}".strip(),
        status=429,
        type="insufficient_quota" if code == "insufficient_quota" else "requests",
        code=code,
        retry=False,
        retry_after=seconds,
    )


def from_service(error: ServiceError) -> OpenAIError:
    """A domain refusal (imagegen.core.exceptions) in OpenAI's shape, same status."""
    if isinstance(error, NotFound):
        return OpenAIError(error.detail, status=404, code="not_found")
    kind = INVALID_REQUEST if error.status_code < 500 else "server_error"
    return OpenAIError(
        error.detail,
        status=error.status_code,
        type=kind,
        param=PARAM_OF_FIELD.get(error.field, error.field),
        retry=False if error.status_code >= 409 else None,
    )
