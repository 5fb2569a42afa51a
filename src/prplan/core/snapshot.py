"""What prplan saw in a repository: pull requests, commits, path entries and
the snapshot the planner decides on, plus the commit seal that tells
prplan's own commits from anyone else's.

Every class is a frozen attrs class built with keyword arguments; the forge
clients fill them, the planner only reads them.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Callable, Mapping

import attrs

from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.core.pull_text import PullText
from prplan.core.writer import Writer

#: The commit-message trailer prplan writes in every commit it makes. A branch
#: whose commits beyond base all carry it holds nothing a human would lose if
#: prplan resets it.
TRAILER = "Prplan-Request"

#: The trailer that seals a commit as prplan's: the tree the commit wrote,
#: computed before the commit is made. A commit counts as prplan's only when
#: it carries both trailers and its real tree is the one named, so a human
#: who amends prplan's commit (same message, other content) makes it foreign.
TREE_TRAILER = "Prplan-Tree"


#: Field metadata: the field is left out of a plan document while it has its
#: default, so a document written before the field existed keeps its digest
#: and its bytes (``plan_json`` reads it; defined here, below every value
#: that carries it).
OMIT_IF_DEFAULT = "prplan_omit_if_default"


class Gate(enum.StrEnum):
    """What stands between an open pull request and its merge, as GitHub
    reports it (``gates.gate_from_github`` maps GitHub's words to these)."""

    CLEAN = "clean"  # mergeable now
    PENDING = "pending"  # required checks running or not reported yet
    FAILING = "failing"  # a required check failed or errored
    NEEDS_REVIEW = "needs_review"  # approving reviews missing
    BEHIND = "behind"  # strict checks: the branch must contain base's head
    CONFLICT = "conflict"  # the branch conflicts with base
    DRAFT = "draft"  # a human marked the pull request as not ready


class MergeArmed(enum.StrEnum):
    """Whether a merge is already on its way for an open pull request,
    whoever armed it."""

    NONE = "none"
    AUTO_MERGE = "auto_merge"  # GitHub's native auto-merge is enabled
    QUEUED = "queued"  # the pull request is in the merge queue


#: The metadata of a field left out of the plan document at its default.
_OMITTED = {OMIT_IF_DEFAULT: True}


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
    #: the gate of an open pull request (CLEAN for a closed one)
    gate: Gate = attrs.field(default=Gate.CLEAN, metadata=_OMITTED)
    #: required checks that failed or errored / are pending or expected
    failing_checks: tuple[str, ...] = attrs.field(default=(), metadata=_OMITTED)
    pending_checks: tuple[str, ...] = attrs.field(default=(), metadata=_OMITTED)
    #: auto-merge enabled or in the merge queue, by anyone
    armed: MergeArmed = attrs.field(default=MergeArmed.NONE, metadata=_OMITTED)
    #: the login that armed it (GitHub's ``enabledBy`` of auto-merge, the
    #: queue entry's ``enqueuer``); None when nothing is armed or the forge
    #: named no one
    armed_by: str | None = attrs.field(default=None, metadata=_OMITTED)

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
    #: base is merged into through a merge queue (pull requests are enqueued)
    merge_queue: bool = attrs.field(default=False, metadata=_OMITTED)
    #: the forge reports base as protected (GitHub's ``protected``: branch
    #: protection or a ruleset): under ``merge_when`` auto/wait the executor
    #: arms GitHub's merge first there, so an admin's token never merges past
    #: the gate
    base_protected: bool = attrs.field(default=False, metadata=_OMITTED)
    #: the open pull request's labels, assignees, reviewers, milestone and
    #: draft state: read only when the request names metadata
    pr_metadata: PullMetadata | None = attrs.field(default=None, metadata=_OMITTED)
    #: the repository's open milestones: read only when the request names one
    milestones: tuple[Milestone, ...] | None = attrs.field(default=None, metadata=_OMITTED)
    #: the login prplan's token acts as: read only when an open pull request
    #: is armed (to tell prplan's own arming from someone else's), else None
    viewer: str | None = attrs.field(default=None, metadata=_OMITTED)
    #: the open pull request's title and body (its marker tells whether it
    #: is prplan's own): read only when the request says ``update_pr`` or
    #: ``close_superseded``
    pr_text: PullText | None = attrs.field(default=None, metadata=_OMITTED)
    #: who the forge client's writes are attributed to and whether GitHub
    #: signs its commits, as the client states it (None: it states nothing)
    #: (a fact of the client, not of the repository: left out of equality,
    #: so two transports' snapshots of one repository compare equal)
    writer: Writer | None = attrs.field(default=None, eq=False, metadata=_OMITTED)
