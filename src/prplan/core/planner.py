"""``plan(snapshot, request)``: pure, total, deterministic.

No I/O, no clock, no randomness: the same snapshot and request give the same
plan, byte for byte. The planner (1) classifies the snapshot into a
``Situation``, (2) asks the decision table which rule applies, and (3) fills
in the concrete shas, paths and reasons for that rule's action kinds. Step 3
makes no decision; if you are looking for *why* prplan does something, read
``_table.RULES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from prplan.core.plan import (
    Action,
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    FileChange,
    MergePullRequest,
    Plan,
    Refusal,
    ResetBranch,
    ResolvedFile,
)
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import CommitInfo, PathKind, RepoSnapshot
from prplan.core.states import (
    ActionKind,
    BranchSituation,
    PRState,
    RefusalCode,
    classify_pr_state,
    latest_pull_request,
)
from prplan.core.table import Mention, Rule, Situation, decide, start_stage
from prplan.edits import EditError, edit_file

__all__ = ["plan", "classify", "commit_message", "short", "resolve_edits", "foreign_commits"]


def short(sha: str | None) -> str:
    return "(none)" if sha is None else sha[:7]


def plan(snapshot: RepoSnapshot, request: ChangeRequest) -> Plan:
    """Decide what to do to bring the repository to the request, and why."""
    if snapshot.repo != request.repo or snapshot.branch != request.branch:
        raise ValueError(
            f"the snapshot is of {snapshot.repo}:{snapshot.branch}, "
            f"the request of {request.repo}:{request.branch}"
        )
    # Edits become contents first; from there on the planner sees only
    # contents (the "effective" request), and the plan records both.
    effective, resolved, failure, edit_notes = _resolve_edits(snapshot, request)
    not_files = _not_files(snapshot, request)
    situation = attrs.evolve(
        classify(snapshot, effective),
        edit_fails=failure is not None,
        not_a_file=bool(not_files),
    )
    rule = decide(situation)
    pr_state = situation.pr
    notes = list(_notes(rule, situation, snapshot)) + edit_notes
    common: dict[str, Any] = {
        "request": request,
        "observed": snapshot,
        "pr_state": pr_state,
        "start": start_stage(situation),
        "rule": rule.name,
        "resolved": resolved,
    }
    if rule.refuse is not None:
        if rule.refuse is RefusalCode.PATH_NOT_A_FILE:
            refusal = _not_a_file_refusal(not_files)
        elif rule.refuse is RefusalCode.EDIT_FAILED and failure is not None:
            refusal = _edit_refusal(failure)
        else:
            refusal = _refusal(rule.refuse, snapshot, effective)
        return Plan(refusal=refusal, notes=tuple(notes), **common)
    actions = _materialise(rule, situation, snapshot, effective)
    return Plan(actions=actions, notes=tuple(notes), **common)


# --- 0. edits -------------------------------------------------------------------------


def resolve_edits(snapshot: RepoSnapshot, request: ChangeRequest) -> tuple[ResolvedFile, ...]:
    """What the request's edits make of the observed files (as ``plan`` does)."""
    return _resolve_edits(snapshot, request)[1]


def _resolve_edits(
    snapshot: RepoSnapshot, request: ChangeRequest
) -> tuple[ChangeRequest, tuple[ResolvedFile, ...], tuple[str, EditError] | None, list[str]]:
    """Apply the request's edits to the observed contents: of the branch when
    a pull request is open on it (the next commit goes on top of it), else of
    base (the branch is made from base). On failure the file is left as it is
    and the failure returned, for the table's ``edit_failed`` row. Last, the
    edits' notes for the reviewer (a key added, the item a selector chose)."""
    edited = request.edited_paths
    if not edited:
        return request, (), None, []
    on_branch = classify_pr_state(snapshot.pull_requests) is PRState.OPEN and bool(
        snapshot.branch_contents
    )
    current = snapshot.branch_contents if on_branch else snapshot.base_contents
    files: dict[str, bytes | None] = {}
    failure: tuple[str, EditError] | None = None
    notes: list[str] = []
    for path, content in request.files.items():
        if not isinstance(content, tuple):
            files[path] = content
            continue
        try:
            files[path], noted = edit_file(current.get(path), content, filename=path)
            notes += noted
        except EditError as error:
            failure = failure or (path, error)
            files[path] = current.get(path)
    effective = attrs.evolve(request, files=files)
    resolved = tuple(ResolvedFile(path=path, content=files[path]) for path in edited)
    return effective, resolved, failure, notes


