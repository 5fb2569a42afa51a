"""Value types: what a user asks for, and what prplan saw in a repository.

Everything here is a frozen attrs class built with keyword arguments.
``ChangeRequest`` validates on construction and reports *every* problem with
the field it belongs to (attrs validators stop at the first failure, so the
checks run together in ``__attrs_post_init__`` instead).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from prplan.core.gitpaths import is_dotgit
from prplan.edits import encodable as _encodable
from prplan.errors import InvalidRequestError, Problem

__all__ = [
    "MergeMethod",
    "OnClosed",
    "BranchPolicy",
    "ChangeRequest",
    "PullRequestInfo",
    "CommitInfo",
    "RepoSnapshot",
    "git_blob_sha",
    "seal_message",
    "sealed_tree",
    "PathKind",
    "PathEntry",
    "entry_for",
    "MAX_FILE_BYTES",
    "TRAILER",
    "TREE_TRAILER",
]

#: The commit-message trailer prplan writes in every commit it makes. A branch
#: whose commits beyond base all carry it holds nothing a human would lose if
#: prplan resets it.
TRAILER = "Prplan-Request"

#: The trailer that seals a commit as prplan's: the tree the commit wrote,
#: computed before the commit is made. A commit counts as prplan's only when
#: it carries both trailers and its real tree is the one named, so a human
#: who amends prplan's commit (same message, other content) makes it foreign.
TREE_TRAILER = "Prplan-Tree"

#: GitHub rejects blobs over 100 MiB; refuse before any write rather than
#: half-way through a change.
MAX_FILE_BYTES = 100 * 1024 * 1024


class MergeMethod(enum.StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class OnClosed(enum.StrEnum):
    """What to do when the latest pull request for the branch was closed
    without being merged (a human said no, at least once)."""

    NEW = "new"  # open a new pull request anyway
    SKIP = "skip"  # do nothing, say so in a note
    FAIL = "fail"  # refuse: a human should decide


class BranchPolicy(enum.StrEnum):
    """What to do with a head branch that holds commits prplan did not make
    and no pull request preserves."""

    SAFE = "safe"  # refuse, listing the commits
    RESET = "reset"  # reset it to base anyway, listing what is dropped


def git_blob_sha(content: bytes) -> str:
    """The git object id of a blob with this content, computed locally: the
    way prplan compares desired content with a repository without reading it."""
    header = b"blob %d\0" % len(content)
    return hashlib.sha1(header + content, usedforsecurity=False).hexdigest()


def _trailers(message: str) -> dict[str, str]:
    """The trailers of a commit message: only the last paragraph counts, as
    for git's own trailers."""
    last = message.strip().rsplit("\n\n", 1)[-1]
    out: dict[str, str] = {}
    for line in last.splitlines():
        key, sep, value = line.partition(": ")
        if sep:
            out.setdefault(key, value.strip())
    return out


_SHA_RE = re.compile(r"^[0-9a-f]{40}$")


def sealed_tree(message: str) -> str:
    """The tree a prplan commit names in its ``Prplan-Tree`` trailer, or ""
    when the message is not a sealed prplan message."""
    trailers = _trailers(message)
    tree = trailers.get(TREE_TRAILER, "")
    return tree if TRAILER in trailers and _SHA_RE.match(tree) else ""


def seal_message(message: str, tree_sha: str) -> str:
    """The message as committed: the plan's message with the tree trailer
    added to its trailer paragraph. Forge clients call it once they know the
    tree the commit will have (before the commit exists)."""
    return f"{message.rstrip()}\n{TREE_TRAILER}: {tree_sha}\n"


