"""Fixtures reach tests through conftests, never through imports.

A fixture imported into a module is a second registration of it (the ``noqa: F401/F811``
that used to mark them): which one a test gets then depends on where it sits. So no module
under tests/ imports from a conftest, and none imports a fixture defined in another module
(let alone another folder); a fixture that several folders use lives in the root conftest,
or in a plugin module that the root conftest alone lists in ``pytest_plugins``. Plain helpers
(factories, constants, fake servers) may be imported from anywhere.
"""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _modules(tests: Path) -> dict[str, Path]:
    """Dotted name -> file, for every module under ``tests``."""
    modules = {}
    for path in sorted(tests.rglob("*.py")):
        parts = path.relative_to(tests.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def _is_fixture(decorator: ast.expr) -> bool:
    """``@pytest.fixture``, ``@pytest.fixture(...)``, ``@fixture`` or ``@fixture(...)``."""
    target = decorator.func if isinstance(decorator, ast.Call) else decorator
    if isinstance(target, ast.Attribute):
        return target.attr == "fixture"
    return isinstance(target, ast.Name) and target.id == "fixture"


def _fixtures(tree: ast.Module) -> set[str]:
    """Names of the fixtures a module defines at its top level."""
    return {
        node.name
        for node in tree.body
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and any(_is_fixture(d) for d in node.decorator_list)
    }


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute dotted name a ``from ... import`` statement reads from."""
    if not node.level:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, path: Path, tree: ast.Module):
    """(line, source module, imported name or None) for every import in a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name, None
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, path, node)
            for alias in node.names:
                yield node.lineno, source, alias.name


def _sets_pytest_plugins(tree: ast.Module):
    for node in tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else ([node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign)) else [])
        )
        if any(isinstance(t, ast.Name) and t.id == "pytest_plugins" for t in targets):
            yield node.lineno


def problems(tests: Path = TESTS) -> list[str]:
    """Every forbidden import (and non-root ``pytest_plugins``) under ``tests``."""
    modules = _modules(tests)
    trees = {
        name: ast.parse(path.read_text(), filename=str(path)) for name, path in modules.items()
    }
    fixtures = {name: _fixtures(tree) for name, tree in trees.items()}
    found = []
    for module, tree in trees.items():
        path = modules[module]
        where = path.relative_to(tests.parent).as_posix()
        for line, source, name in _imports(module, path, tree):
            imported = f"{source}.{name}" if name else source
            if "conftest" in source.split(".") or name == "conftest":
                found.append(f"{where}:{line} imports from a conftest ({imported})")
            elif name and source != module and name in fixtures.get(source, ()):
                folder = modules[source].parent.relative_to(tests.parent).as_posix()
                found.append(
                    f"{where}:{line} imports the fixture {name!r} of {source} "
                    f"({folder}/): put it in a conftest instead"
                )
        if path.name == "conftest.py" and path.parent != tests:
            for line in _sets_pytest_plugins(tree):
                found.append(
                    f"{where}:{line} sets pytest_plugins, which only the root conftest may do"
                )
    return found


def test_no_module_imports_from_a_conftest_or_imports_a_fixture():
    assert problems() == []


def test_the_check_sees_each_forbidden_shape(tmp_path):
    """So that an empty list above means something."""
    tests = tmp_path / "tests"
    (tests / "a").mkdir(parents=True)
    (tests / "b").mkdir()
    for folder in (tests, tests / "a", tests / "b"):
        (folder / "__init__.py").write_text("")
    (tests / "conftest.py").write_text("pytest_plugins = ['tests.a.plugin']\n")
    (tests / "a" / "conftest.py").write_text(
        "import pytest\n\n@pytest.fixture\ndef thing():\n    return 1\n"
    )
    (tests / "a" / "helpers.py").write_text(
        "from pytest import fixture\n\n@fixture()\ndef other():\n    return 2\n\n"
        "def make():\n    return 3\n"
    )
    (tests / "b" / "conftest.py").write_text("pytest_plugins = ['x']\n")
    (tests / "b" / "test_x.py").write_text(
        "from tests.a.conftest import thing\nfrom tests.a import conftest\n"
        "import tests.a.conftest\nfrom tests.a.helpers import make, other\n"
        "def f():\n    from ..a.helpers import other as again\n"
    )
    found = problems(tests)
    assert found == [
        "tests/b/conftest.py:1 sets pytest_plugins, which only the root conftest may do",
        "tests/b/test_x.py:1 imports from a conftest (tests.a.conftest.thing)",
        "tests/b/test_x.py:2 imports from a conftest (tests.a.conftest)",
        "tests/b/test_x.py:3 imports from a conftest (tests.a.conftest)",
        "tests/b/test_x.py:4 imports the fixture 'other' of tests.a.helpers (tests/a/): put "
        "it in a conftest instead",
        "tests/b/test_x.py:6 imports the fixture 'other' of tests.a.helpers (tests/a/): put "
        "it in a conftest instead",
    ]