def _edit_refusal(failure: tuple[str, EditError]) -> Refusal:
    path, error = failure
    return Refusal(
        code=RefusalCode.EDIT_FAILED,
        paths=(path,),
        message=f"{path}: {error}. Fix the edit or the file, then plan again.",
    )


# --- 1. classification --------------------------------------------------------


def _differs(blobs: Mapping[str, str | None], desired: Mapping[str, str | None]) -> list[str]:
    return [path for path, sha in desired.items() if blobs.get(path) != sha]


def _modified_paths(
    blobs: Mapping[str, str | None], desired: Mapping[str, str | None]
) -> list[str]:
    """Paths whose existing content the request would change or delete (adding
    a new file modifies nothing)."""
    return [
        path
        for path, sha in desired.items()
        if blobs.get(path) is not None and blobs.get(path) != sha
    ]


def _undelivered_paths(snapshot: RepoSnapshot, desired: Mapping[str, str | None]) -> list[str]:
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


def _open_pulls(snapshot: RepoSnapshot) -> list[int]:
    return [pr.number for pr in snapshot.pull_requests if pr.is_open]


def _not_files(snapshot: RepoSnapshot, request: ChangeRequest) -> list[tuple[str, str, str]]:
    """Requested paths where something other than a file stands, as (path,
    side, what is there): a directory or a submodule would be replaced by a
    file (or "deleted" while it stays), a path under a file cannot exist.
    Both sides count: base (the branch may be rebuilt from it) and the
    branch (the commit may go on it). An edited symlink is refused too: its
    blob is the link's target, not the file a user means to edit."""
    sides = [("base", snapshot.base_kinds)]
    if snapshot.branch_sha is not None and snapshot.branch != snapshot.base:
        sides.append(("branch", snapshot.branch_kinds))
    bad = {PathKind.DIRECTORY, PathKind.SUBMODULE, PathKind.UNDER_FILE}
    edited = set(request.edited_paths)
    found = []
    for path in request.files:
        for side, kinds in sides:
            kind = kinds.get(path, PathKind.ABSENT)
            if kind in bad or (kind is PathKind.SYMLINK and path in edited):
                found.append((path, side, kind.value))
    return found


def foreign_commits(snapshot: RepoSnapshot) -> tuple[CommitInfo, ...]:
    """The head's commits beyond base that are not provably prplan's."""
    return tuple(c for c in snapshot.commits_beyond_base if not c.by_prplan)


def _foreign_on_head(snapshot: RepoSnapshot) -> bool:
    return bool(foreign_commits(snapshot)) or not snapshot.commits_complete


def _branch_in_use(snapshot: RepoSnapshot) -> bool:
    return bool(snapshot.other_pull_requests or snapshot.pull_requests_into_branch)


def _is_disposable(snapshot: RepoSnapshot) -> bool:
    if _branch_in_use(snapshot):
        return False  # other pull requests would change with it
    if snapshot.branch_in_base:
        return True
    if any(pr.head_sha == snapshot.branch_sha for pr in snapshot.pull_requests):
        return True  # the forge keeps it as refs/pull/N/head
    return snapshot.commits_complete and all(c.by_prplan for c in snapshot.commits_beyond_base)


def _branch_situation(
    snapshot: RepoSnapshot, desired: Mapping[str, str | None], pr: PRState
) -> BranchSituation:
    if snapshot.branch_sha is None:
        return BranchSituation.ABSENT
    holds = not _differs(snapshot.branch_blobs, desired)
    # With a pull request open, holding the content is enough: the pull
    # request carries it. Without one, the branch must also contain base, or
    # a new pull request from it could carry an old base's state.
    if holds and (pr in {PRState.OPEN, PRState.MULTIPLE} or snapshot.branch_contains_base):
        return BranchSituation.HAS_CHANGE
    if snapshot.branch_sha == snapshot.base_sha:
        return BranchSituation.AT_BASE
    return BranchSituation.DISPOSABLE if _is_disposable(snapshot) else BranchSituation.FOREIGN


