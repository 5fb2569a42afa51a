"""The ``ForgeClient`` protocol: everything prplan asks of a forge.

Like resolvelib's provider, each method states its contract and its cost in
requests on GitHub's REST API (the in-process ``LocalForge`` costs none).
Reads never change anything. Writes are compare-and-swap where the forge
allows it and raise prplan's errors: ``ConflictError`` when a branch was not
where the caller said, ``MergeBlocked`` when a merge is refused,
``NotFoundError`` / ``ForgeError`` otherwise.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, Protocol, runtime_checkable

import attrs

from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.core.pull_text import PullText
from prplan.core.request import MergeMethod
from prplan.core.snapshot import CommitInfo, MergeArmed, PathEntry, PullRequestInfo
from prplan.core.writer import Writer

__all__ = [
    "Branch",
    "Comparison",
    "ForgeClient",
    "MetadataClient",
    "PullTextClient",
    "WriterClient",
    "RequestCount",
    "RequestTally",
    "WriteIdentity",
    "counting_requests",
    "record_request",
]


@attrs.frozen(kw_only=True)
class Comparison:
    """How ``head`` relates to ``base``: ``status`` is GitHub's word
    (identical | ahead | behind | diverged); ``commits`` are head's commits
    that base lacks, oldest first; ``complete`` is False when the forge
    listed only some of them."""

    status: str
    ahead_by: int
    behind_by: int
    commits: tuple[CommitInfo, ...] = ()
    complete: bool = True
    merge_base_sha: str | None = None
    #: every path that differs between the merge base and head (a rename
    #: names both paths); ``files_complete`` is False when the forge listed
    #: only some of them (GitHub stops at 300)
    files: tuple[str, ...] = ()
    files_complete: bool = True


@attrs.frozen(kw_only=True)
class Branch:
    """A branch as the forge reports it: its head, and whether the forge
    protects it (GitHub's ``protected``)."""

    sha: str
    protected: bool = False


@attrs.frozen(kw_only=True)
class RequestCount:
    reads: int = 0
    writes: int = 0

    def __sub__(self, other: RequestCount) -> RequestCount:
        return RequestCount(reads=self.reads - other.reads, writes=self.writes - other.writes)

    def __add__(self, other: RequestCount) -> RequestCount:
        return RequestCount(reads=self.reads + other.reads, writes=self.writes + other.writes)


@attrs.define
class RequestTally:
    """Requests one thread made while ``counting_requests`` was open. A
    client's ``request_count()`` is shared by every thread using it, so it
    cannot say which of several concurrent observations made which request;
    this can."""

    reads: int = 0
    writes: int = 0

    @property
    def count(self) -> RequestCount:
        return RequestCount(reads=self.reads, writes=self.writes)


_open_tallies = threading.local()


@contextlib.contextmanager
def counting_requests() -> Iterator[RequestTally]:
    """Tally the requests this thread makes inside the block (blocks nest:
    each open tally counts). Forge clients report through ``record_request``."""
    stack: list[RequestTally] = _open_tallies.__dict__.setdefault("stack", [])
    tally = RequestTally()
    stack.append(tally)
    try:
        yield tally
    finally:
        stack.remove(tally)


def record_request(kind: Literal["reads", "writes"]) -> None:
    """Called by a forge client for every request it makes (in the thread
    that makes it)."""
    for tally in getattr(_open_tallies, "stack", ()):
        setattr(tally, kind, getattr(tally, kind) + 1)


@runtime_checkable
class ForgeClient(Protocol):
    # --- reads ---------------------------------------------------------------
    def default_branch(self, repo: str) -> str:
        """The repository's default branch. NotFoundError if no such
        repository. Cost: 1 request."""

    def branch_sha(self, repo: str, branch: str) -> str | None:
        """The commit a branch points at, or None if it does not exist.
        Cost: 1 request."""

    def branch(self, repo: str, branch: str) -> Branch | None:
        """The branch's head and protection, or None if it does not exist.
        Cost: 1 request."""

    def pull_requests_for(self, repo: str, head: str, base: str) -> Sequence[PullRequestInfo]:
        """Every pull request (open, closed, merged) from ``head`` (a branch
        of this repository) into ``base``, lowest number first. Cost: 1
        request per 100 pull requests."""

    def pull_requests_from(self, repo: str, head: str) -> Sequence[PullRequestInfo]:
        """Every pull request (open, closed, merged) from ``head`` into any
        base, lowest number first. Cost: 1 request per 100 pull requests."""

    def open_pull_requests_into(self, repo: str, base: str) -> Sequence[PullRequestInfo]:
        """The open pull requests whose base is ``base`` (at most the first
        100: enough to tell whether the branch is in use). Cost: 1 request."""

    def path_entries(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> Mapping[str, PathEntry]:
        """For each path, what that commit's tree holds there (absent, file,
        executable, symlink, directory, submodule, under a file) and its
        blob sha when it is a file, classified by ``entry_for``. Cost: 1
        request (one recursive tree), whatever the number of paths."""

    def compare(self, repo: str, base_sha: str, head_sha: str) -> Comparison:
        """How ``head_sha`` relates to ``base_sha``. Cost: 1 request (GitHub
        lists at most 250 commits; beyond that ``complete`` is False)."""

    def read_files(
        self, repo: str, commit_sha: str, paths: Sequence[str]
    ) -> Mapping[str, bytes | None]:
        """The content of each path in that commit (None: absent), for the
        files a request edits. Cost: 1 request per path (2 for a file over
        1 MB on GitHub)."""

    def read_blob(self, repo: str, sha: str) -> bytes:
        """A blob's content. Cost: 1 request. Used only where content is
        needed (diffs, structured edits), never to compare."""

    def request_count(self) -> RequestCount:
        """Requests made so far by this client (reads, writes)."""

    def pull_request_gate(self, repo: str, number: int) -> PullRequestInfo:
        """The pull request as it is now (open, closed or merged), with its
        merge gate filled in for an open one: ``gate``, ``failing_checks``,
        ``pending_checks`` (required checks only) and ``armed`` (auto-merge
        on, or in the merge queue, whoever armed it), mapped from GitHub's
        words by ``prplan.core.gates.gate_from_github``. NotFoundError if no
        such pull request. Cost: 1 request (GraphQL); none inside an
        observation over GraphQL (the observe query carries it)."""

    def viewer_login(self) -> str | None:
        """The login this client's token acts as (what GitHub names as the
        one who enabled an auto-merge prplan enabled), or None when the forge
        does not say. Cost: none over GraphQL inside an observation (the
        observe query reads ``viewer``) and on the local forge; otherwise 1
        request (REST ``GET /user``), once per client."""

    def merge_queue_enabled(self, repo: str, branch: str) -> bool:
        """Merges into ``branch`` go through a merge queue (GraphQL
        ``Repository.mergeQueue(branch:)``). Cost: 1 request; none inside an
        observation over GraphQL."""

    # --- writes --------------------------------------------------------------
    def create_branch(self, repo: str, branch: str, sha: str) -> None:
        """Create ``branch`` at ``sha``. ConflictError if it exists. Cost: 1."""

    def reset_branch(self, repo: str, branch: str, sha: str, *, expected_sha: str) -> None:
        """Point ``branch`` at ``sha`` (not necessarily a fast-forward), only
        if it is still at ``expected_sha``; else ConflictError. Cost: 1-2."""

    def commit_files(
        self,
        repo: str,
        branch: str,
        *,
        parent_sha: str,
        files: Mapping[str, bytes | None],
        message: str,
        create: bool = False,
        reset_from: str | None = None,
        author: str | None = None,
    ) -> str:
        """One commit on ``parent_sha`` writing (bytes) or deleting (None)
        each path, then point ``branch`` at it, compare-and-swap:

        * by default the branch must still be at ``parent_sha`` (a
          fast-forward);
        * ``create=True``: the branch must not exist; it is created at the
          new commit (a plan's CreateBranch and Commit in one write);
        * ``reset_from=SHA``: the branch must still be at SHA; it is moved to
          the new commit (a plan's ResetBranch and Commit in one write).

        ``author`` (``Name <email>``; the executor passes it only when a
        plan names one): the commit's author instead of the token's identity
        (a REST commit on GitHub, under both transports: GitHub signs none).

        Otherwise ConflictError, and the branch is unchanged. Returns the new
        commit's sha. Cost: 3 requests (tree, commit, ref; 4 with
        ``reset_from``: the ref is read first) plus 1 per binary file."""

    def create_pull_request(
        self, repo: str, *, head: str, base: str, title: str, body: str, draft: bool = False
    ) -> PullRequestInfo:
        """Open a pull request (``draft``: as a draft; the executor passes
        it only when True). ConflictError if one is already open for
        head/base. Cost: 1."""

    def merge_pull_request(
        self, repo: str, number: int, *, method: str, expected_head_sha: str
    ) -> str:
        """Merge only if the pull request's head is ``expected_head_sha``
        (else ConflictError); MergeBlocked if the forge will not merge.
        Returns the merge commit's sha. Cost: 1."""

    def delete_branch(self, repo: str, branch: str, *, expected_sha: str | None = None) -> None:
        """Delete a branch (never the default one), only while its head is
        ``expected_sha`` when given (else ConflictError, the branch stays).
        Cost: 1 (over REST, whose DELETE names no sha, one read more when
        ``expected_sha`` is given: the window between is one round trip)."""

    # GitHub has no REST for the two below: both transports send GraphQL.
    # What they return is not used (the local forge answers more).
    def enable_auto_merge(
        self, repo: str, number: int, *, method: MergeMethod, expected_head_sha: str
    ) -> object:
        """Turn on GitHub's native auto-merge (merged with ``method`` once the
        gate is clean), only while the head is ``expected_head_sha`` (else
        ConflictError). MergeBlocked when the forge refuses because of the
        gate; ForgeError otherwise (e.g. the repository does not allow
        auto-merge: its setting "Allow auto-merge"). Cost: 1."""

    def disarm_merge(self, repo: str, number: int, *, armed: MergeArmed) -> None:
        """Turn off the pull request's merge: its native auto-merge
        (``armed`` ``auto_merge``: GraphQL ``disablePullRequestAutoMerge``) or
        its merge queue entry (``queued``: ``dequeuePullRequest``). Cost: 1
        (plus a small query for the pull request's node id when the client
        has not seen it)."""

    def enqueue(self, repo: str, number: int, *, expected_head_sha: str) -> object:
        """Add the pull request to its base's merge queue (the queue chooses
        the merge method), only while the head is ``expected_head_sha``
        (else ConflictError). MergeBlocked when the forge refuses because of
        the gate; ForgeError otherwise. Cost: 1."""


@runtime_checkable
class MetadataClient(Protocol):
    """Pull-request metadata (labels, assignees, reviewers, milestone,
    draft): what a forge client implements for requests that name some.
    Writes only add (nothing a human set is removed). Each write is one
    request, every list in one request."""

    def pull_request_metadata(self, repo: str, number: int, *, reviews: bool) -> PullMetadata:
        """The pull request's labels, assignees, requested reviewers and
        teams, milestone title and draft state; with ``reviews``, also the
        logins who reviewed it. Cost: REST 0 after listing the pull requests
        (from their JSON; else 1), plus 1 with ``reviews``; GraphQL none
        inside an observation (the observe query carries it)."""

    def milestones(self, repo: str) -> Sequence[Milestone]:
        """The repository's milestones (open and closed). Cost: 1 per 100;
        none inside an observation over GraphQL."""

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        """Add labels (a label the repository lacks is created). Cost: 1."""

    def add_assignees(self, repo: str, number: int, assignees: Sequence[str]) -> None:
        """Add assignees. Cost: 1."""

    def request_reviewers(
        self, repo: str, number: int, *, reviewers: Sequence[str], team_reviewers: Sequence[str]
    ) -> None:
        """Request reviews from users and teams (team slugs), one request.
        Cost: 1."""

    def set_milestone(self, repo: str, number: int, milestone: int) -> None:
        """Set the milestone (by number). Cost: 1."""

    def mark_ready_for_review(self, repo: str, number: int) -> None:
        """Mark a draft ready for review (GitHub: GraphQL only). Cost: 1
        (2 over REST: the pull request's node id is read first)."""


@runtime_checkable
class PullTextClient(Protocol):
    """A pull request's title and body, and closing one with a comment:
    what a forge client implements for ``update_pr`` and
    ``close_superseded`` (see ``prplan.core.pr_text``)."""

    def pull_request_text(self, repo: str, number: int) -> PullText:
        """The pull request's title and body. Cost: 1 request (REST
        ``GET /pulls/{n}``; none when the listing of the pull requests just
        read it)."""

    def update_pull_request(self, repo: str, number: int, *, title: str, body: str) -> None:
        """Rewrite the title and body (REST ``PATCH /pulls/{n}``). Cost: 1."""

    def close_pull_request(self, repo: str, number: int, *, comment: str) -> None:
        """Comment ``comment`` on the pull request (REST ``POST
        /issues/{n}/comments``), then close it (``PATCH /pulls/{n}``,
        ``state=closed``). Cost: 2."""


@runtime_checkable
class WriterClient(Protocol):
    """What a forge client may state of its writes, for the plan (see
    ``prplan.core.writer``). Optional: a client without it states nothing."""

    def writer(self) -> Writer:
        """Who this client's commits and pull requests are attributed to and
        whether GitHub signs its commits. Read once per client: over GraphQL
        the observe query's ``viewer`` (``viewer_login``'s reading); over
        REST ``GET /user`` (1 request, the first time); an App's client its
        bot (``GET /app``, read once already). A login that cannot be read
        is None, never a failure."""


@runtime_checkable
class WriteIdentity(Protocol):
    """What a forge client may also tell, for the audit trail: who the forge
    said wrote, in its answer to a write. Optional: a client without it
    leaves ``ActionResult.actor`` empty."""

    def write_identity(self) -> str | None:
        """The identity named in the forge's answer to this thread's last
        ``commit_files`` or ``create_pull_request`` (the commit's committer
        as ``Name <email>``, the pull request's author's login), or None
        when that answer named no one. Never a request: it is read from the
        answer already received (per thread, as change sets write from
        several)."""
