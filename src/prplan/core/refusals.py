"""Why the planner will not act, in words: one function per refusal code,
each naming what the refusal concerns (pull requests, paths, commits) and
what a user can do about it.

Separate from the planner because it decides nothing: the decision table
chose the code; this module only says it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from prplan.core.actions import Refusal
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import (
    CommitInfo,
    Gate,
    MergeArmed,
    PathKind,
    PullRequestInfo,
    RepoSnapshot,
)
from prplan.core.states import PRState, RefusalCode, classify_pr_state, latest_pull_request
from prplan.core.text import commits_listed
from prplan.edits import EditError

__all__ = [
    "refusal",
    "edit_refusal",
    "not_a_file_refusal",
    "modified_paths",
    "undelivered_paths",
    "open_pulls",
    "foreign_commits",
]

C = RefusalCode
_MORE = " (and more the forge did not list)"


def open_pulls(snapshot: RepoSnapshot) -> list[int]:
    return [pr.number for pr in snapshot.pull_requests if pr.is_open]


def foreign_commits(snapshot: RepoSnapshot) -> tuple[CommitInfo, ...]:
    """The head's commits beyond base that are not provably prplan's."""
    return tuple(c for c in snapshot.commits_beyond_base if not c.by_prplan)


def modified_paths(blobs: Mapping[str, str | None], desired: Mapping[str, str | None]) -> list[str]:
    """Paths whose existing content the request would change or delete (adding
    a new file modifies nothing)."""
    return [
        path
        for path, sha in desired.items()
        if blobs.get(path) is not None and blobs.get(path) != sha
    ]


def undelivered_paths(snapshot: RepoSnapshot, desired: Mapping[str, str | None]) -> list[str]:
    """Paths an open pull request cannot deliver by being merged: base
    changed them after the branch forked, away from content the fork point
    already had as requested. Whatever the branch holds there (committing
    the requested content included), a three-way merge sees no change on the
    branch's side and keeps base's version. Only merging base into the
    branch can fix that, so the planner refuses rather than merge in vain."""
    if snapshot.merge_base_blobs is None:
        return []
    return [
        path
        for path, sha in desired.items()
        if snapshot.base_blobs.get(path) != sha and snapshot.merge_base_blobs.get(path) == sha
    ]


def edit_refusal(failure: tuple[str, EditError]) -> Refusal:
    path, error = failure
    return Refusal(
        code=C.EDIT_FAILED,
        paths=(path,),
        message=f"{path}: {error}. Fix the edit or the file, then plan again.",
    )


#: What stands at a requested path instead of a file, in words.
_WHAT_STANDS: Mapping[PathKind, str] = {
    PathKind.DIRECTORY: "a directory",
    PathKind.SUBMODULE: "a submodule",
    PathKind.UNDER_FILE: "inside a file (a parent is a file, symlink or submodule)",
    PathKind.SYMLINK: "a symlink (edits apply to files; edit the link's target)",
}


def not_a_file_refusal(found: list[tuple[str, str, PathKind]]) -> Refusal:
    """``found``: (path, side, what stands there) for each such path."""
    listed = "; ".join(
        f"{path} is {_WHAT_STANDS.get(kind, kind.value)} on {side}" for path, side, kind in found
    )
    return Refusal(
        code=C.PATH_NOT_A_FILE,
        paths=tuple(sorted({path for path, _, _ in found})),
        message=f"{listed}: writing or deleting a file there would destroy what is there. "
        "Name the files inside it instead, or remove it by hand first.",
    )


def refusal(code: RefusalCode, snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    """The refusal for ``code`` (any but the two above), in words."""
    return _SAY[code](snapshot, request)


def _multiple_open(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    numbers = tuple(open_pulls(snapshot))
    listed = ", ".join(f"#{n}" for n in numbers)
    return Refusal(
        code=C.MULTIPLE_OPEN_PRS,
        pull_requests=numbers,
        message=f"{len(numbers)} pull requests are open from {request.branch} into "
        f"{snapshot.base}: {listed}. Close all but one, then run again.",
    )


def _modification(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    desired = request.desired_blob_shas()
    paths = set(modified_paths(snapshot.base_blobs, desired))
    if classify_pr_state(snapshot.pull_requests) is PRState.OPEN:
        paths |= set(modified_paths(snapshot.branch_blobs, desired))
    ordered = tuple(sorted(paths))
    return Refusal(
        code=C.MODIFICATION_NOT_ALLOWED,
        paths=ordered,
        message="allow_modification is off and these paths exist with other content "
        f"(or would be deleted): {', '.join(ordered)}. Allow modification, or leave them out.",
    )


def _head_is_base(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    return Refusal(
        code=C.HEAD_IS_BASE,
        message=f"the branch {request.branch!r} is the base branch: a pull request needs a "
        "different head branch. Name another branch, or turn create_pr off to commit to base.",
    )


def _closed(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    latest = latest_pull_request(snapshot.pull_requests)
    number = latest.number if latest else 0
    return Refusal(
        code=C.PR_CLOSED,
        pull_requests=(number,),
        message=f"pull request #{number} was closed without merging and on_closed is 'fail'. "
        "Reopen it, or run with on_closed='new' to open a new one.",
    )


def _behind_base(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    numbers = tuple(open_pulls(snapshot))
    undelivered = tuple(undelivered_paths(snapshot, request.desired_blob_shas()))
    if not undelivered:
        return _gate_behind(snapshot, numbers)
    return Refusal(
        code=C.PR_BEHIND_BASE,
        pull_requests=numbers,
        paths=undelivered,
        message=f"pull request #{numbers[0]} was branched from an older {snapshot.base}: merging it "
        f"would not bring {', '.join(undelivered)} to the requested content, because {snapshot.base} "
        "changed them since. Update the branch with base (GitHub's 'Update branch'), then run again.",
    )


def _open_pr(snapshot: RepoSnapshot) -> PullRequestInfo | None:
    return next((pr for pr in snapshot.pull_requests if pr.is_open), None)


def _gate_behind(snapshot: RepoSnapshot, numbers: tuple[int, ...]) -> Refusal:
    """Behind base (strict checks) or conflicting, with commits on the
    branch that are not prplan's: prplan cannot make them again."""
    open_pr = _open_pr(snapshot)
    gate = open_pr.gate if open_pr is not None else Gate.BEHIND
    state = "conflicts with" if gate is Gate.CONFLICT else "is behind"
    shas, listed = _foreign(snapshot)
    return Refusal(
        code=C.PR_BEHIND_BASE,
        pull_requests=numbers,
        commits=shas,
        message=f"pull request #{numbers[0] if numbers else '?'} {state} {snapshot.base}, and its "
        f"branch holds commits prplan did not make ({listed}): prplan makes only its own commit "
        f"again on a new base. Update the branch with {snapshot.base} (GitHub's 'Update branch', "
        "or resolve the conflict), then run again.",
    )