def classify(snapshot: RepoSnapshot, request: ChangeRequest) -> Situation:
    desired = request.desired_blob_shas()
    head_is_base = request.branch == snapshot.base
    pr = PRState.NONE if head_is_base else classify_pr_state(snapshot.pull_requests)
    branch = BranchSituation.AT_BASE if head_is_base else _branch_situation(snapshot, desired, pr)
    modifies = bool(_modified_paths(snapshot.base_blobs, desired))
    if pr is PRState.OPEN and snapshot.branch_sha is not None:
        modifies = modifies or bool(_modified_paths(snapshot.branch_blobs, desired))
    on_head = snapshot.branch_sha is not None and not head_is_base
    return Situation(
        edit_fails=False,
        branch_protected=on_head
        and (request.branch == snapshot.default_branch or snapshot.branch_protected),
        foreign_on_head=on_head and _foreign_on_head(snapshot),
        branch_in_use=(on_head and _branch_in_use(snapshot))
        or (head_is_base and bool(snapshot.other_pull_requests)),
        merge_foreign_commits=request.merge_foreign_commits,
        pr=pr,
        branch=branch,
        head_is_base=head_is_base,
        in_place=not _differs(snapshot.base_blobs, desired),
        modifies=modifies,
        pr_behind=pr is PRState.OPEN and bool(_undelivered_paths(snapshot, desired)),
        create_pr=request.create_pr,
        automerge=request.automerge,
        allow_modification=request.allow_modification,
        on_closed=request.on_closed,
        branch_policy=request.branch_policy,
        delete_branch=request.delete_branch,
    )


# --- 2. refusals and notes ----------------------------------------------------------


def _refusal(code: RefusalCode, snapshot: RepoSnapshot, request: ChangeRequest) -> Refusal:
    desired = request.desired_blob_shas()
    if code is RefusalCode.MULTIPLE_OPEN_PRS:
        numbers = tuple(_open_pulls(snapshot))
        listed = ", ".join(f"#{n}" for n in numbers)
        return Refusal(
            code=code,
            pull_requests=numbers,
            message=f"{len(numbers)} pull requests are open from {request.branch} into "
            f"{snapshot.base}: {listed}. Close all but one, then run again.",
        )
    if code is RefusalCode.MODIFICATION_NOT_ALLOWED:
        paths = set(_modified_paths(snapshot.base_blobs, desired))
        if classify_pr_state(snapshot.pull_requests) is PRState.OPEN:
            paths |= set(_modified_paths(snapshot.branch_blobs, desired))
        ordered = tuple(sorted(paths))
        return Refusal(
            code=code,
            paths=ordered,
            message="allow_modification is off and these paths exist with other content "
            f"(or would be deleted): {', '.join(ordered)}. Allow modification, or leave them out.",
        )
    if code is RefusalCode.HEAD_IS_BASE:
        return Refusal(
            code=code,
            message=f"the branch {request.branch!r} is the base branch: a pull request needs a "
            "different head branch. Name another branch, or turn create_pr off to commit to base.",
        )
    if code is RefusalCode.PR_CLOSED:
        latest = latest_pull_request(snapshot.pull_requests)
        number = latest.number if latest else 0
        return Refusal(
            code=code,
            pull_requests=(number,),
            message=f"pull request #{number} was closed without merging and on_closed is 'fail'. "
            "Reopen it, or run with on_closed='new' to open a new one.",
        )
    if code is RefusalCode.PR_BEHIND_BASE:
        numbers = tuple(_open_pulls(snapshot))
        undelivered = tuple(_undelivered_paths(snapshot, desired))
        return Refusal(
            code=code,
            pull_requests=numbers,
            paths=undelivered,
            message=f"pull request #{numbers[0]} was branched from an older {snapshot.base}: merging it "
            f"would not bring {', '.join(undelivered)} to the requested content, because {snapshot.base} "
            "changed them since. Update the branch with base (GitHub's 'Update branch'), then run again.",
        )
    if code is RefusalCode.BRANCH_MISSING:
        numbers = tuple(_open_pulls(snapshot))
        return Refusal(
            code=code,
            pull_requests=numbers,
            message=f"pull request #{numbers[0] if numbers else '?'} is open but its branch "
            f"{request.branch!r} is gone. The forge closes such pull requests; run again shortly.",
        )
    if code is RefusalCode.BRANCH_PROTECTED:
        why = (
            "the repository's default branch"
            if request.branch == snapshot.default_branch
            else "protected on the forge"
        )
        return Refusal(
            code=code,
            message=f"the branch {request.branch!r} lacks the change and would be reset to "
            f"{snapshot.base}, but it is {why}: prplan never resets it, whatever branch_policy "
            "says. Name another branch for the change.",
        )
    if code is RefusalCode.BRANCH_IN_USE:
        users = [
            f"#{pr.number} ({pr.head_branch} into {pr.base_branch})"
            for pr in (*snapshot.other_pull_requests, *snapshot.pull_requests_into_branch)
        ]
        return Refusal(
            code=code,
            pull_requests=tuple(
                pr.number
                for pr in (*snapshot.other_pull_requests, *snapshot.pull_requests_into_branch)
            ),
            message=f"the branch {request.branch!r} is used by open pull request(s) "
            f"{', '.join(users)}: committing to it or resetting it would change them. "
            "Name another branch, or close those pull requests.",
        )
    if code is RefusalCode.MERGE_HAS_FOREIGN_COMMITS:
        foreign = foreign_commits(snapshot)
        unknown = "" if snapshot.commits_complete else " (and more the forge did not list)"
        return Refusal(
            code=code,
            pull_requests=tuple(_open_pulls(snapshot)),
            commits=tuple(c.sha for c in foreign),
            message=f"merging would bring commits into {snapshot.base} that prplan did not make: "
            f"{_listed(foreign)}{unknown}. Review them and run with merge_foreign_commits=True "
            "(--merge-foreign-commits) to merge them too, or remove them from the branch.",
        )
    # BRANCH_HAS_FOREIGN_COMMITS
    commits = snapshot.commits_beyond_base
    foreign = tuple(c for c in commits if not c.by_prplan)
    listed = _listed(foreign)
    unknown = "" if snapshot.commits_complete else " (and more the forge did not list)"
    return Refusal(
        code=code,
        commits=tuple(c.sha for c in foreign),
        message=f"the branch {request.branch!r} has commits that prplan did not make and no pull "
        f"request preserves: {listed}{unknown}. Merge or move them, delete the branch, or run "
        "with branch_policy='reset' to drop them.",
    )


