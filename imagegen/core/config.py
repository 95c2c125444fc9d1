"""Typed readers for environment variables.

Every reader names the variable in its error, so a bad value stops start-up with a message a
person can act on. Secrets may also be given as ``NAME_FILE`` (a path whose contents are the
value), the convention of Docker and systemd credentials.
"""

import ipaddress
import os
from decimal import Decimal, InvalidOperation
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is not None:
        return value.strip()
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            return Path(file_path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_path!r}: {exc}") from exc
    return None


def env_str(name: str, default: str | None = None) -> str | None:
    """The variable as text, or ``default`` when it is unset or empty."""
    value = _raw(name)
    return value if value else default


def env_bool(name: str, default: bool) -> bool:
    value = _raw(name)
    if value is None or value == "":
        return default
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected true or false, got {value!r}")


def env_int(
    name: str, default: int | None, *, minimum: int | None = None, maximum: int | None = None
) -> int | None:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}: must be at most {maximum}, got {number}")
    return number


def env_float(
    name: str, default: float | None, *, minimum: float | None = None, maximum: float | None = None
) -> float | None:
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a number, got {value!r}") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}, got {number}")
    if maximum is not None and number > maximum:
        raise ImproperlyConfigured(f"{name}: must be at most {maximum}, got {number}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    value = _raw(name)
    if value is None or value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


_RATE_PERIODS = ("second", "minute", "hour", "day")
_OFF = {"off", "none"}


def env_rate(name: str, default: str | None) -> str | None:
    """A request rate as DRF's throttles read it, ``N/second|minute|hour|day`` (a positive
    whole N); ``off`` means no limit (None)."""
    value = _raw(name)
    if value is None or value == "":
        return default
    if value.lower() in _OFF:
        return None
    count, _, period = value.partition("/")
    if not count.strip().isdigit() or int(count) < 1 or period.strip() not in _RATE_PERIODS:
        raise ImproperlyConfigured(
            f"{name}: expected a rate such as 30/hour (per {', '.join(_RATE_PERIODS)}) "
            f"or off, got {value!r}"
        )
    return f"{int(count)}/{period.strip()}"


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = (_raw(name) or default).lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def env_decimal(name: str, default=None, *, minimum=None):
    """The variable as a Decimal (money), or ``default`` when it is unset or empty."""
    value = _raw(name)
    if value is None or value == "":
        return default
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ImproperlyConfigured(f"{name}: expected a number, got {value!r}") from None
    if not number.is_finite() or (minimum is not None and number < Decimal(minimum)):
        raise ImproperlyConfigured(f"{name}: must be a number of at least {minimum}, got {value!r}")
    return number


def is_loopback_host(host: str | None) -> bool:
    """``localhost`` or a loopback address (127.0.0.0/8, ::1)."""
    if not host:
        return False
    if host.lower().rstrip(".") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def https_or_loopback(url: str) -> bool:
    """The URL is https://, or plain http:// to this machine (a loopback host): nothing
    else may carry sign-in secrets or the keys that check them."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return False
    if parts.scheme == "https":
        return bool(host)
    return parts.scheme == "http" and is_loopback_host(host)


def require_https_or_loopback(name: str, url: str | None) -> str | None:
    """``url`` unchanged when it is empty or :func:`https_or_loopback`; otherwise stop
    start-up naming the variable."""
    if url and not https_or_loopback(url):
        raise ImproperlyConfigured(
            f"{name}: must be an https:// URL (plain http only for this machine: "
            f"localhost, 127.0.0.1, ::1), got {url!r}"
        )
    return url
