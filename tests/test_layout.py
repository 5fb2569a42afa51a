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
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [
        (node.name, node.end_lineno - node.lineno + 1)  # type: ignore[operator]
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    ]


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


def test_a_broken_contract_is_reported(tmp_path: Path) -> None:
    """The contracts can fail: the same configuration on a copy of the
    package where the core imports the command line is refused."""
    copy = tmp_path / "src"
    shutil.copytree(PACKAGE, copy / "prplan", ignore=shutil.ignore_patterns("__pycache__"))
    states = copy / "prplan" / "core" / "states.py"
    states.write_text(
        states.read_text(encoding="utf-8") + "\nfrom prplan.cli import main as _probe  # noqa\n",
        encoding="utf-8",
    )
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache", "--no-logo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode != 0
    assert "prplan.core is not allowed to import prplan.cli" in result.stdout


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


def test_the_late_import_check_sees_prplan_imports() -> None:
    function = ast.parse("def f():\n    from prplan.run import observe\n    import json\n")
    found = [n for n in ast.walk(function) if _imports_prplan(n)]
    assert len(found) == 1