def _listed(commits: tuple[CommitInfo, ...]) -> str:
    return "; ".join(f"{short(c.sha)} {c.summary!r} by {c.author}" for c in commits)


def _not_a_file_refusal(found: list[tuple[str, str, str]]) -> Refusal:
    listed = "; ".join(f"{path} is {_a(kind)} on {side}" for path, side, kind in found)
    return Refusal(
        code=RefusalCode.PATH_NOT_A_FILE,
        paths=tuple(sorted({path for path, _, _ in found})),
        message=f"{listed}: writing or deleting a file there would destroy what is there. "
        "Name the files inside it instead, or remove it by hand first.",
    )


def _a(kind: str) -> str:
    return {
        "directory": "a directory",
        "submodule": "a submodule",
        "under_file": "inside a file (a parent is a file, symlink or submodule)",
        "symlink": "a symlink (edits apply to files; edit the link's target)",
    }.get(kind, kind)


def _notes(rule: Rule, situation: Situation, snapshot: RepoSnapshot) -> list[str]:
    notes = []
    if rule.note:
        notes.append(rule.note)
    latest = latest_pull_request(snapshot.pull_requests)
    if rule.mentions is Mention.MERGED_EARLIER and latest is not None and latest.merged:
        notes.append(f"pull request #{latest.number} was merged earlier")
    if rule.mentions is Mention.CLOSED_SKIPPED and latest is not None:
        notes.append(f"pull request #{latest.number} is closed; nothing is done")
    open_numbers = _open_pulls(snapshot)
    if rule.mentions is Mention.OPEN and open_numbers:
        notes.append(f"pull request #{open_numbers[0]} is open")
    if situation.automerge and not rule.refuse:
        merges = ActionKind.MERGE_PULL_REQUEST in rule.actions_for(situation)
        if not merges and (
            situation.head_is_base or not (situation.create_pr or situation.pr is PRState.OPEN)
        ):
            notes.append("automerge is ignored: there is no pull request to merge")
    kinds = rule.actions_for(situation)
    keeps_head = ActionKind.RESET_BRANCH not in kinds
    if situation.foreign_on_head and kinds and keeps_head:
        foreign = foreign_commits(snapshot)
        if foreign or not snapshot.commits_complete:
            merges = ActionKind.MERGE_PULL_REQUEST in kinds
            notes.append(
                f"the branch holds commits prplan did not make: {_listed(foreign) or 'not all listed'}"
                + ("; merge_foreign_commits is on, so the merge brings them too" if merges else "")
            )
    if situation.delete_branch and situation.branch_in_use and rule.then_delete:
        notes.append("delete_branch is ignored: other open pull requests use the branch")
    if (
        situation.delete_branch
        and not rule.refuse
        and ActionKind.DELETE_BRANCH not in rule.actions_for(situation)
    ):
        if situation.head_is_base:
            notes.append("delete_branch is ignored: the base branch is never deleted")
        elif rule.actions:
            notes.append("delete_branch applies only after a merge; the branch is kept")
    return notes


# --- 3. materialisation -------------------------------------------------------------


def commit_message(request: ChangeRequest) -> str:
    """The message prplan writes: the caller's message (or the title), then
    the trailer that marks the commit as prplan's."""
    head = request.commit_message or request.pr_title
    return f"{head.rstrip()}\n\nPrplan-Request: {request.request_id}\n"