def _checks_failing(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    open_pr = _open_pr(snapshot)
    number = open_pr.number if open_pr is not None else 0
    failed = open_pr.failing_checks if open_pr is not None else ()
    return Refusal(
        code=C.CHECKS_FAILING,
        pull_requests=(number,),
        message=f"pull request #{number} already carries the change, but required check(s) "
        f"failed: {', '.join(failed) or '(not named by the forge)'}. Fix what they report (a new "
        "commit runs them again) or re-run them, then run prplan again.",
    )


def _merge_blocked(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    open_pr = _open_pr(snapshot)
    numbers = (open_pr.number,) if open_pr is not None else ()
    which = f"pull request #{open_pr.number}" if open_pr is not None else "the new pull request"
    if open_pr is not None and open_pr.gate is Gate.DRAFT:
        why = f"{which} is a draft: a human marked it as not ready, and prplan never merges it"
        fix = "Mark it ready for review, then run again."
    elif snapshot.merge_queue or (open_pr is not None and open_pr.armed is MergeArmed.QUEUED):
        why = f"{snapshot.base} merges through a merge queue, so {which} cannot be merged now"
        fix = "Run with merge_when='auto' (--merge-when auto) to enqueue it."
    else:
        gate = open_pr.gate.value if open_pr is not None else "not clean"
        checks = ", ".join(open_pr.pending_checks) if open_pr is not None else ""
        why = f"merge_when is 'now' but {which} is not mergeable: its gate is {gate}" + (
            f" ({checks})" if checks else ""
        )
        fix = "Run with --merge-when auto to let GitHub merge it when ready."
    return Refusal(code=C.MERGE_BLOCKED, pull_requests=numbers, message=f"{why}. {fix}")


def _branch_missing(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    numbers = tuple(open_pulls(snapshot))
    return Refusal(
        code=C.BRANCH_MISSING,
        pull_requests=numbers,
        message=f"pull request #{numbers[0] if numbers else '?'} is open but its branch "
        f"{request.branch!r} is gone. The forge closes such pull requests; run again shortly.",
    )


def _protected(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    why = (
        "the repository's default branch"
        if request.branch == snapshot.default_branch
        else "protected on the forge"
    )
    return Refusal(
        code=C.BRANCH_PROTECTED,
        message=f"the branch {request.branch!r} would be reset to "
        f"{snapshot.base}, but it is {why}: prplan never resets it, whatever branch_policy "
        "says. Name another branch for the change.",
    )


def _in_use(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    users = (*snapshot.other_pull_requests, *snapshot.pull_requests_into_branch)
    named = [f"#{pr.number} ({pr.head_branch} into {pr.base_branch})" for pr in users]
    return Refusal(
        code=C.BRANCH_IN_USE,
        pull_requests=tuple(pr.number for pr in users),
        message=f"the branch {request.branch!r} is used by open pull request(s) "
        f"{', '.join(named)}: committing to it or resetting it would change them. "
        "Name another branch, or close those pull requests.",
    )


def _foreign(snapshot: RepoSnapshot) -> tuple[tuple[str, ...], str]:
    """The foreign commits' shas, and how a message lists them (saying so
    when the forge listed only some)."""
    foreign = foreign_commits(snapshot)
    unknown = "" if snapshot.commits_complete else _MORE
    return tuple(c.sha for c in foreign), commits_listed(foreign) + unknown


def _merge_foreign(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    shas, listed = _foreign(snapshot)
    return Refusal(
        code=C.MERGE_HAS_FOREIGN_COMMITS,
        pull_requests=tuple(open_pulls(snapshot)),
        commits=shas,
        message=f"merging would bring commits into {snapshot.base} that prplan did not make: "
        f"{listed}. Review them and run with merge_foreign_commits=True "
        "(--merge-foreign-commits) to merge them too, or remove them from the branch.",
    )


def _branch_foreign(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    shas, listed = _foreign(snapshot)
    return Refusal(
        code=C.BRANCH_HAS_FOREIGN_COMMITS,
        commits=shas,
        message=f"the branch {request.branch!r} has commits that prplan did not make and no pull "
        f"request preserves: {listed}. Merge or move them, delete the "
        "branch, or run with branch_policy='reset' to drop them.",
    )


def _armed_by_someone_else(snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    open_pr = _open_pr(snapshot)
    number = open_pr.number if open_pr is not None else 0
    login = (open_pr.armed_by if open_pr is not None else None) or "someone"
    who = "someone the forge did not name" if login == "someone" else login
    how = (
        "put it in the merge queue"
        if open_pr is not None and open_pr.armed is MergeArmed.QUEUED
        else "turned on its auto-merge"
    )
    return Refusal(
        code=C.PR_ARMED_BY_SOMEONE_ELSE,
        pull_requests=(number,),
        message=f"pull request #{number} would get a new commit, but {who} {how}: GitHub "
        f"would merge the new commit unreviewed by them, and automerge is off. Ask {login} "
        "to turn auto-merge off (or take it out of the queue), or run with automerge "
        "(--automerge) to have it merged.",
    )


_SAY: Mapping[RefusalCode, Callable[[RepoSnapshot, ChangeRequest], Refusal]] = {
    C.MULTIPLE_OPEN_PRS: _multiple_open,
    C.MODIFICATION_NOT_ALLOWED: _modification,
    C.HEAD_IS_BASE: _head_is_base,
    C.PR_CLOSED: _closed,
    C.PR_BEHIND_BASE: _behind_base,
    C.BRANCH_MISSING: _branch_missing,
    C.BRANCH_PROTECTED: _protected,
    C.BRANCH_IN_USE: _in_use,
    C.MERGE_HAS_FOREIGN_COMMITS: _merge_foreign,
    C.BRANCH_HAS_FOREIGN_COMMITS: _branch_foreign,
    C.CHECKS_FAILING: _checks_failing,
    C.MERGE_BLOCKED: _merge_blocked,
    C.PR_ARMED_BY_SOMEONE_ELSE: _armed_by_someone_else,
}
