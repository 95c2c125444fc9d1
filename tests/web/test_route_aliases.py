"""One routing layout: old API paths kept as deprecated aliases of their canonical paths, and
each app's page and API routes in their own modules (imagegen/urls.py)."""

import importlib
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse
from drf_spectacular.generators import SchemaGenerator
from rest_framework.views import APIView

from imagegen import urls as root_urls
from imagegen.core.routes import ALIAS_SUFFIX, aliases
from tests.generation.helpers import make_generation

APPS = ("generation", "gallery", "projects", "dashboard", "settings_app", "backups")


@dataclass(frozen=True)
class Alias:
    old: str  # the old path, with {pk} for the id
    canonical: str  # the canonical path
    name: str  # the canonical URL name; the alias's is name + ALIAS_SUFFIX
    method: str  # the representative call
    expect: int


ALIASES = [
    Alias("/api/generation/{pk}", "/api/generations/{pk}", "api-generation", "get", 200),
    Alias(
        "/api/generation/cancel/{pk}",
        "/api/generations/{pk}/cancel",
        "api-generation-cancel",
        "post",
        200,
    ),
]


def test_the_table_lists_every_alias_in_the_urlconf():
    assert aliases() == {a.name + ALIAS_SUFFIX: a.name for a in ALIASES}


@pytest.mark.parametrize("entry", ALIASES, ids=lambda a: a.old)
def test_old_and_canonical_path_resolve_to_the_same_view(entry):
    old, canonical = entry.old.format(pk=7), entry.canonical.format(pk=7)
    assert resolve(old).func is resolve(canonical).func
    assert resolve(old).kwargs == resolve(canonical).kwargs == {"pk": 7}
    assert resolve(old).url_name == entry.name + ALIAS_SUFFIX
    # reverse() of the existing name gives the canonical path; the alias has its own name.
    assert reverse(entry.name, kwargs={"pk": 7}) == canonical
    assert reverse(entry.name + ALIAS_SUFFIX, kwargs={"pk": 7}) == old


@pytest.mark.django_db
@pytest.mark.parametrize("entry", ALIASES, ids=lambda a: a.old)
def test_old_and_canonical_path_answer_the_same(entry, owner, owner_api):
    answers = []
    for template in (entry.old, entry.canonical):
        generation = make_generation(owner)  # a fresh one each: cancel changes it
        response = getattr(owner_api, entry.method)(template.format(pk=generation.pk))
        answers.append((response.status_code, sorted(response.json())))  # status, fields
    assert answers[0][0] == entry.expect
    assert answers[0] == answers[1]


def _schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_marks_every_alias_deprecated_and_no_canonical_path():
    paths = _schema()["paths"]
    for entry in ALIASES:
        old = entry.old.replace("{pk}", "{id}")
        canonical = entry.canonical.replace("{pk}", "{id}")
        method = entry.method
        assert paths[old][method]["deprecated"] is True
        assert f"{method.upper()} {canonical}`" in paths[old][method]["description"]
        assert not paths[canonical][method].get("deprecated")
        # Apart from the marking, the same operation.
        unmarked = {
            k: v
            for k, v in paths[old][method].items()
            if k not in ("deprecated", "description", "operationId")
        }
        assert unmarked == {
            k: v
            for k, v in paths[canonical][method].items()
            if k not in ("description", "operationId")
        }
    old_paths = {entry.old.replace("{pk}", "{id}") for entry in ALIASES}
    deprecated = {p for p, item in paths.items() for op in item.values() if op.get("deprecated")}
    assert deprecated == old_paths
    ids = [op["operationId"] for item in paths.values() for op in item.values()]
    assert len(ids) == len(set(ids))


# --- The layout ------------------------------------------------------------------------------


def _is_api_view(callback) -> bool:
    return issubclass(getattr(callback, "view_class", object), APIView)


def _patterns(module_name: str) -> list[URLPattern]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError:
        return []
    found = []

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            else:
                found.append(pattern)

    walk(module.urlpatterns)
    return found


@pytest.mark.parametrize("app", APPS)
def test_an_apps_urls_has_only_pages_and_its_api_urls_only_api_routes(app):
    pages = [str(p.pattern) for p in _patterns(f"{app}.urls") if _is_api_view(p.callback)]
    assert not pages, f"API routes in {app}/urls.py: {pages}"
    api = [str(p.pattern) for p in _patterns(f"{app}.api_urls") if not _is_api_view(p.callback)]
    assert not api, f"page routes in {app}/api_urls.py: {api}"


def test_the_file_routes_are_only_files():
    patterns = _patterns("gallery.file_urls")
    assert patterns and all(str(p.pattern).startswith("files/") for p in patterns)


def test_the_root_urlconf_includes_each_route_module_once():
    included = [
        (str(p.pattern), getattr(p.urlconf_name, "__name__", None))
        for p in root_urls.urlpatterns
        if isinstance(p, URLResolver)
    ]
    names = [name for _, name in included]
    for app in APPS:
        for module, prefix in ((f"{app}.urls", ""), (f"{app}.api_urls", "api/")):
            if _patterns(module):
                assert included.count((prefix, module)) == 1, module
                assert names.count(module) == 1, module
    # Declared inline: only the API's front door (links), the schema and its docs under
    # api/, no API routes.
    inline_api = sorted(
        p.name
        for p in root_urls.urlpatterns
        if isinstance(p, URLPattern) and str(p.pattern).startswith("api/")
    )
    assert inline_api == ["api-docs", "api-root", "api-schema"]


def test_every_api_route_is_a_drf_view_and_every_page_route_is_not():
    def walk(resolver, prefix):
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern, route)
            else:
                yield route, pattern

    for route, pattern in walk(get_resolver(), ""):
        if route.startswith(("admin/", "api-auth/", "api/schema/", "api/docs/")):
            continue
        if route.startswith(("api/", "files/")):
            assert _is_api_view(pattern.callback), route
        else:
            assert not _is_api_view(pattern.callback), route


def test_no_route_module_is_left_over():
    root = Path(__file__).resolve().parents[2]
    assert not (root / "generation" / "prompts" / "urls.py").exists()
    import gallery.download_views

    assert not hasattr(gallery.download_views, "api_patterns")
