"""Every URL against every role, from the registry in tests/security/matrix.py."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.security.matrix import REGISTRY, ROLES

SNAPSHOT_APPS = (
    "gallery",
    "generation",
    "projects",
    "settings_app",
    "dashboard",
    "knox",
    "auth",
    "django_q",
)
VOLATILE_FIELDS = {"last_login"}  # signing a test client in writes it


def exposed_urls() -> dict[str, str]:
    """{registry key: route} for every URL pattern, walked recursively; the key is the
    namespaced name, or the full route for an unnamed pattern."""
    found = {}

    def walk(resolver, prefix, namespaces):
        for pattern in resolver.url_patterns:
            if isinstance(pattern, URLResolver):
                ns = namespaces + ((pattern.namespace,) if pattern.namespace else ())
                walk(pattern, prefix + str(pattern.pattern), ns)
            elif isinstance(pattern, URLPattern):
                route = prefix + str(pattern.pattern)
                key = ":".join(namespaces + (pattern.name,)) if pattern.name else route
                found[key] = route

    walk(get_resolver(), "", ())
    return found


def test_every_exposed_url_has_a_matrix_entry():
    missing = sorted(set(exposed_urls()) - set(REGISTRY))
    assert not missing, f"URLs without an entry in tests/security/matrix.py: {missing}"


def test_every_matrix_entry_names_an_existing_url():
    gone = sorted(set(REGISTRY) - set(exposed_urls()))
    assert not gone, f"entries in tests/security/matrix.py for URLs that no longer exist: {gone}"


def test_the_matrix_covers_a_url_added_later(settings):
    """The coverage check is live: a URL added to the URLconf shows up as missing."""
    from django.urls import clear_url_caches, path

    from imagegen import urls as root

    extra = path("sneaky/", lambda request: None, name="sneaky")
    root.urlpatterns.append(extra)
    clear_url_caches()
    try:
        assert "sneaky" in set(exposed_urls()) - set(REGISTRY)
    finally:
        root.urlpatterns.remove(extra)
        clear_url_caches()


def build_path(key: str, kwargs: dict) -> str:
    """The URL for a registry key: reversed by name, or filled in for an unnamed route."""
    route = exposed_urls()[key]
    if key != route:
        return reverse(key, kwargs=kwargs or None)
    if "(?P<url>" in route:
        return "/" + route.split("(?P<url>")[0] + kwargs["url"]
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(kwargs[m.group(1)]), route)


def snapshot(storage_dir: Path) -> dict:
    """Every row of the project's tables (and the auth and job tables) plus the stored
    files: what a refused request must leave exactly as it was."""
    rows = {}
    for app in SNAPSHOT_APPS:
        for model in apps.get_app_config(app).get_models(include_auto_created=True):
            if model._meta.proxy:
                continue
            names = [
                f.attname for f in model._meta.concrete_fields if f.attname not in VOLATILE_FIELDS
            ]
            rows[model._meta.label] = list(
                model._default_manager.order_by("pk").values_list(*names)
            )
    files = (
        sorted(str(p.relative_to(storage_dir)) for p in storage_dir.rglob("*") if p.is_file())
        if storage_dir.exists()
        else []
    )
    return {"rows": rows, "files": files}


def request(client: Client, case, path: str, world):
    data = case.payload(world)
    url = f"{path}?{case.query}" if case.query else path
    method = getattr(client, case.method.lower())
    if case.method == "GET":
        return method(url)
    if data is None:
        return method(url)
    if case.form:
        if case.method == "POST":
            return method(url, data)
        from urllib.parse import urlencode

        return method(url, urlencode(data), content_type="application/x-www-form-urlencoded")
    return method(url, data, content_type="application/json")


CASES = [
    pytest.param(key, index, id=f"{key}-{case.method}-{index}")
    for key, entry in REGISTRY.items()
    for index, case in enumerate(entry.cases)
]


@pytest.mark.parametrize(("key", "index"), CASES)
def test_permission_matrix(key, index, world, isolated_storage):
    """Each role gets the registered status; a role that may not write changes nothing."""
    from django.db import transaction

    entry = REGISTRY[key]
    case = entry.cases[index]
    kwargs = (case.kwargs or entry.kwargs)(world)
    path = build_path(key, kwargs)
    wrong = []
    for role in ROLES:
        client = Client()
        user = world.user(role)
        expected = case.status_for(role, world)
        with transaction.atomic():
            if user is not None:
                client.force_login(user)
            before = None if case.may_write(role, world) else snapshot(isolated_storage)
            response = request(client, case, path, world)
            if response.status_code != expected:
                wrong.append(f"{role}: {response.status_code} (expected {expected})")
            elif before is not None and snapshot(isolated_storage) != before:
                wrong.append(f"{role}: a refused request changed data")
            transaction.set_rollback(True)
    assert not wrong, f"{case.method} {path}: " + "; ".join(wrong)
