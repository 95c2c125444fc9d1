"""Registers the ``fakes`` marker used by the fake-server self-check (no Django needed)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "fakes: self-checks of the local fake provider servers")
