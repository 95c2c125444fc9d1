"""One redaction for provider text: a key echoed in another case, without its prefix, split
in halves or cut short never reaches a message or a log line."""

import time

import httpx
import openai
import pytest

from generation.prompts.enhance import _provider_message
from imagegen.providers import errors
from imagegen.providers.base import ProviderError, RunContext
from imagegen.providers.openai import raise_openai_error

SECRET = "AbCdEf0123456789GhIjKlMnOp"
FAL_ID = "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
FAL_SECRET = "fa1c0ffee0123456789abcdef0123456"

ECHOES = [
    ("sk-" + SECRET, "sk-" + SECRET),  # exact
    ("sk-" + SECRET, ("sk-" + SECRET).upper()),  # another case
    ("sk-" + SECRET, SECRET.lower()),  # without the prefix, lower case
    ("sk-or-v1-" + SECRET, SECRET),  # OpenRouter's prefix dropped
    ("r8_" + SECRET, "R8_" + SECRET.swapcase()),  # Replicate, every letter flipped
    ("sk-" + SECRET, SECRET[3:14]),  # a fragment of 11 characters
    (f"{FAL_ID}:{FAL_SECRET}", FAL_SECRET.upper()),  # fal: the secret half
    (f"{FAL_ID}:{FAL_SECRET}", FAL_ID),  # fal: the id half
]


@pytest.mark.parametrize(("key", "echo"), ECHOES)
def test_clean_removes_every_form_of_the_key(key, echo):
    text = f"Incorrect API key provided: {echo}. You can find your key at the dashboard."
    cleaned = errors.clean(text, RunContext(deadline=time.monotonic() + 60, api_key=key))
    assert echo.lower() not in cleaned.lower()
    assert "[API key]" in cleaned
    assert cleaned.startswith("Incorrect API key provided: ")
    assert cleaned.endswith("You can find your key at the dashboard.")


def test_short_runs_and_the_public_prefix_alone_stay():
    key = "sk-or-v1-" + SECRET
    text = "keys start with sk-or-v1- and AbCdEf0 is only seven characters"
    assert errors.redact(text, key) == text


def test_a_short_key_is_removed_whole_in_any_case():
    assert errors.redact("bad key SK-TEST here", "sk-test") == "bad key [API key] here"


def test_no_key_leaves_the_text_alone():
    assert errors.redact("nothing to hide", None) == "nothing to hide"
    assert errors.redact("nothing to hide", "") == "nothing to hide"


def _status_error(status: int, body: dict) -> openai.APIStatusError:
    request = httpx.Request("POST", "https://api.openai.com/v1/images/generations")
    response = httpx.Response(status, request=request, json=body)
    return openai.APIStatusError("failed", response=response, body=body)


def test_openai_parameter_error_echoing_the_key_in_lower_case_is_redacted():
    key = "sk-" + SECRET
    body = {"message": f"unknown key {SECRET.lower()}", "param": f"user={SECRET.upper()}"}
    with pytest.raises(ProviderError) as caught:
        raise_openai_error(
            _status_error(400, body),
            "OpenAI",
            RunContext(deadline=time.monotonic() + 60, api_key=key),
        )
    message = str(caught.value)
    assert SECRET.lower() not in message.lower(), message
    assert "OpenAI rejected the parameters" in message


def test_prompt_enhancement_redacts_the_key_without_its_prefix():
    key = "sk-or-v1-" + SECRET
    exc = _status_error(400, {"error": {"message": f"key {SECRET.upper()} is not allowed"}})
    message = _provider_message(exc, key)
    assert SECRET.lower() not in message.lower(), message
    assert "[API key]" in message
