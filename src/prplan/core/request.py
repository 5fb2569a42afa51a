"""What a user asks for: ``ChangeRequest`` and its choices.

``ChangeRequest`` validates on construction and reports *every* problem with
the field it belongs to (attrs validators stop at the first failure, so the
checks run together in ``__attrs_post_init__`` instead).
"""

from __future__ import annotations

import contextlib
import enum
import hashlib
import json
from collections.abc import Mapping
from typing import Any

import attrs

from prplan.core.names import (
    CONTROL_RE,
    INVISIBLE_RE,
    branch_problems,
    path_problems,
    repo_problems,
)
from prplan.core.pr_metadata import has_metadata, metadata_problems, names
from prplan.core.pull_text import HUMAN_LINE, MARKER_PREFIX
from prplan.core.snapshot import OMIT_IF_DEFAULT, git_blob_sha
from prplan.core.writer import person_duplicates, person_problems
from prplan.edits import edit_problems, edit_to_dict, encodable, is_edit
from prplan.errors import InvalidRequestError, Problem

#: half-way through a change.
MAX_FILE_BYTES = 100 * 1024 * 1024

_OMIT = {OMIT_IF_DEFAULT: True}


class MergeMethod(enum.StrEnum):
    MERGE = "merge"
    SQUASH = "squash"
    REBASE = "rebase"


class MergeWhen(enum.StrEnum):
    """When ``automerge`` merges (meaningless without it)."""

    #: merge now if the gate is clean; otherwise enable GitHub's native
    #: auto-merge, or enqueue where base has a merge queue
    AUTO = "auto"
    NOW = "now"  # merge now, or stop (``merge_blocked`` / ``MergeBlocked``)
    WAIT = "wait"  # as auto, then wait until merged, failed or wait_timeout


#: ``wait_timeout``'s default: 30 minutes, in seconds.
DEFAULT_WAIT_TIMEOUT = 1800.0

_DURATION_UNITS = {"s": 1, "m": 60, "h": 3600}


def parse_duration(text: str) -> float:
    """Seconds from ``"30m"``, ``"90s"``, ``"1h"``, ``"1800"`` (seconds) or
    ``"1.5h"``. Raises ``ValueError`` saying what is accepted."""
    raw = text.strip().lower()
    unit = raw[-1:] if raw[-1:] in _DURATION_UNITS else "s"
    number = raw[:-1] if raw[-1:] in _DURATION_UNITS else raw
    try:
        seconds = float(number) * _DURATION_UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(
            f"{text!r} is not a duration: give a positive number of seconds, or one with "
            "a unit, e.g. 90s, 30m, 1h"
        )
    return seconds


