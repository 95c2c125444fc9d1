"""Fixtures of the OpenID Connect tests: the real provider (tests/oidc_provider/server.js)
for the whole session, and the studio's OIDC settings pointing at it.

The provider is installed by `make oidc-deps` (part of `make test`), never fetched here.
"""

import pytest

from settings_app.oidc.config import forget_provider_info
from tests.oidc.provider import (
    CLIENT_ID,
    CLIENT_SECRET,
    missing_requirement,
    skip_or_fail,
    start_provider,
)


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    """The running provider (issuer URL and signing key)."""
    reason = missing_requirement()
    if reason:
        skip_or_fail(reason)  # a failure under `make test` (OIDC_TESTS_REQUIRED=1)
    provider = start_provider(tmp_path_factory.mktemp("oidc-provider"))
    yield provider
    provider.stop()


@pytest.fixture
def oidc_settings(settings):
    """OpenID Connect on, without a provider yet (tests set OIDC_ISSUER or a discovery URL):
    the test client, scopes with the groups claim, any email domain."""
    forget_provider_info()
    settings.OIDC_ISSUER = ""
    settings.OIDC_DISCOVERY_URL = ""
    settings.OIDC_CLIENT_ID = CLIENT_ID
    settings.OIDC_CLIENT_SECRET = CLIENT_SECRET
    settings.OIDC_SCOPES = "openid email profile groups"
    settings.OIDC_GROUPS_CLAIM = "groups"
    settings.OIDC_ALLOWED_DOMAINS = []
    settings.OIDC_ONLY = False
    settings.OIDC_PROVIDER_NAME = "Test IdP"
    settings.OIDC_TIMEOUT = 5
    yield settings
    forget_provider_info()


@pytest.fixture
def oidc(oidc_settings, oidc_provider):
    """OpenID Connect on, signing in at the real provider."""
    oidc_settings.OIDC_ISSUER = oidc_provider.issuer
    return oidc_provider
