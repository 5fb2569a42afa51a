"""Is this a repository, a branch, a path prplan may write? One answer for
every caller: the request, the command line, the forges and their server.

Each check returns the problems it finds (never raises), naming the field,
so a caller can report every problem at once.
"""

from __future__ import annotations

import re

from prplan.core.gitpaths import is_dotgit
from prplan.edits import encodable
from prplan.errors import Problem

_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: Characters that make a one-line title show other than it is: C1 controls,
#: line and paragraph separators, and bidirectional overrides and isolates.
INVISIBLE_RE = re.compile(r"[\x80-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def repo_problems(field: str, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [Problem(field, f"must be a string 'owner/name', got {type(value).__name__}")]
    parts = value.split("/")
    if len(parts) != 2:
        return [Problem(field, f"{value!r} is not 'owner/name' (e.g. 'acme/deployments')")]
    owner, name = parts
    problems = []
    if not _OWNER_RE.match(owner):
        problems.append(
            Problem(
                field, f"owner {owner!r} must be 1-39 letters, digits or '-', not starting with '-'"
            )
        )
    if not _NAME_RE.match(name) or name in {".", ".."} or name.endswith(".git"):
        problems.append(
            Problem(
                field,
                f"name {name!r} must be 1-100 letters, digits, '.', '_' or '-' (no '.git' suffix)",
            )
        )
    return problems


#: The longest branch name accepted, in UTF-8 bytes: a file name's limit on
#: most file systems (git keeps each ref in a file named after it).
MAX_BRANCH_BYTES = 255


def branch_problems(field: str, value: object) -> list[Problem]:
    """git check-ref-format rules for a branch name (as ``refs/heads/<value>``)."""
    if not isinstance(value, str):
        return [Problem(field, f"must be a string, got {type(value).__name__}")]
    why: str | None = None
    if not value:
        why = "is empty"
    elif not encodable(value):
        why = "is not valid Unicode text"
    elif value.startswith("refs/"):
        why = "give the branch name without 'refs/heads/'"
    elif CONTROL_RE.search(value):
        why = "contains a control character"
    elif any(ch in value for ch in " ~^:?*[\\"):
        why = "contains one of: space ~ ^ : ? * [ \\"
    elif ".." in value:
        why = "contains '..'"
    elif "@{" in value or value == "@":
        why = "contains '@{' or is '@'"
    elif value.startswith("/") or value.endswith("/") or "//" in value:
        why = "has an empty path component (leading, trailing or double '/')"
    elif value.endswith("."):
        why = "ends with '.'"
    elif value.startswith("-"):
        why = "starts with '-'"
    elif any(part.startswith(".") or part.endswith(".lock") for part in value.split("/")):
        why = "has a component starting with '.' or ending with '.lock'"
    elif len(value.encode("utf-8")) > MAX_BRANCH_BYTES:
        # A ref is a file on the forge's disk: longer names cannot be stored.
        why = f"is longer than {MAX_BRANCH_BYTES} bytes"
    if why is None:
        return []
    return [Problem(field, f"{value!r} is not a valid git branch name: {why}")]


def path_problems(field: str, path: object) -> list[Problem]:
    if not isinstance(path, str):
        return [Problem(field, f"paths must be strings, got {type(path).__name__}")]
    why: str | None = None
    if not path:
        why = "is empty"
    elif not encodable(path):
        why = "is not valid Unicode text"
    elif CONTROL_RE.search(path):
        why = "contains a NUL or control character"
    elif "\\" in path:
        why = "contains a backslash; use '/' between directories"
    elif path.startswith("/"):
        why = "is absolute; give it relative to the repository root"
    else:
        parts = path.split("/")
        if any(part == ".." for part in parts):
            why = "contains '..'; paths must stay inside the repository"
        elif any(part in {"", "."} for part in parts):
            why = "is not normalised (empty or '.' component, or trailing '/')"
        elif any(is_dotgit(part) for part in parts):
            why = "has a '.git' component (or a name a file system opens as .git, like git~1); prplan never writes git's own files"
    if why is None:
        return []
    return [Problem(field, f"path {path!r} {why}")]


# --- converters that never raise: bad values are kept for the report --------
