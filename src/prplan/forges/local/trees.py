"""What an entry of a tree to create may be: git's modes and paths.

A tree the REST server is asked to create is checked here, entry by entry,
before anything is stored: the path must be one git would check out, the
mode one of git's five, content only for a file. These are pure checks on
values, shared by the forge (``gitdata``) and the server's request parsing.
"""

from __future__ import annotations

import re

import attrs

from prplan import errors
from prplan.core.gitpaths import is_dotgit, is_dotgitmodules
from prplan.forges.local.store import EXECUTABLE, FILE_MODE

__all__ = [
    "GIT_MODES",
    "HEX_SHA",
    "TreeInput",
    "tree_input_problems",
    "tree_path_problem",
]


@attrs.frozen
class TreeInput:
    """One entry of a tree to create: ``content`` (bytes) or an existing
    object's ``sha``; neither means delete the path."""

    path: str
    mode: int = FILE_MODE
    sha: str | None = None
    content: bytes | None = None


#: The modes git (and GitHub's tree API) allow, and the object each names.
DIRECTORY, GITLINK, SYMLINK = 0o040000, 0o160000, 0o120000
GIT_MODES = {FILE_MODE: "blob", EXECUTABLE: "blob", SYMLINK: "blob", DIRECTORY: "tree",
             GITLINK: "commit"}  # fmt: skip
HEX_SHA = re.compile(r"[0-9a-f]{40}")


def tree_path_problem(path: str) -> str | None:
    """Why git would refuse ``path`` in a tree (``git fsck``, ``verify_path``):
    an empty, ``.`` or ``..`` component (so no leading, trailing or double
    ``/``), a component some file system opens as ``.git`` (``.GIT``,
    ``.git.``, ``git~1``...: see ``prplan.core.gitpaths``), a NUL, or text that is not
    UTF-8. None if it is fine. Backslashes, spaces and newlines are legal
    in git paths on the platforms the forge runs on, so they are kept."""
    if not path:
        return "is empty"
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid Unicode text"
    if "\x00" in path:
        return "contains a NUL"
    parts = path.split("/")
    if any(part == "" for part in parts):
        return "has an empty component (a leading, trailing or double '/')"
    if any(part in {".", ".."} for part in parts):
        return "has a '.' or '..' component; give it relative to the tree's root, normalised"
    if any(is_dotgit(part) for part in parts):
        return (
            "has a component that a file system opens as '.git' (.git in any case, "
            "with trailing dots or spaces, git~1), which git refuses to check out"
        )
    return None


def tree_input_problems(index: int, entry: TreeInput) -> list[errors.Problem]:
    """What is wrong with one entry of a tree to create, on its own."""
    where = f"tree[{index}]"
    problems = []
    why = tree_path_problem(entry.path)
    if why is not None:
        problems.append(errors.Problem(f"{where}.path", f"{entry.path!r} {why}"))
    kind = GIT_MODES.get(entry.mode)
    if kind is None:
        problems.append(
            errors.Problem(
                f"{where}.mode",
                f"{entry.mode:o} is not one of 100644, 100755, 120000, 040000, 160000",
            )
        )
    if why is None and entry.mode == SYMLINK and is_dotgitmodules(entry.path.split("/")[-1]):
        problems.append(
            errors.Problem(
                f"{where}.path",
                f"{entry.path!r} is .gitmodules as a symbolic link, which git refuses",
            )
        )
    if entry.content is not None and entry.sha is not None:
        problems.append(errors.Problem(where, "give either sha or content, not both"))
    elif entry.content is not None and kind not in {None, "blob"}:
        problems.append(
            errors.Problem(
                f"{where}.content", f"content makes a file; mode {entry.mode:06o} is a {kind}"
            )
        )
    if entry.sha is not None and not HEX_SHA.fullmatch(entry.sha):
        problems.append(errors.Problem(f"{where}.sha", f"{entry.sha!r} is not a 40-hex object id"))
    return problems
