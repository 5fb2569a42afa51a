"""The package's shape, held by tests: the layers' import contracts, the size
of modules and functions, and the pure core's habits.

docs/architecture.md is the map; these tests keep it true.
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "prplan"

MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60

#: Functions allowed to be longer than MAX_FUNCTION_LINES, each with why.
#: Only data shapes belong here, never logic.
LONG_FUNCTIONS: dict[str, str] = {
    "prplan/core/table.py:_rules": "the decision table itself: one row per rule, read top to bottom",
}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _functions(path: Path) -> list[tuple[str, int]]:
    """Every function and method with its qualified name (``Class.method``,
    ``outer.inner``), so an exception names exactly one function."""
    found: list[tuple[str, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    found.append((name, child.end_lineno - child.lineno + 1))  # type: ignore[operator]
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(path.read_text(encoding="utf-8")), "")
    return found


def _name(path: Path) -> str:
    return path.relative_to(SRC).as_posix()


def test_the_import_contracts_hold() -> None:
    """import-linter checks the layers (tools -> cli -> forges -> run -> core
    -> edits -> errors), the pure core and the independent forges, as
    configured in pyproject.toml; a broken contract fails here and in CI."""
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


#: Lines added to a copy of the package, each in its own module, and the
#: chain import-linter must then report (a contract of pyproject.toml each).
_PROBES = {
    "core/states.py": ("from prplan.cli import main as _probe", "prplan.core.states -> prplan.cli"),
    "core/table.py": ("import urllib.request as _probe", "prplan.core.table -> urllib"),
    "core/text.py": ("import os as _probe", "prplan.core.text -> os"),
    "core/names.py": ("import time as _probe", "prplan.core.names -> time"),
    "core/lifecycle.py": ("import asyncio as _probe", "prplan.core.lifecycle -> asyncio"),
    "edits/replace.py": ("import pathlib as _probe", "prplan.edits.replace -> pathlib"),
    "run/outcome.py": ("import prplan.compat as _probe", "prplan.run.outcome -> prplan.compat"),
    "forges/local/trees.py": ("import prplan.forges.github as _probe", "prplan.forges.local.trees -> prplan.forges.github"),
}  # fmt: skip


def test_every_contract_can_fail(tmp_path: Path) -> None:
    """The contracts are not decoration: on a copy of the package where a
    module of each layer imports what its contract forbids (a higher layer,
    a file, clock or network module in the core, the other forge), every
    one of those imports is reported."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "prplan", ignore=shutil.ignore_patterns("__pycache__"))
    for module, (probe, _) in _PROBES.items():
        target = copy / "prplan" / module
        text = target.read_text(encoding="utf-8")
        target.write_text(f"{text}\n{probe}  # noqa\n", encoding="utf-8")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    result = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache", "--no-logo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    reported = " ".join(result.stdout.split())
    missed = [chain for _, chain in _PROBES.values() if chain not in reported]
    assert missed == [], result.stdout


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_module_is_over_the_size_limit(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_MODULE_LINES, (
        f"{_name(path)} has {lines} lines (limit {MAX_MODULE_LINES}): split it by job"
    )


def test_no_function_is_over_the_size_limit() -> None:
    too_long = {
        f"{_name(path)}:{name}": lines
        for path in _modules()
        for name, lines in _functions(path)
        if lines > MAX_FUNCTION_LINES
    }
    unexplained = {name: n for name, n in too_long.items() if name not in LONG_FUNCTIONS}
    assert unexplained == {}, f"functions over {MAX_FUNCTION_LINES} lines: {unexplained}"
    # An exception that is no longer needed is removed from the list.
    assert set(LONG_FUNCTIONS) <= set(too_long), set(LONG_FUNCTIONS) - set(too_long)


@pytest.mark.parametrize("layer", ["core", "edits"])
def test_the_pure_layers_import_at_the_top(layer: str) -> None:
    """An import of prplan's own modules inside a function hides a cycle
    from whoever reads the module's head; the pure layers have no reason for
    one. (A library imported late to keep start-up fast is fine: the
    contracts see those imports wherever they stand.)"""
    hidden = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                hidden += [
                    f"{_name(path)}:{inner.lineno}"
                    for inner in ast.walk(node)
                    if _imports_prplan(inner)
                ]
    assert hidden == []


def _imports_prplan(node: ast.AST) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level > 0 or (node.module or "").split(".")[0] == "prplan"
    if isinstance(node, ast.Import):
        return any(alias.name.split(".")[0] == "prplan" for alias in node.names)
    return False


#: Calls that reach a module or the file system without an import statement
#: import-linter could see.
_DYNAMIC = {"import_module", "__import__", "exec", "eval"}
_FILE_ACCESS = {"open", "read_text", "write_text", "read_bytes", "write_bytes", "unlink", "mkdir"}


def _calls(tree: ast.AST, names: set[str]) -> list[int]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name in names:
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("path", _modules(), ids=_name)
def test_no_module_imports_by_name_at_run_time(path: Path) -> None:
    """``importlib.import_module("prplan.cli")`` or ``__import__`` would
    cross a layer where import-linter cannot see it."""
    assert _calls(ast.parse(path.read_text(encoding="utf-8")), _DYNAMIC) == []


@pytest.mark.parametrize("layer", ["core", "edits"])
def test_the_pure_layers_touch_no_file(layer: str) -> None:
    """``open()`` needs no import: the import contracts cannot see it."""
    found = {
        _name(path): lines
        for path in sorted((PACKAGE / layer).rglob("*.py"))
        if (lines := _calls(ast.parse(path.read_text(encoding="utf-8")), _FILE_ACCESS))
    }
    assert found == {}


def test_the_scans_see_what_they_look_for() -> None:
    probe = ast.parse(
        "import importlib\n"
        "m = importlib.import_module('prplan.cli')\n"
        "def f():\n    return __import__('prplan.run')\n"
        "open('x').read()\n"
        "p.write_text('x')\n"
    )
    assert sorted(_calls(probe, _DYNAMIC)) == [2, 4]
    assert sorted(_calls(probe, _FILE_ACCESS)) == [5, 6]


def test_the_late_import_check_sees_prplan_imports() -> None:
    function = ast.parse("def f():\n    from prplan.run import observe\n    import json\n")
    found = [n for n in ast.walk(function) if _imports_prplan(n)]
    assert len(found) == 1


def test_ci_runs_the_linters_and_the_suite() -> None:
    """The issue's bar: `make lint` (ruff, mypy --strict, the import
    contracts) and the suite both pass in CI, in that order."""
    steps = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip().startswith("make ")
    ]
    assert steps == ["make lint", "make test"]