class PathKind(enum.StrEnum):
    """What a repository holds at a requested path."""

    ABSENT = "absent"
    FILE = "file"
    EXECUTABLE = "executable"
    SYMLINK = "symlink"
    DIRECTORY = "directory"
    SUBMODULE = "submodule"
    #: some parent of the path is a file, a symlink or a submodule
    UNDER_FILE = "under_file"

    @property
    def is_file(self) -> bool:
        """A blob prplan may compare and rewrite (a symlink's blob is its target)."""
        return self in {PathKind.FILE, PathKind.EXECUTABLE, PathKind.SYMLINK}


@attrs.frozen(kw_only=True)
class PathEntry:
    """A requested path as found in one commit's tree: its kind, and its blob
    sha when it is a file (``None`` otherwise). ``detail`` names what is in
    the way for ``UNDER_FILE`` (e.g. ``"run.sh is a file"``)."""

    kind: PathKind
    sha: str | None = None
    detail: str = ""


_DIR, _LINK, _GITLINK, _EXEC = 0o040000, 0o120000, 0o160000, 0o100755


def _kind_of_mode(mode: int) -> PathKind:
    if mode == _DIR:
        return PathKind.DIRECTORY
    if mode == _GITLINK:
        return PathKind.SUBMODULE
    if mode == _LINK:
        return PathKind.SYMLINK
    return PathKind.EXECUTABLE if mode == _EXEC else PathKind.FILE


def entry_for(lookup: Callable[[str], tuple[int, str] | None], path: str) -> PathEntry:
    """Classify ``path`` from a tree lookup (``lookup(p)`` gives the git mode
    and object sha at ``p``, or ``None`` when nothing is there). Every forge
    client classifies through this one function, so they cannot disagree."""
    parts = path.split("/")
    for depth in range(1, len(parts)):
        parent = "/".join(parts[:depth])
        found = lookup(parent)
        if found is None:
            return PathEntry(kind=PathKind.ABSENT)
        kind = _kind_of_mode(found[0])
        if kind is not PathKind.DIRECTORY:
            return PathEntry(kind=PathKind.UNDER_FILE, detail=f"{parent} is a {kind.value}")
    found = lookup(path)
    if found is None:
        return PathEntry(kind=PathKind.ABSENT)
    kind = _kind_of_mode(found[0])
    return PathEntry(kind=kind, sha=found[1] if kind.is_file else None)


# --- validation helpers ----------------------------------------------------

_OWNER_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$")
_NAME_RE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: Characters that make a one-line title show other than it is: C1 controls,
#: line and paragraph separators, and bidirectional overrides and isolates.
_INVISIBLE_RE = re.compile(r"[\x80-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")


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
    elif not _encodable(value):
        why = "is not valid Unicode text"
    elif value.startswith("refs/"):
        why = "give the branch name without 'refs/heads/'"
    elif _CONTROL_RE.search(value):
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
    elif not _encodable(path):
        why = "is not valid Unicode text"
    elif _CONTROL_RE.search(path):
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


def _lenient(kind: type[enum.StrEnum], value: object) -> object:
    try:
        return kind(str(value)) if isinstance(value, str) else value
    except ValueError:
        return value


def _merge_method(value: object) -> Any:
    return _lenient(MergeMethod, value)


def _on_closed(value: object) -> Any:
    return _lenient(OnClosed, value)


def _branch_policy(value: object) -> Any:
    return _lenient(BranchPolicy, value)


def _files(value: object) -> object:
    """Sort by path, encode text as UTF-8, and make edits a tuple (one edit
    or a list of them). Anything else is kept as it is for
    ``__attrs_post_init__`` to report."""
    from prplan.edits import is_edit

    if not isinstance(value, Mapping):
        return value
    out: dict[object, object] = {}
    for path in sorted(value, key=str):
        content = value[path]
        if is_edit(content):
            content = (content,)
        elif isinstance(content, list | tuple) and content and all(is_edit(e) for e in content):
            content = tuple(content)
        if isinstance(content, str):
            # A lone surrogate cannot be encoded: kept as str, reported below.
            with contextlib.suppress(UnicodeEncodeError):
                content = content.encode("utf-8")
        out[path] = content
    return out


