"""The layers (CONTRIBUTING.md) hold, and the check that keeps them would catch a break."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("imagegen", "generation", "gallery", "projects", "settings_app", "dashboard", "backups")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(cwd / "pyproject.toml")],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
    )


def test_the_layer_contracts_are_kept():
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def _tree_with(tmp_path: Path, module: str, source: str) -> Path:
    for package in PACKAGES:
        shutil.copytree(
            ROOT / package,
            tmp_path / package,
            ignore=shutil.ignore_patterns("__pycache__", "migrations"),
        )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    (tmp_path / module).write_text(source)
    return tmp_path


def test_an_upward_import_breaks_the_contract(tmp_path):
    # A deferred import inside a function counts as much as one at the top.
    tree = _tree_with(
        tmp_path,
        "projects/_upward.py",
        "def peek():\n    from gallery.models import Image\n    return Image\n",
    )
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "projects is not allowed to import gallery" in result.stdout
    assert "projects._upward -> gallery.models" in result.stdout


def test_an_import_of_an_app_from_the_providers_breaks_the_contract(tmp_path):
    tree = _tree_with(
        tmp_path,
        "imagegen/providers/_upward.py",
        "from settings_app.keys import resolve_api_key  # noqa\n",
    )
    result = _lint_imports(tree)
    assert result.returncode != 0
    assert "imagegen.providers is not allowed to import settings_app" in result.stdout


def _deferred_imports():
    """(path, line, text) of every import inside a function of the project's packages."""
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            lines = path.read_text().splitlines()
            for node in ast.walk(ast.parse("\n".join(lines))):
                if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    continue
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)):
                        yield path.relative_to(ROOT), inner.lineno, lines


def test_every_deferred_import_says_why():
    """Imports inside functions only with a written reason (import time, an optional
    dependency), never to hide a cycle: the comment names the reason with 'deferred'."""
    unexplained = []
    for path, lineno, lines in _deferred_imports():
        nearby = " ".join(lines[max(0, lineno - 3) : lineno]).lower()
        if "deferred" not in nearby:
            unexplained.append(f"{path}:{lineno}: {lines[lineno - 1].strip()}")
    assert not unexplained, "deferred imports without a reason:\n" + "\n".join(unexplained)
