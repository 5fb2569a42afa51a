"""The local forge's server uses the forge's public interface only.

It parses every module of ``prplan.forges.local.server`` and fails on an
attribute access ``x._name`` where ``x`` is not ``self``/``cls`` (a reach into
another object's private members, such as ``forge._git``), and on importing
an underscore name from a module of ``prplan.forges.local``. What the server
needs from the forge has a public, documented name there instead.
"""

from __future__ import annotations

import ast
from pathlib import Path

import prplan.forges.local.server as server

SERVER = Path(server.__file__).parent
MODULES = sorted(SERVER.glob("*.py"))


def _private_reaches(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and node.attr.startswith("_")
            and not (node.attr.startswith("__") and node.attr.endswith("__"))
            and not (isinstance(node.value, ast.Name) and node.value.id in {"self", "cls"})
            and not (isinstance(node.value, ast.Call) and _is_super(node.value))
        ):
            found.append(f"line {node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "prplan.forges.local"
        ):
            found += [
                f"line {node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_")
            ]
    return found


def _is_super(call: ast.Call) -> bool:
    """``super()._hook(...)``: a subclass extending its own base's hook."""
    return isinstance(call.func, ast.Name) and call.func.id == "super"


def test_the_server_modules_are_found() -> None:
    names = {path.name for path in MODULES}
    assert {"app.py", "payloads.py", "routes.py"} <= names


def test_the_server_reaches_into_no_private_member() -> None:
    problems = {
        path.name: found
        for path in MODULES
        if (found := _private_reaches(ast.parse(path.read_text(encoding="utf-8"))))
    }
    assert problems == {}


def test_the_check_catches_a_reach_and_a_private_import() -> None:
    source = (
        "from prplan.forges.local.store import _ForgeLock\n"
        "def f(forge):\n"
        "    return forge._git('a/b'), self._fine, super()._on_update(1, 2, 3)\n"
    )
    found = _private_reaches(ast.parse(source))
    assert sorted(found) == [
        "line 1: from prplan.forges.local.store import _ForgeLock",
        "line 3: forge._git",
    ]


def test_the_raw_git_repository_is_handed_out_only_inside_exclusive() -> None:
    """``git_repository`` bypasses the forge's rules (compare-and-swap,
    pull-request heads): the server may take it only while it is the
    forge's one user, so nothing moves the refs underneath a push."""
    import prplan
    from prplan import errors

    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/app", {"a.txt": "one\n"})
    try:
        forge.git_repository("acme/app")
    except errors.ForgeError as error:
        assert "exclusive()" in str(error)
    else:
        raise AssertionError("git_repository was handed out without the lock")
    with forge.exclusive():
        git = forge.git_repository("acme/app")
        assert git.refs[b"refs/heads/main"] == forge.branch_sha("acme/app", "main").encode()