@attrs.frozen(kw_only=True)
class ChangeRequest:
    """What should be true: these files, in ``repo`` on ``base``, via
    ``branch`` (and a pull request when ``create_pr``).

    ``files`` maps a repository path to its desired content (bytes, or str
    stored as UTF-8) or to ``None`` to delete it. ``base=None`` means the
    repository's default branch.
    """

    repo: str
    branch: str
    #: path -> bytes (write), None (delete), or a tuple of edits of the
    #: current file (``YamlSet``, ``JsonSet``, ``Replace``...)
    files: Mapping[str, bytes | tuple[Any, ...] | None] = attrs.field(converter=_files)
    base: str | None = None
    create_pr: bool = True
    automerge: bool = False
    allow_modification: bool = True
    title: str = ""
    body: str = ""
    commit_message: str = ""
    merge_method: MergeMethod = attrs.field(default=MergeMethod.MERGE, converter=_merge_method)
    on_closed: OnClosed = attrs.field(default=OnClosed.NEW, converter=_on_closed)
    branch_policy: BranchPolicy = attrs.field(default=BranchPolicy.SAFE, converter=_branch_policy)
    delete_branch: bool = False
    #: merge even when the head holds commits prplan did not make (they are
    #: listed in the plan); off, such a merge is refused
    merge_foreign_commits: bool = False

    def __attrs_post_init__(self) -> None:
        problems = request_problems(self)
        if problems:
            raise InvalidRequestError(problems)

    @property
    def pr_title(self) -> str:
        return self.title or f"prplan: update {self.branch}"

    @property
    def edited_paths(self) -> list[str]:
        return [path for path, content in self.files.items() if isinstance(content, tuple)]

    @property
    def request_id(self) -> str:
        """A short, stable id for this request (written as the commit trailer).
        Two requests with the same target and content have the same id."""
        ident = {
            "repo": self.repo,
            "branch": self.branch,
            "base": self.base,
            "files": {p: _identity(c) for p, c in self.files.items()},
        }
        canonical = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]

    def desired_blob_shas(self) -> dict[str, str | None]:
        """Blob shas of the desired contents; only for requests without edits
        (the planner resolves edits into contents first)."""
        assert not self.edited_paths, "resolve the edits first"
        return {p: None if c is None else git_blob_sha(c) for p, c in self.files.items()}  # type: ignore[arg-type]


def _identity(content: object) -> object:
    if content is None:
        return None
    if isinstance(content, bytes):
        return git_blob_sha(content)
    from prplan.edits import edit_to_dict

    return [edit_to_dict(edit) for edit in content]  # type: ignore[attr-defined]


_ENUM_FIELDS: tuple[tuple[str, type[enum.StrEnum]], ...] = (
    ("merge_method", MergeMethod),
    ("on_closed", OnClosed),
    ("branch_policy", BranchPolicy),
)
_BOOL_FIELDS = (
    "create_pr",
    "automerge",
    "allow_modification",
    "delete_branch",
    "merge_foreign_commits",
)
_TEXT_FIELDS = ("title", "body", "commit_message")


