"""Production mode: the documented settings pass `check --deploy`; each is read from the
environment, and a bad value stops start-up naming the variable."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# The production values docs/deploy.md gives for a server behind nginx terminating TLS.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "pr0duct10n-s3cret-" + "k9Xz" * 12,
    "ENCRYPTION_KEY": "pr0duct10n-encrypt-" + "e7Qw" * 12,
    "ALLOWED_HOSTS": "images.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://images.example.com",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "SECURE_HSTS_PRELOAD": "true",
    "TRUST_PROXY_HEADERS": "true",
    "FILE_SERVING": "x-accel",
}
OURS = set(PRODUCTION) | {
    "DATABASE_URL",
    "SECURE_SSL_REDIRECT",
    "USE_X_FORWARDED_HOST",
    "X_ACCEL_PREFIX",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES",
    "DJANGO_SETTINGS_MODULE",
    # Set by the browser tests' fixture in this process; a deployment never has it.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
}


def manage(*args, tmp_path, **env):
    environment = {k: v for k, v in os.environ.items() if k not in OURS}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "imagegen.settings",
            "ENV_FILE": os.devnull,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'deploy.db'}",
            **env,
        }
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


def deploy_check(tmp_path, **env):
    return manage("check", "--deploy", "--fail-level", "WARNING", tmp_path=tmp_path, **env)


def test_documented_production_settings_pass_check_deploy(tmp_path):
    result = deploy_check(tmp_path, **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues (1 silenced)" in result.stdout


def test_quick_start_defaults_fail_check_deploy_naming_what_is_missing(tmp_path):
    env = {k: PRODUCTION[k] for k in ("SECRET_KEY", "ENCRYPTION_KEY")}
    result = deploy_check(tmp_path, **env)
    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr


def test_redirect_check_is_silenced_only_behind_a_trusted_proxy(tmp_path):
    direct = {**PRODUCTION, "TRUST_PROXY_HEADERS": "false", "FILE_SERVING": "django"}
    result = deploy_check(tmp_path, **direct)
    assert result.returncode != 0 and "security.W008" in result.stderr

    # Serving TLS itself (no proxy): Django redirects http to https and nothing is silenced.
    result = deploy_check(tmp_path, **direct, SECURE_SSL_REDIRECT="true")
    assert result.returncode == 0, result.stderr
    assert "no issues (0 silenced)" in result.stdout


def settings_values(tmp_path, names, **env):
    code = (
        "import json, django; django.setup(); from django.conf import settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}, default=str))"
    )
    environment = {k: v for k, v in os.environ.items() if k not in OURS}
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "imagegen.settings",
            "ENV_FILE": os.devnull,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'values.db'}",
            **env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


NAMES = [
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
    "USE_X_FORWARDED_HOST",
    "SILENCED_SYSTEM_CHECKS",
    "FILE_SERVING",
    "X_ACCEL_PREFIX",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_TIME",
    "AUTH_PASSWORD_VALIDATORS",
]


def test_defaults_keep_the_quick_start_on_plain_http(tmp_path):
    values = settings_values(tmp_path, NAMES, DEBUG="true")
    assert values["SECURE_SSL_REDIRECT"] is False
    assert values["SESSION_COOKIE_SECURE"] is False and values["CSRF_COOKIE_SECURE"] is False
    assert values["SECURE_HSTS_SECONDS"] == 0
    assert values["SECURE_PROXY_SSL_HEADER"] is None
    assert values["USE_X_FORWARDED_HOST"] is False
    assert values["SILENCED_SYSTEM_CHECKS"] == []
    assert values["FILE_SERVING"] == "django" and values["X_ACCEL_PREFIX"] == "/protected/"
    assert values["AXES_FAILURE_LIMIT"] == 5 and values["AXES_COOLOFF_TIME"] == "0:15:00"
    assert len(values["AUTH_PASSWORD_VALIDATORS"]) == 4


def test_each_production_setting_is_read_from_the_environment(tmp_path):
    values = settings_values(
        tmp_path,
        NAMES,
        **PRODUCTION,
        SECURE_SSL_REDIRECT="true",
        USE_X_FORWARDED_HOST="true",
        X_ACCEL_PREFIX="/internal/files/",
        AXES_FAILURE_LIMIT="3",
        AXES_COOLOFF_MINUTES="60",
    )
    assert values["SECURE_SSL_REDIRECT"] is True
    assert values["SESSION_COOKIE_SECURE"] is True and values["CSRF_COOKIE_SECURE"] is True
    assert values["SECURE_HSTS_SECONDS"] == 31536000
    assert values["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert values["SECURE_HSTS_PRELOAD"] is True
    assert values["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert values["USE_X_FORWARDED_HOST"] is True
    assert values["SILENCED_SYSTEM_CHECKS"] == ["security.W008"]
    assert values["FILE_SERVING"] == "x-accel" and values["X_ACCEL_PREFIX"] == "/internal/files/"
    assert values["AXES_FAILURE_LIMIT"] == 3 and values["AXES_COOLOFF_TIME"] == "1:00:00"


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("SECURE_SSL_REDIRECT", "sometimes", "SECURE_SSL_REDIRECT: expected true or false"),
        ("SESSION_COOKIE_SECURE", "yes please", "SESSION_COOKIE_SECURE: expected true or"),
        ("CSRF_COOKIE_SECURE", "2", "CSRF_COOKIE_SECURE: expected true or false"),
        ("SECURE_HSTS_SECONDS", "-1", "SECURE_HSTS_SECONDS: must be at least 0"),
        ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS: expected a whole number"),
        ("SECURE_HSTS_INCLUDE_SUBDOMAINS", "all", "SECURE_HSTS_INCLUDE_SUBDOMAINS: expected"),
        ("SECURE_HSTS_PRELOAD", "x", "SECURE_HSTS_PRELOAD: expected true or false"),
        ("TRUST_PROXY_HEADERS", "nginx", "TRUST_PROXY_HEADERS: expected true or false"),
        ("USE_X_FORWARDED_HOST", "maybe", "USE_X_FORWARDED_HOST: expected true or false"),
        ("AXES_FAILURE_LIMIT", "0", "AXES_FAILURE_LIMIT: must be at least 1"),
        ("AXES_COOLOFF_MINUTES", "soon", "AXES_COOLOFF_MINUTES: expected a whole number"),
        ("FILE_SERVING", "nginx", "FILE_SERVING: expected one of django, x-accel"),
        ("X_ACCEL_PREFIX", "protected", "X_ACCEL_PREFIX: must start and end with '/'"),
    ],
)
def test_bad_production_value_stops_start_up_naming_the_variable(tmp_path, name, value, words):
    result = manage("check", tmp_path=tmp_path, **{**PRODUCTION, name: value})
    assert result.returncode != 0
    assert words in result.stderr


def test_x_accel_on_s3_storage_is_refused(tmp_path):
    result = manage(
        "check",
        tmp_path=tmp_path,
        **PRODUCTION,
        STORAGE_BACKEND="s3",
        S3_BUCKET="b",
        S3_ACCESS_KEY_ID="a",
        S3_SECRET_ACCESS_KEY="s",
    )
    assert result.returncode != 0 and "FILE_SERVING: x-accel needs" in result.stderr


NEW_VARIABLES = [
    "SECURE_SSL_REDIRECT",
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "TRUST_PROXY_HEADERS",
    "USE_X_FORWARDED_HOST",
    "FILE_SERVING",
    "X_ACCEL_PREFIX",
    "AXES_ENABLED",
    "AXES_FAILURE_LIMIT",
    "AXES_COOLOFF_MINUTES",
]


@pytest.mark.parametrize("name", NEW_VARIABLES)
def test_production_variable_is_documented(name):
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    deploy = (ROOT / "docs" / "deploy.md").read_text()
    settings_source = (ROOT / "imagegen" / "settings.py").read_text()
    assert f'"{name}"' in settings_source
    assert f"\n{name}=" in example
    assert f"`{name}`" in readme
    assert name in deploy
