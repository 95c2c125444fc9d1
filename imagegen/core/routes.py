"""Deprecated path aliases: an API path that moved to its canonical form keeps working.

``alias(route, canonical)`` is the one way to declare one, in the app's ``api_urls.py`` beside
the canonical pattern: the old route reaches the very same view function, so it answers
exactly as the canonical path does. It is named after the canonical pattern plus
``ALIAS_SUFFIX``, so ``reverse()`` of the canonical name keeps giving the canonical path.

``mark_deprecated_aliases`` is a drf-spectacular postprocessing hook (registered once in
``SPECTACULAR_SETTINGS``): every operation served through an alias is marked
``deprecated: true`` and its description names the canonical path. Views know nothing of it.
"""

import re

from django.urls import URLPattern, URLResolver, get_resolver, path, resolve
from django.urls.exceptions import Resolver404
from drf_spectacular.drainage import warn

ALIAS_SUFFIX = "-alias"

_PARAMETER = re.compile(r"\{[^}/]+\}")


def alias(route: str, canonical: URLPattern) -> URLPattern:
    """The old ``route`` of the ``canonical`` URL pattern: the same view, a name of its own."""
    pattern = path(route, canonical.callback, name=canonical.name + ALIAS_SUFFIX)
    pattern.alias_of = canonical.name
    return pattern


def aliases(urlconf=None) -> dict[str, str]:
    """{alias URL name: canonical URL name} for every alias in the URLconf."""
    found = {}

    def walk(patterns):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
            elif isinstance(pattern, URLPattern) and hasattr(pattern, "alias_of"):
                found[pattern.name] = pattern.alias_of

    walk(get_resolver(urlconf).url_patterns)
    return found


def _url_name(schema_path: str, urlconf) -> str | None:
    """The URL name that serves a schema path such as ``/api/generations/{id}``."""
    try:  # every path parameter is an int or str converter: "1" fits both
        return resolve(_PARAMETER.sub("1", schema_path), urlconf).url_name
    except Resolver404:
        return None


def mark_deprecated_aliases(result, generator, **kwargs):
    """drf-spectacular postprocessing hook: mark every alias's operations deprecated."""
    canonical_of = aliases(generator.urlconf)
    names = {
        schema_path: _url_name(schema_path, generator.urlconf)
        for schema_path in result.get("paths", {})
    }
    path_of = {name: schema_path for schema_path, name in names.items() if name}
    for schema_path, operations in result.get("paths", {}).items():
        canonical = canonical_of.get(names[schema_path])
        if canonical is None:
            continue
        if canonical not in path_of:
            warn(f"alias {schema_path}: its canonical URL {canonical!r} is not in the schema")
            continue
        for method, operation in operations.items():
            note = (
                f"Deprecated alias of `{method.upper()} {path_of[canonical]}`, kept so "
                f"that old clients keep working; new clients use that path."
            )
            description = operation.get("description")
            operation["description"] = f"{note}\n\n{description}" if description else note
            operation["deprecated"] = True
    return result
