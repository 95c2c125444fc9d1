"""The OIDC settings at start-up: a half configuration stops it naming the variables; the
client secret may come from a file."""

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from settings_app.oidc import config
from settings_app.oidc.config import current
from settings_app.oidc.errors import SignInFailed

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"SECRET_KEY": "k" * 50, "ENCRYPTION_KEY": "e" * 50, "ENV_FILE": os.devnull}
ISSUER = "http://127.0.0.1:9"  # never contacted at start-up


def run(*args, **env):
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("OIDC_", "DJANGO_SETTINGS"))
    }
    environment.update({"DJANGO_SETTINGS_MODULE": "imagegen.settings", **GOOD, **env})
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_an_issuer_without_a_client_stops_start_up():
    result = run("check", OIDC_ISSUER=ISSUER, OIDC_CLIENT_ID="studio")
    assert result.returncode != 0
    assert "OIDC_CLIENT_ID and OIDC_CLIENT_SECRET" in result.stderr
    assert "Traceback" not in result.stderr


def test_oidc_only_without_a_provider_stops_start_up():
    result = run("check", OIDC_ONLY="true")
    assert result.returncode != 0
    assert "OIDC_ONLY: needs OIDC_ISSUER or OIDC_DISCOVERY_URL" in result.stderr


def test_the_client_secret_is_read_from_a_file_and_the_provider_is_not_contacted(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("from-the-file\n")
    result = run(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.OIDC_CLIENT_SECRET == 'from-the-file')",
        OIDC_ISSUER=ISSUER,
        OIDC_CLIENT_ID="studio",
        OIDC_CLIENT_SECRET_FILE=str(secret),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "True"


# --- https only, except a provider on this machine ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "url"),
    [
        ("OIDC_ISSUER", "http://idp.example"),
        ("OIDC_DISCOVERY_URL", "http://idp.example/.well-known/openid-configuration"),
        ("OIDC_ISSUER", "http://127.0.0.1.idp.example"),
        ("OIDC_ISSUER", "ftp://idp.example"),
    ],
)
def test_a_plain_http_provider_elsewhere_stops_start_up(name, url):
    result = run("check", OIDC_CLIENT_ID="studio", OIDC_CLIENT_SECRET="s", **{name: url})
    assert result.returncode != 0
    assert f"{name}: must be an https:// URL" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    "url", ["https://idp.example", "http://localhost:8080", "http://127.0.0.2:9", "http://[::1]:9"]
)
def test_https_or_a_loopback_provider_starts(url):
    result = run("check", OIDC_ISSUER=url, OIDC_CLIENT_ID="studio", OIDC_CLIENT_SECRET="s")
    assert result.returncode == 0, result.stderr


def _document(base="https://idp.example", **changes):
    document = {
        "issuer": base,
        "authorization_endpoint": f"{base}/auth",
        "token_endpoint": f"{base}/token",
        "jwks_uri": f"{base}/jwks",
        "userinfo_endpoint": f"{base}/me",
        "end_session_endpoint": f"{base}/logout",
    }
    return {**document, **changes}


@pytest.mark.parametrize("key", config.HTTPS_REQUIRED)
def test_a_discovered_plain_http_endpoint_elsewhere_is_refused(key):
    conf = replace(current(), issuer="", discovery_url="https://idp.example/.well-known/x")
    with pytest.raises(SignInFailed) as refused:
        config._parse(_document(**{key: "http://idp.example/x"}), conf)
    assert refused.value.reason == "misconfigured"
    assert key in str(refused.value.detail)


@pytest.mark.parametrize(
    "base",
    ["https://idp.example", "http://127.0.0.1:4000", "http://localhost:4000", "http://[::1]:4"],
)
def test_discovered_https_or_loopback_endpoints_are_taken(base):
    conf = replace(current(), issuer="", discovery_url=f"{base}/.well-known/x")
    info = config._parse(_document(base), conf)
    assert info.token_endpoint == f"{base}/token"


def test_a_plain_http_discovery_url_set_at_run_time_is_refused(settings):
    """Start-up refuses it; a setting changed later (an override) is refused at the request."""
    settings.OIDC_ISSUER = "http://idp.example"
    settings.OIDC_CLIENT_ID, settings.OIDC_CLIENT_SECRET = "studio", "s"
    with pytest.raises(SignInFailed) as refused:
        config.provider_info()
    assert refused.value.reason == "misconfigured"