def request_problems(request: ChangeRequest) -> list[Problem]:
    problems = repo_problems("repo", request.repo)
    problems += branch_problems("branch", request.branch)
    if request.base is not None:
        problems += branch_problems("base", request.base)
    files: object = request.files
    if not isinstance(files, Mapping):
        problems.append(Problem("files", "must be a mapping of repository path to content"))
    elif not files:
        problems.append(Problem("files", "is empty: name at least one file to write or delete"))
    else:
        from prplan.edits import edit_problems

        for path, content in files.items():
            problems += path_problems(f"files[{path!r}]", path)
            if isinstance(content, tuple):
                for edit in content:
                    problems += edit_problems(edit, f"files[{path!r}]")
            elif isinstance(content, str):
                problems.append(
                    Problem(
                        f"files[{path!r}]", "text cannot be encoded as UTF-8; pass bytes instead"
                    )
                )
            elif content is not None and not isinstance(content, bytes):
                problems.append(
                    Problem(
                        f"files[{path!r}]",
                        f"content must be bytes, str, None (delete) or edits, got {type(content).__name__}",
                    )
                )
            elif content is not None and len(content) > MAX_FILE_BYTES:
                problems.append(
                    Problem(
                        f"files[{path!r}]",
                        f"is {len(content)} bytes; GitHub refuses files over 100 MiB (use Git LFS)",
                    )
                )
        paths = [p for p in files if isinstance(p, str)]
        problems += _path_prefix_problems(paths)
    for name, kind in _ENUM_FIELDS:
        value = getattr(request, name)
        if not isinstance(value, kind):
            allowed = " | ".join(m.value for m in kind)
            problems.append(Problem(name, f"{value!r} is not one of: {allowed}"))
    for name in _BOOL_FIELDS:
        if not isinstance(getattr(request, name), bool):
            problems.append(Problem(name, "must be True or False"))
    for name in _TEXT_FIELDS:
        value = getattr(request, name)
        if not isinstance(value, str):
            problems.append(Problem(name, "must be a string"))
        elif "\x00" in value:
            problems.append(Problem(name, "contains a NUL character"))
        elif not _encodable(value):
            problems.append(Problem(name, "is not valid Unicode text (a lone surrogate?)"))
    problems += _pull_request_text_problems(request)
    return problems


#: GitHub's limits on a pull request's title and body (in characters). Past
#: them GitHub answers 422 only when the pull request is opened: after the
#: commit was pushed, so they are refused with the rest of the request.
MAX_TITLE_CHARS = 256
MAX_BODY_CHARS = 65536


def _pull_request_text_problems(request: ChangeRequest) -> list[Problem]:
    problems: list[Problem] = []
    title, body = request.title, request.body
    if isinstance(title, str) and "\x00" not in title:
        if _CONTROL_RE.search(title) or _INVISIBLE_RE.search(title):
            problems.append(
                Problem("title", f"{title!r} contains a control character (a newline?); "
                        "a pull request title is one line")
            )  # fmt: skip
        elif len(title) > MAX_TITLE_CHARS:
            problems.append(
                Problem("title", f"is {len(title)} characters; GitHub allows at most {MAX_TITLE_CHARS}")
            )  # fmt: skip
        elif not title and isinstance(request.branch, str):
            default = request.pr_title
            if len(default) > MAX_TITLE_CHARS:
                problems.append(
                    Problem("title", f"the default title ('prplan: update <branch>') is {len(default)} "
                            f"characters; GitHub allows at most {MAX_TITLE_CHARS}: give a shorter title")
                )  # fmt: skip
    if isinstance(body, str) and len(body) > MAX_BODY_CHARS:
        problems.append(
            Problem("body", f"is {len(body)} characters; GitHub allows at most {MAX_BODY_CHARS}")
        )
    return problems


def _path_prefix_problems(paths: list[str]) -> list[Problem]:
    """A path cannot be both a file and a directory in one tree."""
    as_set = set(paths)
    problems = []
    for path in paths:
        parts = path.split("/")
        for i in range(1, len(parts)):
            prefix = "/".join(parts[:i])
            if prefix in as_set:
                problems.append(
                    Problem(
                        f"files[{path!r}]", f"is inside {prefix!r}, which is also given as a file"
                    )
                )
                break
    return problems


# --- what was observed ------------------------------------------------------


@attrs.frozen(kw_only=True)
class PullRequestInfo:
    """A pull request as the forge reports it."""

    number: int
    state: str  # "open" | "closed" (GitHub's two states)
    merged: bool
    head_branch: str
    base_branch: str
    head_sha: str
    title: str = ""
    url: str = ""
    merge_sha: str | None = None

    @property
    def is_open(self) -> bool:
        return self.state == "open"


