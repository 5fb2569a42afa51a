"""What a plan is made of: its actions, its refusal, the contents its
edits resolved to, and what a reviewer's diffs start from.

Plain frozen values with no behaviour beyond reading themselves. They sit
below the plan, its JSON form and its redaction, which all need them.
"""

from __future__ import annotations

import attrs

from prplan.core.snapshot import OMIT_IF_DEFAULT, CommitInfo, MergeArmed
from prplan.core.states import ActionKind, RefusalCode

#: omitted from plan JSON at its default: plans without it keep their digest
_OMITTED = {OMIT_IF_DEFAULT: True}

__all__ = [
    "FileChange",
    "CreateBranch",
    "ResetBranch",
    "Commit",
    "CreatePullRequest",
    "MergePullRequest",
    "EnableAutoMerge",
    "Enqueue",
    "MergeAction",
    "MERGE_ACTIONS",
    "DisarmMerge",
    "DeleteBranch",
    "ClosePullRequest",
    "UpdatePullRequest",
    "AddLabels",
    "AddAssignees",
    "RequestReviewers",
    "SetMilestone",
    "MarkReadyForReview",
    "MetadataAction",
    "METADATA_ACTIONS",
    "Action",
    "Refusal",
    "ResolvedFile",
    "Blob",
    "BroughtFile",
    "Review",
]


@attrs.frozen(kw_only=True)
class FileChange:
    """One path in a commit: its blob before and after (``None``: absent)."""

    path: str
    old_sha: str | None
    new_sha: str | None

    @property
    def change(self) -> str:
        if self.old_sha is None:
            return "add"
        if self.new_sha is None:
            return "delete"
        return "modify"


@attrs.frozen(kw_only=True)
class CreateBranch:
    """Make the branch at ``sha`` (base's head when the plan was made)."""

    kind = ActionKind.CREATE_BRANCH
    branch: str
    sha: str
    reason: str


@attrs.frozen(kw_only=True)
class ResetBranch:
    """Point an existing branch back at base; ``dropped`` names the commits
    that leave the branch (each either prplan's, or preserved elsewhere,
    unless the request said ``branch_policy='reset'``)."""

    kind = ActionKind.RESET_BRANCH
    branch: str
    from_sha: str
    to_sha: str
    dropped: tuple[CommitInfo, ...] = ()
    reason: str


@attrs.frozen(kw_only=True)
class Commit:
    """One commit of every changed path on ``branch``, whose head must be
    ``parent_sha`` when it is made (compare-and-swap)."""

    kind = ActionKind.COMMIT
    branch: str
    parent_sha: str
    files: tuple[FileChange, ...]
    message: str
    reason: str
    #: ``Name <email>``: a custom author (the request's ``author``); None:
    #: the token's identity. Left out of the document when None
    author: str | None = attrs.field(default=None, metadata=_OMITTED)


@attrs.frozen(kw_only=True)
class CreatePullRequest:
    """Open a pull request from ``head`` into ``base``."""

    kind = ActionKind.CREATE_PULL_REQUEST
    head: str
    base: str
    title: str
    body: str
    reason: str
    #: open it as a draft (left out of the document when False)
    draft: bool = attrs.field(default=False, metadata={OMIT_IF_DEFAULT: True})


@attrs.frozen(kw_only=True)
class MergePullRequest:
    """Merge a pull request only if its head is still the expected commit.

    ``number=None``: the pull request this plan opens. ``expected_head_sha=None``:
    the commit this plan makes (its sha is only known once made)."""

    kind = ActionKind.MERGE_PULL_REQUEST
    number: int | None
    expected_head_sha: str | None
    method: str
    reason: str
    #: what the merge brings into base besides this plan's own commit: the
    #: head's commits beyond base (prplan's or not), oldest first
    brings_commits: tuple[CommitInfo, ...] = ()
    #: every path the merge changes on base (this plan's commit included),
    #: sorted; ``brings_complete`` is False when the forge listed only some
    brings_paths: tuple[str, ...] = ()
    brings_complete: bool = True


@attrs.frozen(kw_only=True)
class EnableAutoMerge:
    """Turn on GitHub's native auto-merge for the pull request (``number``
    None: the one this plan opens), only while its head is the expected
    commit (None: this plan's commit): GitHub merges it with ``method`` once
    its gate is clean. What the merge brings is listed as for a merge."""

    kind = ActionKind.ENABLE_AUTO_MERGE
    number: int | None
    expected_head_sha: str | None
    method: str
    reason: str
    brings_commits: tuple[CommitInfo, ...] = ()
    brings_paths: tuple[str, ...] = ()
    brings_complete: bool = True


@attrs.frozen(kw_only=True)
class Enqueue:
    """Add the pull request to base's merge queue, only while its head is
    the expected commit. No merge method is sent: the queue decides."""

    kind = ActionKind.ENQUEUE
    number: int | None
    expected_head_sha: str | None
    reason: str
    brings_commits: tuple[CommitInfo, ...] = ()
    brings_paths: tuple[str, ...] = ()
    brings_complete: bool = True


@attrs.frozen(kw_only=True)
class DisarmMerge:
    """Turn off the merge prplan armed on pull request ``number``: its
    auto-merge (``armed`` ``auto_merge``) or its merge queue entry
    (``queued``). Only ever prplan's own arming (``armed_by`` is the login
    prplan acts as), never one someone else made."""

    kind = ActionKind.DISARM_MERGE
    number: int
    armed: MergeArmed
    armed_by: str
    reason: str


