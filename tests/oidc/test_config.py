"""The OIDC settings at start-up: a half configuration stops it naming the variables; the
client secret may come from a file."""

import os
import subprocess
import sys
from pathlib import Path

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