def _materialise(
    rule: Rule, situation: Situation, snapshot: RepoSnapshot, request: ChangeRequest
) -> tuple[Action, ...]:
    desired = request.desired_blob_shas()
    branch, base = request.branch, snapshot.base
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    head = snapshot.branch_sha  # where the branch is before each action
    committed = False
    actions: list[Action] = []
    for kind in rule.actions_for(situation):
        if kind is ActionKind.CREATE_BRANCH:
            actions.append(
                CreateBranch(
                    branch=branch,
                    sha=snapshot.base_sha,
                    reason=f"the branch {branch!r} does not exist: create it at {base} ({short(snapshot.base_sha)})",
                )
            )
            head = snapshot.base_sha
        elif kind is ActionKind.RESET_BRANCH:
            assert snapshot.branch_sha is not None  # the table resets only existing branches
            dropped = snapshot.commits_beyond_base
            why = (
                "it holds commits that are not prplan's, but branch_policy is 'reset'"
                if situation.branch is BranchSituation.FOREIGN
                else _disposable_why(snapshot)
            )
            actions.append(
                ResetBranch(
                    branch=branch,
                    from_sha=snapshot.branch_sha,
                    to_sha=snapshot.base_sha,
                    dropped=dropped,
                    reason=f"the branch {branch!r} lacks the change and {why}: reset it to "
                    f"{base} ({short(snapshot.base_sha)}), dropping {len(dropped)} commit(s)",
                )
            )
            head = snapshot.base_sha
        elif kind is ActionKind.COMMIT:
            assert head is not None
            # Compare against what the commit's parent holds: base after a
            # create/reset (or when committing to base), else the branch.
            on_parent = snapshot.base_blobs if head == snapshot.base_sha else snapshot.branch_blobs
            files = tuple(
                FileChange(path=path, old_sha=on_parent.get(path), new_sha=sha)
                for path, sha in desired.items()
                if on_parent.get(path) != sha
            )
            target = "base" if situation.head_is_base else f"the branch {branch!r}"
            actions.append(
                Commit(
                    branch=branch,
                    parent_sha=head,
                    files=files,
                    message=commit_message(request),
                    reason=f"{len(files)} path(s) differ from the request on {target}: "
                    f"commit them in one commit on {short(head)}",
                )
            )
            committed = True
        elif kind is ActionKind.CREATE_PULL_REQUEST:
            actions.append(
                CreatePullRequest(
                    head=branch,
                    base=base,
                    title=request.pr_title,
                    body=request.body,
                    reason=f"create_pr is on and no pull request is open from {branch} into {base}",
                )
            )
        elif kind is ActionKind.MERGE_PULL_REQUEST:
            number = open_pr.number if open_pr is not None else None
            which = f"#{number}" if number is not None else "the new pull request"
            # What the merge brings: the head's own commits (none once reset
            # to base) and every path they change, plus this plan's commit.
            kept = head == snapshot.branch_sha
            ours = {f.path for a in actions if isinstance(a, Commit) for f in a.files}
            beyond = set(snapshot.paths_beyond_base) if kept else set()
            actions.append(
                MergePullRequest(
                    number=number,
                    expected_head_sha=None if committed else head,
                    method=request.merge_method.value,
                    reason=f"automerge is on: merge {which} ({request.merge_method.value}) "
                    "if its head is still the commit reviewed",
                    brings_commits=snapshot.commits_beyond_base if kept else (),
                    brings_paths=tuple(sorted(beyond | ours)),
                    brings_complete=not kept
                    or (snapshot.paths_complete and snapshot.commits_complete),
                )
            )
        else:  # DELETE_BRANCH
            after = (
                f"now that pull request #{_latest_number(snapshot)} is merged"
                if rule.mentions is Mention.MERGED_CLEAN_UP
                else "after the merge"
            )
            actions.append(
                DeleteBranch(
                    branch=branch, reason=f"delete_branch is on: remove the branch {after}"
                )
            )
    return tuple(actions)


def _latest_number(snapshot: RepoSnapshot) -> int:
    latest = latest_pull_request(snapshot.pull_requests)
    return latest.number if latest else 0


def _disposable_why(snapshot: RepoSnapshot) -> str:
    if snapshot.branch_in_base:
        return "base already contains it"
    prs = [pr.number for pr in snapshot.pull_requests if pr.head_sha == snapshot.branch_sha]
    if prs:
        return f"pull request #{prs[0]} preserves its head"
    return "every commit on it beyond base is prplan's"
