"""The vocabulary of states: pull-request states, branch situations, lifecycle
stages, action kinds and refusal codes, and how a list of pull requests is
classified. Pure data and pure functions; the rules that use them live in
``table``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from prplan.core.snapshot import PullRequestInfo

__all__ = [
    "PRState",
    "BranchSituation",
    "Stage",
    "ActionKind",
    "METADATA_KINDS",
    "OFF_LIFECYCLE_KINDS",
    "MERGE_KINDS",
    "RefusalCode",
    "ArmedBy",
    "classify_pr_state",
    "latest_pull_request",
]


class PRState(enum.StrEnum):
    """The pull requests from the head branch into base, summarised."""

    NONE = "none"  # there never was one
    OPEN = "open"  # exactly one is open
    MERGED = "merged"  # none open; the most recent was merged
    CLOSED = "closed"  # none open; the most recent was closed unmerged
    MULTIPLE = "multiple"  # two or more are open (GitHub forbids it, but data can hold it)


class BranchSituation(enum.StrEnum):
    """The head branch, seen from the request."""

    ABSENT = "absent"
    #: exists at exactly the base commit: ready to commit on, nothing to reset
    AT_BASE = "at_base"
    #: holds the requested content (and contains base when no PR is open:
    #: typically a re-run after a crash between commit and pull request)
    HAS_CHANGE = "has_change"
    #: lacks the change, and resetting it loses nothing: it is an ancestor of
    #: base, or the head of one of its pull requests, or only prplan's commits
    DISPOSABLE = "disposable"
    #: lacks the change and holds commits that are neither prplan's nor
    #: preserved by a pull request: a human's work
    FOREIGN = "foreign"


class Stage(enum.StrEnum):
    """Lifecycle stages of one change: the states of the ``transitions``
    machine. Action kinds are its triggers."""

    NO_BRANCH = "no_branch"
    BRANCH_OUTDATED = "branch_outdated"
    BRANCH_READY = "branch_ready"
    COMMITTED = "committed"
    PROPOSED_OUTDATED = "proposed_outdated"
    PROPOSED = "proposed"
    #: GitHub's native auto-merge is enabled: GitHub merges when the gate clears
    AUTO_MERGE_ENABLED = "auto_merge_enabled"
    #: the pull request is in base's merge queue
    QUEUED = "queued"
    MERGED = "merged"
    #: prplan closed its own pull request: base already held the change
    #: (``close_superseded``)
    CLOSED = "closed"
    BRANCH_DELETED = "branch_deleted"
    BASE_OUTDATED = "base_outdated"
    IN_PLACE = "in_place"


class ArmedBy(enum.StrEnum):
    """Who armed the open pull request's merge (auto-merge, the queue), as
    the planner compares it with the login prplan acts as."""

    NOBODY = "nobody"  # nothing is armed
    PRPLAN = "prplan"  # the login prplan's token acts as
    #: anyone else, or a login the forge did not name
    SOMEONE_ELSE = "someone_else"


class ActionKind(enum.StrEnum):
    CREATE_BRANCH = "create_branch"
    RESET_BRANCH = "reset_branch"
    COMMIT = "commit"
    CREATE_PULL_REQUEST = "create_pull_request"
    MERGE_PULL_REQUEST = "merge_pull_request"
    #: turn on GitHub's native auto-merge: GitHub merges once the gate is clean
    ENABLE_AUTO_MERGE = "enable_auto_merge"
    #: add the pull request to base's merge queue
    ENQUEUE = "enqueue"
    #: turn off the auto-merge prplan enabled, or take the pull request out
    #: of the merge queue prplan put it in
    DISARM_MERGE = "disarm_merge"
    DELETE_BRANCH = "delete_branch"
    #: close prplan's own open pull request, with a comment saying why
    #: (``close_superseded``: base already holds the change)
    CLOSE_PULL_REQUEST = "close_pull_request"
    #: rewrite the title and body of prplan's own open pull request
    #: (``update_pr``): derived after the table's actions, no lifecycle stage
    UPDATE_PULL_REQUEST = "update_pull_request"
    # Pull-request metadata: derived after the table's actions (``metadata``),
    # not steps of the lifecycle.
    ADD_LABELS = "add_labels"
    ADD_ASSIGNEES = "add_assignees"
    REQUEST_REVIEWERS = "request_reviewers"
    SET_MILESTONE = "set_milestone"
    MARK_READY_FOR_REVIEW = "mark_ready_for_review"


#: The action kinds that set pull-request metadata (no lifecycle stage).
METADATA_KINDS = frozenset(
    {
        ActionKind.ADD_LABELS,
        ActionKind.ADD_ASSIGNEES,
        ActionKind.REQUEST_REVIEWERS,
        ActionKind.SET_MILESTONE,
        ActionKind.MARK_READY_FOR_REVIEW,
    }
)

#: The action kinds that are no step of the lifecycle (a plan's walk
#: through the machine leaves them out).
OFF_LIFECYCLE_KINDS = METADATA_KINDS | {ActionKind.UPDATE_PULL_REQUEST}


#: The action kinds that merge the pull request, now or once its gate clears.
MERGE_KINDS = frozenset(
    {ActionKind.MERGE_PULL_REQUEST, ActionKind.ENABLE_AUTO_MERGE, ActionKind.ENQUEUE}
)


class RefusalCode(enum.StrEnum):
    MULTIPLE_OPEN_PRS = "multiple_open_prs"
    MODIFICATION_NOT_ALLOWED = "modification_not_allowed"
    HEAD_IS_BASE = "head_is_base"
    PR_CLOSED = "pr_closed"
    BRANCH_HAS_FOREIGN_COMMITS = "branch_has_foreign_commits"
    #: an open pull request whose head branch is gone (GitHub closes such
    #: pull requests shortly; the observation caught it in between)
    BRANCH_MISSING = "branch_missing"
    #: the open pull request's branch forked from an older base, and merging
    #: it would not bring some requested path to its requested content
    PR_BEHIND_BASE = "pr_behind_base"
    #: a structured edit cannot be applied (file or key missing, file does
    #: not parse, a replace matched another number of times)
    EDIT_FAILED = "edit_failed"
    #: a requested path is a directory or a submodule, or lies under a file,
    #: on base or on the branch: writing or deleting it would destroy what is
    #: there (or an edited path is a symlink)
    PATH_NOT_A_FILE = "path_not_a_file"
    #: the branch would be reset, but it is the default branch or the forge
    #: protects it: prplan never resets those, whatever branch_policy says
    BRANCH_PROTECTED = "branch_protected"
    #: merging would bring commits into base that prplan did not make and the
    #: request did not say merge_foreign_commits
    MERGE_HAS_FOREIGN_COMMITS = "merge_has_foreign_commits"
    #: the branch is the head of an open pull request into another base, or
    #: the base of an open pull request: committing to it or resetting it
    #: would change those pull requests
    BRANCH_IN_USE = "branch_in_use"
    #: a required check failed on an open pull request that already carries
    #: the change: merging (now or later) cannot succeed until someone acts
    CHECKS_FAILING = "checks_failing"
    #: merge_when is 'now' and the gate is known not to be clean at plan
    #: time (pending, needs_review, draft), or base merges through a queue
    MERGE_BLOCKED = "merge_blocked"
    #: someone else armed the open pull request's merge (auto-merge, the
    #: queue) and automerge is off: a commit by prplan would be merged by
    #: that arming, unreviewed by whoever armed it
    PR_ARMED_BY_SOMEONE_ELSE = "pr_armed_by_someone_else"


def latest_pull_request(pulls: Iterable[PullRequestInfo]) -> PullRequestInfo | None:
    """The most recent pull request: the highest number (forges number them
    in creation order)."""
    return max(pulls, key=lambda pr: pr.number, default=None)


def classify_pr_state(pulls: Iterable[PullRequestInfo]) -> PRState:
    """MULTIPLE if two or more are open, OPEN if exactly one is; otherwise
    MERGED or CLOSED after the most recent one; NONE if there is none."""
    pulls = list(pulls)
    open_count = sum(1 for pr in pulls if pr.is_open)
    if open_count >= 2:
        return PRState.MULTIPLE
    if open_count == 1:
        return PRState.OPEN
    latest = latest_pull_request(pulls)
    if latest is None:
        return PRState.NONE
    return PRState.MERGED if latest.merged else PRState.CLOSED
