"""Configuration: bad values stop start-up naming the variable; secrets are required."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"SECRET_KEY": "k" * 50, "ENCRYPTION_KEY": "e" * 50, "ENV_FILE": os.devnull}


def start(**env):
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SECRET_KEY", "ENCRYPTION_KEY", "DEBUG", "DATABASE_URL")
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "imagegen.settings", **env})
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_good_configuration_starts():
    result = start(**GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("PORT", "eighty", "PORT: expected a whole number"),
        ("PORT", "70000", "PORT: must be at most 65535"),
        ("DEBUG", "maybe", "DEBUG: expected true or false"),
        ("GENERATION_TIMEOUT", "0", "GENERATION_TIMEOUT: must be at least 1"),
        ("DEFAULT_CFG_SCALE", "high", "DEFAULT_CFG_SCALE: expected a number"),
        ("MAX_IMAGE_SIZE", "-5", "MAX_IMAGE_SIZE: must be at least"),
        ("DATABASE_URL", "nosuchdb://x", "DATABASE_URL"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL: expected one of"),
    ],
)
def test_bad_value_stops_start_up_naming_the_variable(name, value, words):
    result = start(**GOOD, **{name: value})
    assert result.returncode != 0
    assert words in result.stderr
    assert "Traceback" not in result.stderr  # one line a person can act on


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ENCRYPTION_KEY"])
def test_missing_secret_is_refused_when_debug_is_off(missing):
    env = dict(GOOD)
    env[missing] = ""
    result = start(**env)
    assert result.returncode != 0 and f"{missing}: set a long random value" in result.stderr


def test_placeholder_secret_is_refused_when_debug_is_off():
    result = start(**{**GOOD, "SECRET_KEY": "change-me"})
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


def test_debug_runs_without_secrets():
    assert start(DEBUG="true", ENV_FILE=os.devnull).returncode == 0


def test_secret_may_come_from_a_file(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("f" * 50)
    result = start(SECRET_KEY_FILE=str(secret), ENCRYPTION_KEY="e" * 50, ENV_FILE=os.devnull)
    assert result.returncode == 0, result.stderr


def test_envfile_writes_fresh_secrets_once(tmp_path):
    from imagegen.core.envfile import write_env

    target = tmp_path / ".env"
    assert write_env(target) is True
    first = target.read_text()
    assert "SECRET_KEY=" in first and "ENCRYPTION_KEY=" in first and "DEBUG=false" in first
    assert write_env(target) is False and target.read_text() == first
    assert oct(target.stat().st_mode & 0o777) == "0o600"


def test_sqlite_runs_in_wal_with_immediate_transactions(db):
    from django.db import connection

    if connection.vendor != "sqlite":
        pytest.skip("SQLite only")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000
    assert connection.transaction_mode == "IMMEDIATE"


def test_env_example_copied_to_env_starts_with_its_values(tmp_path):
    """Every line of .env.example parses as the value it documents (django-environ keeps
    inline comments as part of a value, so comments must stand on their own lines)."""
    import re

    example = (ROOT / ".env.example").read_text()
    for line in example.splitlines():
        if re.match(r"^[A-Z][A-Z0-9_]*=", line):
            assert "#" not in line, f"inline comment would become part of the value: {line}"
    env_file = tmp_path / ".env"
    env_file.write_text(
        example.replace("SECRET_KEY=change-me", "SECRET_KEY=" + "k" * 50).replace(
            "ENCRYPTION_KEY=change-me", "ENCRYPTION_KEY=" + "e" * 50
        )
    )
    result = start(ENV_FILE=str(env_file))
    assert result.returncode == 0, result.stderr
