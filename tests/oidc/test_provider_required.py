"""`make test` runs the OpenID Connect flow: with OIDC_TESTS_REQUIRED=1 (set by the Makefile's
test targets) a provider that cannot start fails the tests instead of skipping them."""

import subprocess
from pathlib import Path

import pytest

from tests.oidc import provider

ROOT = Path(__file__).resolve().parents[2]


def test_without_the_variable_a_missing_node_skips(monkeypatch):
    monkeypatch.delenv(provider.REQUIRED_VARIABLE, raising=False)
    with pytest.raises(pytest.skip.Exception):
        provider.skip_or_fail("node is not installed")


def test_with_the_variable_a_missing_node_fails(monkeypatch):
    monkeypatch.setenv(provider.REQUIRED_VARIABLE, "1")
    with pytest.raises(pytest.fail.Exception, match="OIDC_TESTS_REQUIRED=1 requires"):
        provider.skip_or_fail("node is not installed")


def test_the_fixture_asks_for_node_through_skip_or_fail(monkeypatch):
    """The session fixture's refusal path, with node made missing."""
    monkeypatch.setenv(provider.REQUIRED_VARIABLE, "1")
    monkeypatch.setattr(provider.shutil, "which", lambda name: None)
    reason = provider.missing_requirement()
    assert reason and "node is not installed" in reason
    with pytest.raises(pytest.fail.Exception):
        provider.skip_or_fail(reason)


@pytest.mark.parametrize("target", ["test-sqlite", "test-postgres"])
def test_the_makefile_test_targets_require_the_oidc_tests(target):
    recipe = subprocess.run(
        ["make", "-n", target, "TEST_POSTGRES_URL=postgres://x@127.0.0.1:1/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    assert "export OIDC_TESTS_REQUIRED=1" in recipe
