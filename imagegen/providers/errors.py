"""Provider failures in words, and the retry loop every cloud provider shares.

The phrases are stable (the dashboard groups failures by them): "rejected the API key",
"no credit", "Rate limited by", "refused the prompt (content policy)", "rejected the
parameters", "is unavailable right now", "Unexpected response from", "could not generate".
"""

import email.utils
import logging
import re
import time
from contextlib import contextmanager

import httpx

from imagegen.providers.base import GenerationTimedOut, ProviderError, RunContext

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 6
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 8.0
MAX_DETAIL = 500
REDACTED = "[API key]"
# The shortest run of a key's characters that counts as the key (a provider may echo a part).
MIN_KEY_FRAGMENT = 8
# What providers put in front of the secret part of a key (the longest first).
KEY_PREFIXES = ("sk-or-v1-", "sk-proj-", "sk-", "r8_")


def _lower_same_length(text: str) -> str:
    """``text.lower()`` character by character, keeping indexes aligned with ``text``."""
    return "".join(c if len(low := c.lower()) != 1 else low for c in text)


def redact(text, api_key: str | None) -> str:
    """``text`` without the key in it: the whole key in any case, the key without its
    provider prefix (``sk-``, ``sk-or-v1-``, ``r8_``), either half of a fal
    ``key_id:key_secret``, and any run of 8 or more of its characters. The one redaction
    every provider answer goes through before it becomes a message or a log line."""
    text = str(text or "")
    key = _lower_same_length((api_key or "").strip())
    if not key or not text:
        return text
    lowered = _lower_same_length(text)
    if len(key) < MIN_KEY_FRAGMENT:  # too short to look for parts of: the whole key only
        return re.sub(re.escape(key), REDACTED, text, flags=re.IGNORECASE)
    prefix = next((p for p in KEY_PREFIXES if key.startswith(p)), "")
    # Every 8-character window of the key that reaches past its public prefix: a text run
    # made of such windows is (part of) the key, however the provider cut or cased it.
    windows = {
        key[i : i + MIN_KEY_FRAGMENT]
        for i in range(len(key) - MIN_KEY_FRAGMENT + 1)
        if i + MIN_KEY_FRAGMENT > len(prefix)
    }
    hidden = [False] * len(text)
    for i in range(len(text) - MIN_KEY_FRAGMENT + 1):
        if lowered[i : i + MIN_KEY_FRAGMENT] in windows:
            hidden[i : i + MIN_KEY_FRAGMENT] = [True] * MIN_KEY_FRAGMENT
    out, i = [], 0
    while i < len(text):
        if hidden[i]:
            while i < len(text) and hidden[i]:
                i += 1
            out.append(REDACTED)
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def clean(text, ctx: RunContext | None = None, api_key: str | None = None) -> str:
    """Provider text made safe to store and show: one line, bounded, never the key."""
    text = " ".join(str(text or "").split())
    text = redact(text, api_key or (ctx.api_key if ctx is not None else None))
    return text[:MAX_DETAIL]


def rejected_key(label: str) -> ProviderError:
    return ProviderError(f"{label} rejected the API key: check it in Settings.")


def no_credit(label: str, detail: str = "") -> ProviderError:
    suffix = f" ({detail})" if detail else ""
    return ProviderError(f"{label} reports no credit left on this account{suffix}.")


def content_policy(label: str, reason: str) -> ProviderError:
    reason = reason or "no reason given"
    return ProviderError(f"{label} refused the prompt (content policy): {reason}")


def invalid_parameters(label: str, detail: str) -> ProviderError:
    return ProviderError(f"{label} rejected the parameters: {detail or 'no details given'}")


def outage(label: str, status: int | str) -> ProviderError:
    return ProviderError(f"{label} is unavailable right now (HTTP {status}); try again later.")


def unexpected(label: str, request_id: str = "", what: str = "") -> ProviderError:
    logger.warning("unexpected response from %s (request %s): %s", label, request_id or "?", what)
    return ProviderError(f"Unexpected response from {label}.")


