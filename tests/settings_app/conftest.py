import pytest

from tests.settings_app.helpers import install_keyed, uninstall_keyed


@pytest.fixture
def keyed():
    """The keyed test provider, registered for this test only."""
    provider = install_keyed()
    yield provider
    uninstall_keyed()


@pytest.fixture
def no_env_keys(monkeypatch):
    """No single-user environment keys leak in from the developer's shell."""
    from settings_app.keys import ENVIRONMENT_KEYS

    for variable in ENVIRONMENT_KEYS.values():
        monkeypatch.delenv(variable, raising=False)