@attrs.frozen(kw_only=True)
class CommitInfo:
    """A commit on the head branch beyond base: enough to tell whether prplan
    made it and to name it when refusing.

    ``by_prplan`` is derived, never reported: the commit must carry prplan's
    trailers and its real tree (``tree_sha``) must be the tree its
    ``Prplan-Tree`` trailer names (``sealed_tree``). A trailer alone is text
    anyone can copy; an amended commit keeps the text but not the tree."""

    sha: str
    summary: str
    author: str
    tree_sha: str = ""
    #: the tree named by the message's Prplan-Tree trailer ("" if none)
    sealed_tree: str = ""

    @property
    def by_prplan(self) -> bool:
        return bool(self.sealed_tree) and self.sealed_tree == self.tree_sha

    @classmethod
    def from_message(cls, *, sha: str, message: str, author: str, tree_sha: str) -> CommitInfo:
        return cls(
            sha=sha,
            summary=message.split("\n", 1)[0],
            author=author,
            tree_sha=tree_sha,
            sealed_tree=sealed_tree(message),
        )


@attrs.frozen(kw_only=True)
class RepoSnapshot:
    """What ``observe`` saw: every fact the planner may use, nothing else.

    Blob maps hold, for each requested path, its git blob sha on that side or
    ``None`` when the path is absent there.
    """

    repo: str
    default_branch: str
    base: str
    base_sha: str
    branch: str
    branch_sha: str | None
    pull_requests: tuple[PullRequestInfo, ...] = ()
    base_blobs: Mapping[str, str | None] = attrs.field(factory=dict)
    branch_blobs: Mapping[str, str | None] = attrs.field(factory=dict)
    #: branch contains base (base is an ancestor of, or equal to, the branch)
    branch_contains_base: bool = False
    #: the branch is an ancestor of (or equal to) base: nothing of its own
    branch_in_base: bool = False
    #: commits on the branch that base does not have, oldest first
    commits_beyond_base: tuple[CommitInfo, ...] = ()
    #: False when the forge listed only part of them (GitHub stops at 250)
    commits_complete: bool = True
    #: current contents of the paths the request edits (None: absent), on
    #: base and, when a pull request is open, on the branch: edits apply to them
    base_contents: Mapping[str, bytes | None] = attrs.field(factory=dict)
    branch_contents: Mapping[str, bytes | None] = attrs.field(factory=dict)
    #: blobs of the requested paths at the merge base of branch and base,
    #: read only when an open pull request's branch does not contain base
    #: (otherwise the merge base is base itself and this stays empty)
    merge_base_blobs: Mapping[str, str | None] | None = None
    #: what each requested path is on base and on the branch (absent, file,
    #: directory, submodule, under a file...); the blob maps above hold a sha
    #: only for files
    base_kinds: Mapping[str, PathKind] = attrs.field(factory=dict)
    branch_kinds: Mapping[str, PathKind] = attrs.field(factory=dict)
    #: the forge reports the head branch as protected (GitHub's ``protected``)
    branch_protected: bool = False
    #: open pull requests from the head branch into *other* bases, and open
    #: pull requests *into* the head branch: either makes the branch in use
    other_pull_requests: tuple[PullRequestInfo, ...] = ()
    pull_requests_into_branch: tuple[PullRequestInfo, ...] = ()
    #: every path that differs between the merge base and the branch head
    #: (what merging the branch as it is would change on base)
    paths_beyond_base: tuple[str, ...] = ()
    paths_complete: bool = True
    #: blob shas (None: not a file there) of those paths, other than the
    #: requested ones, on base and at the branch head: what a merge brings
    brought_on_base: Mapping[str, str | None] = attrs.field(factory=dict)
    brought_on_branch: Mapping[str, str | None] = attrs.field(factory=dict)