def model_failed(label: str, detail: str) -> ProviderError:
    return ProviderError(f"{label} could not generate the image: {detail or 'no reason given'}")


def no_listing_key(label: str) -> ProviderError:
    """A model listing that needs a key, asked without one (refresh_catalog)."""
    return ProviderError(
        f"no {label} key to read its model list with: store a team key (admin → Team keys), "
        "set the provider's environment variable or pass the command's key flag"
    )


def no_connection(label: str) -> ProviderError:
    return ProviderError(f"Could not reach {label}; check the server's network or the base URL.")


def unconfirmed_submission(label: str, what: str) -> ProviderError:
    """A create/submit POST whose answer was lost after it was sent: the provider may have
    started (and will bill) the job, so it is not sent again (the official SDKs retry such
    POSTs only on 429)."""
    return ProviderError(
        f"{label} did not confirm the request ({what}); it may still run and be billed, so it "
        "was not sent again. Check the provider's dashboard before trying again."
    )


@contextmanager
def submission_errors(ctx: RunContext, label: str):
    """Transport failures of a non-idempotent POST (create a prediction, submit a job).

    Failing to connect at all (nothing was sent) is Retryable; a timeout or a broken answer
    after the request went out is final (``unconfirmed_submission``): a retry could create
    and bill a second job."""
    try:
        yield
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):  # nothing was sent
        raise Retryable("connection", final=no_connection(label)) from None
    except httpx.TimeoutException:
        if ctx.remaining() <= 1:
            raise GenerationTimedOut() from None
        raise unconfirmed_submission(label, "no answer in time") from None
    except httpx.HTTPError:
        raise unconfirmed_submission(label, "the connection broke") from None


@contextmanager
def transport_errors(ctx: RunContext, label: str):
    """httpx timeouts and connection failures as Retryable (or the deadline, when spent)."""
    try:
        yield
    except httpx.TimeoutException:
        if ctx.remaining() <= 1:
            raise GenerationTimedOut() from None
        raise Retryable("timeout") from None
    except httpx.HTTPError:
        raise Retryable("connection", final=no_connection(label)) from None


class Retryable(Exception):
    """A failure worth retrying (429, 5xx, connection trouble), with the server's hint."""

    def __init__(
        self,
        status: int | str,
        retry_after: float | None = None,
        final: ProviderError | None = None,
    ):
        super().__init__(status)
        self.status = status
        self.retry_after = retry_after
        self.final = final


def retry_after_seconds(headers) -> float | None:
    """Seconds the server asks us to wait (retry-after-ms, then Retry-After secs or a date)."""
    if headers is None:
        return None
    value = headers.get("retry-after-ms")
    if value:
        try:
            return max(0.0, float(value) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
            return max(0.0, when.timestamp() - time.time())
        except (TypeError, ValueError):
            return None


def with_retries(ctx: RunContext, label: str, call):
    """Run ``call()``; on Retryable wait (Retry-After or exponential backoff) and try again,
    as long as the generation's deadline allows; then fail in words."""
    delay = FIRST_BACKOFF
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            return call()
        except Retryable as exc:
            wait = exc.retry_after if exc.retry_after is not None else delay
            out_of_time = ctx.remaining() <= wait + 1.0
            if attempt == MAX_ATTEMPTS or out_of_time:
                if exc.final is not None:
                    raise exc.final from None
                if exc.status == 429:
                    raise ProviderError(
                        f"Rate limited by {label} after {attempt} attempt"
                        f"{'s' if attempt > 1 else ''}; try again later."
                    ) from None
                raise outage(label, exc.status) from None
            logger.info(
                "%s answered %s; retrying in %.1f s (attempt %d)", label, exc.status, wait, attempt
            )
            ctx.sleep(wait)
            delay = min(delay * 2, MAX_BACKOFF)
    raise AssertionError("unreachable")