@attrs.frozen(kw_only=True)
class DeleteBranch:
    """Remove the branch once its pull request is merged, only while its head
    is ``expected_sha``: the head observed, for a branch whose pull request
    was merged earlier; ``None``, after this plan's merge: the head that
    merge merged (known when it ran). A commit pushed since is never
    deleted with the branch."""

    kind = ActionKind.DELETE_BRANCH
    branch: str
    reason: str
    expected_sha: str | None = attrs.field(default=None, metadata=_OMITTED)


@attrs.frozen(kw_only=True)
class ClosePullRequest:
    """Close prplan's own open pull request ``number``, first commenting
    ``comment`` on it (why it is closed): base already holds the change."""

    kind = ActionKind.CLOSE_PULL_REQUEST
    number: int
    comment: str
    reason: str


@attrs.frozen(kw_only=True)
class UpdatePullRequest:
    """Rewrite the title and body of prplan's own open pull request. ``body``
    is the request's body: the executor adds prplan's marker and keeps a
    human's text below prplan's line (neither is part of the plan)."""

    kind = ActionKind.UPDATE_PULL_REQUEST
    number: int
    title: str
    body: str
    reason: str


@attrs.frozen(kw_only=True)
class AddLabels:
    """Add labels to the pull request (``number`` None: the one this plan
    opens); GitHub creates a label the repository lacks. Nothing is removed."""

    kind = ActionKind.ADD_LABELS
    number: int | None
    labels: tuple[str, ...]
    reason: str


@attrs.frozen(kw_only=True)
class AddAssignees:
    """Add assignees (logins) to the pull request; nobody is unassigned."""

    kind = ActionKind.ADD_ASSIGNEES
    number: int | None
    assignees: tuple[str, ...]
    reason: str


@attrs.frozen(kw_only=True)
class RequestReviewers:
    """Request reviews from users and teams, in one request."""

    kind = ActionKind.REQUEST_REVIEWERS
    number: int | None
    reviewers: tuple[str, ...] = ()
    team_reviewers: tuple[str, ...] = ()
    reason: str


@attrs.frozen(kw_only=True)
class SetMilestone:
    """Set the pull request's milestone: ``title``, found as ``milestone``."""

    kind = ActionKind.SET_MILESTONE
    number: int | None
    title: str
    milestone: int
    reason: str


@attrs.frozen(kw_only=True)
class MarkReadyForReview:
    """Mark an open draft pull request ready for review."""

    kind = ActionKind.MARK_READY_FOR_REVIEW
    number: int
    reason: str


MetadataAction = AddLabels | AddAssignees | RequestReviewers | SetMilestone | MarkReadyForReview
METADATA_ACTIONS = (AddLabels, AddAssignees, RequestReviewers, SetMilestone, MarkReadyForReview)

Action = (
    CreateBranch
    | ResetBranch
    | Commit
    | CreatePullRequest
    | MergePullRequest
    | EnableAutoMerge
    | Enqueue
    | DisarmMerge
    | DeleteBranch
    | ClosePullRequest
    | UpdatePullRequest
    | AddLabels
    | AddAssignees
    | RequestReviewers
    | SetMilestone
    | MarkReadyForReview
)

#: The actions that merge the pull request, now or once its gate clears:
#: each names what the merge brings into base.
MergeAction = MergePullRequest | EnableAutoMerge | Enqueue
MERGE_ACTIONS = (MergePullRequest, EnableAutoMerge, Enqueue)


@attrs.frozen(kw_only=True)
class ResolvedFile:
    """What a request's edits made of a file, from the observed content."""

    path: str
    content: bytes | None


@attrs.frozen(kw_only=True)
class Blob:
    """A file's content by its git blob sha: what a diff starts (or, for a
    path a merge brings, ends) from. ``git_blob_sha(content) == sha`` is
    checked when a plan is read, so the text a reviewer sees is the blob the
    plan names."""

    sha: str
    content: bytes


@attrs.frozen(kw_only=True)
class BroughtFile:
    """A path a merge brings into base besides this plan's own commit: its
    blob on base and at the branch head (``None``: absent)."""

    path: str
    before: str | None
    after: str | None


@attrs.frozen(kw_only=True)
class Review:
    """What a reviewer needs besides the plan's own contents, read once when
    the plan was made (format version 4) so that showing it needs no forge:
    the old blobs of the files it changes, and the paths a merge brings with
    their blobs. Facts for people, not inputs of the planner: ``check_plan``
    re-derives everything else; the digest (and signature) cover this too."""

    blobs: tuple[Blob, ...] = ()
    brought: tuple[BroughtFile, ...] = ()
    #: False when a file was left out (past ``MAX_DIFFS``, or a merge's
    #: paths the forge listed only in part)
    complete: bool = True

    def blob(self, sha: str) -> bytes | None:
        for blob in self.blobs:
            if blob.sha == sha:
                return blob.content
        return None


@attrs.frozen(kw_only=True)
class Refusal:
    """Why the planner will not act, with what it concerns."""

    code: RefusalCode
    message: str
    pull_requests: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()