def _seconds(value: object) -> object:
    """An int or float as a float (so the plan document holds one form);
    anything else is kept for ``request_problems`` to report."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


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


def _lenient(kind: type[enum.StrEnum], value: object) -> object:
    try:
        return kind(str(value)) if isinstance(value, str) else value
    except ValueError:
        return value


def _merge_method(value: object) -> Any:
    return _lenient(MergeMethod, value)


def _merge_when(value: object) -> Any:
    return _lenient(MergeWhen, value)


def _on_closed(value: object) -> Any:
    return _lenient(OnClosed, value)


def _branch_policy(value: object) -> Any:
    return _lenient(BranchPolicy, value)


def _people(value: object) -> object:
    """A list of ``Name <email>`` as a tuple (one string: a tuple of one);
    anything else is kept for ``request_problems`` to report."""
    if isinstance(value, str):
        return (value,)
    return tuple(value) if isinstance(value, list | tuple) else value


def _files(value: object) -> object:
    """Sort by path, encode text as UTF-8, and make edits a tuple (one edit
    or a list of them). Anything else is kept as it is for
    ``__attrs_post_init__`` to report."""
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
    #: when ``automerge`` merges: now if the gate is clean, else by GitHub's
    #: auto-merge or merge queue (auto); now or refuse (now); as auto, then
    #: wait for the merge (wait). Left out of the plan document at default.
    merge_when: MergeWhen = attrs.field(
        default=MergeWhen.AUTO, converter=_merge_when, metadata={OMIT_IF_DEFAULT: True}
    )
    #: how long ``merge_when='wait'`` waits, in seconds
    wait_timeout: float = attrs.field(
        default=DEFAULT_WAIT_TIMEOUT, converter=_seconds, metadata={OMIT_IF_DEFAULT: True}
    )
    #: pull-request metadata (see docs/concepts.md): added to a new pull
    #: request, and what is missing of it to an open one; never removed.
    #: Left out of the plan document at their defaults.
    labels: tuple[str, ...] = attrs.field(default=(), converter=names, metadata=_OMIT)
    assignees: tuple[str, ...] = attrs.field(default=(), converter=names, metadata=_OMIT)
    reviewers: tuple[str, ...] = attrs.field(default=(), converter=names, metadata=_OMIT)
    #: team slugs, or org/slug
    team_reviewers: tuple[str, ...] = attrs.field(default=(), converter=names, metadata=_OMIT)
    #: None: leave an open pull request's draft state alone (a new one is
    #: not a draft); True: open a new one as a draft (an open one is never
    #: converted); False: mark an open draft ready for review
    draft: bool | None = attrs.field(default=None, metadata=_OMIT)
    #: a milestone's title, looked up in the repository
    milestone: str | None = attrs.field(default=None, metadata=_OMIT)
    #: rewrite the title and body of prplan's own open pull request (its
    #: marker names this request) when they differ from the request's
    update_pr: bool = attrs.field(default=False, metadata=_OMIT)
    #: close prplan's own open pull request (and delete its branch with
    #: ``delete_branch``) when base already holds the requested content
    close_superseded: bool = attrs.field(default=False, metadata=_OMIT)
    #: ``Name <email>`` each: ``Co-authored-by:`` trailers in the commit
    #: message (the author and GitHub's signature are unchanged)
    co_authors: tuple[str, ...] = attrs.field(default=(), converter=_people, metadata=_OMIT)
    #: ``Name <email>``: the commit's author instead of the token's identity.
    #: GitHub signs no commit with a custom author: the plan says so
    author: str | None = attrs.field(default=None, metadata=_OMIT)

    def __attrs_post_init__(self) -> None:
        problems = request_problems(self)
        if problems:
            raise InvalidRequestError(problems)

    @property
    def has_metadata(self) -> bool:
        """The request names some pull-request metadata."""
        return has_metadata(self)

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
    return [edit_to_dict(edit) for edit in content]  # type: ignore[attr-defined]


_ENUM_FIELDS: tuple[tuple[str, type[enum.StrEnum]], ...] = (
    ("merge_method", MergeMethod),
    ("on_closed", OnClosed),
    ("branch_policy", BranchPolicy),
    ("merge_when", MergeWhen),
)
_BOOL_FIELDS = (
    "create_pr",
    "automerge",
    "allow_modification",
    "delete_branch",
    "merge_foreign_commits",
    "update_pr",
    "close_superseded",
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
        elif not encodable(value):
            problems.append(Problem(name, "is not valid Unicode text (a lone surrogate?)"))
    problems += _pull_request_text_problems(request)
    problems += _wait_timeout_problems(request.wait_timeout)
    problems += metadata_problems(request)
    problems += _people_problems(request)
    return problems


def _people_problems(request: ChangeRequest) -> list[Problem]:
    co_authors: object = request.co_authors
    if not isinstance(co_authors, tuple):
        return [Problem("co_authors", "must be a list of 'Name <email>'")]
    problems = [p for i, c in enumerate(co_authors) for p in person_problems(f"co_authors[{i}]", c)]
    if request.author is not None:
        problems += person_problems("author", request.author)
    return problems or person_duplicates(co_authors, request.author)


def _wait_timeout_problems(value: object) -> list[Problem]:
    if isinstance(value, float) and 0 < value < float("inf"):
        return []
    return [
        Problem(
            "wait_timeout",
            f"{value!r} is not a positive number of seconds: give e.g. 1800, "
            "or on the command line --wait-timeout 30m",
        )
    ]


#: GitHub's limits on a pull request's title and body (in characters). Past
#: them GitHub answers 422 only when the pull request is opened: after the
#: commit was pushed, so they are refused with the rest of the request.
MAX_TITLE_CHARS = 256
MAX_BODY_CHARS = 65536


def _pull_request_text_problems(request: ChangeRequest) -> list[Problem]:
    problems: list[Problem] = []
    title, body = request.title, request.body
    if isinstance(title, str) and "\x00" not in title:
        if CONTROL_RE.search(title) or INVISIBLE_RE.search(title):
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
    return problems + _marker_problems(request)


def _marker_problems(request: ChangeRequest) -> list[Problem]:
    """prplan's own hidden lines in a title or body would make prplan read
    its pull request wrongly (a marker above its own, a human's line)."""
    problems = []
    for name in ("title", "body"):
        value = getattr(request, name)
        if not isinstance(value, str):
            continue
        for kind, text in (("marker", MARKER_PREFIX), ("human-notes line", HUMAN_LINE)):
            if text in value:
                problems.append(
                    Problem(name, f"contains prplan's {kind} {text!r}, which prplan writes itself "
                            "into the body of its pull request: remove it (to show it, write it "
                            "differently, e.g. with '&lt;' for '<')")
                )  # fmt: skip
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
