"""Pytest plugin modules, registered once by the root conftest (``pytest_plugins``)."""
