"""``plan(snapshot, request)``: pure, total, deterministic.

No I/O, no clock, no randomness: the same snapshot and request give the same
plan, byte for byte. The planner (1) classifies the snapshot into a
``Situation``, (2) asks the decision table which rule applies, and (3) fills
in the concrete shas, paths and reasons for that rule's action kinds. Step 3
makes no decision; if you are looking for *why* prplan does something, read
``table.RULES``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from prplan.core import actions as act
from prplan.core import refusals
from prplan.core.disarm import armed_by, disarm_action
from prplan.core.metadata import with_metadata
from prplan.core.plan import Plan
from prplan.core.pr_text import close_action, commit_message, own_request_id, pr_text_step
from prplan.core.refusals import foreign_commits, modified_paths, open_pulls, undelivered_paths
from prplan.core.request import ChangeRequest, MergeWhen
from prplan.core.resolve import resolve, resolve_edits
from prplan.core.snapshot import CommitInfo, Gate, MergeArmed, PathKind, RepoSnapshot
from prplan.core.states import (
    MERGE_KINDS,
    ActionKind,
    ArmedBy,
    BranchSituation,
    PRState,
    RefusalCode,
    classify_pr_state,
    latest_pull_request,
)
from prplan.core.table import Mention, Rule, Situation, decide, start_stage
from prplan.core.text import commits_listed, short

__all__ = ["plan", "classify", "commit_message", "short", "resolve_edits", "foreign_commits"]


def plan(snapshot: RepoSnapshot, request: ChangeRequest) -> Plan:
    """Decide what to do to bring the repository to the request, and why."""
    if snapshot.repo != request.repo or snapshot.branch != request.branch:
        raise ValueError(
            f"the snapshot is of {snapshot.repo}:{snapshot.branch}, "
            f"the request of {request.repo}:{request.branch}"
        )
    # Edits become contents first; from there on the planner sees only
    # contents (the "effective" request), and the plan records both.
    resolution = resolve(snapshot, request)
    effective = resolution.effective
    not_files = _not_files(snapshot, request)
    situation = attrs.evolve(
        classify(snapshot, effective),
        edit_fails=resolution.failure is not None,
        not_a_file=bool(not_files),
    )
    rule = decide(situation)
    pr_state = situation.pr
    notes = (*_notes(rule, situation, snapshot), *resolution.notes)
    common: dict[str, Any] = {
        "request": request,
        "observed": snapshot,
        "pr_state": pr_state,
        "start": start_stage(situation),
        "rule": rule.name,
        "resolved": resolution.resolved,
    }
    if rule.refuse is None:
        actions = _materialise(rule, situation, snapshot, effective)
        # Pull-request metadata: a step derived after the table (``metadata``).
        actions, more = with_metadata(snapshot, request, actions)
        actions, text, writes = pr_text_step(snapshot, request, effective, actions)  # issue 15
        return Plan(actions=actions, notes=(*notes, *more, *text), writes=writes, **common)
    if rule.refuse is RefusalCode.PATH_NOT_A_FILE:
        refusal = refusals.not_a_file_refusal(not_files)
    elif rule.refuse is RefusalCode.EDIT_FAILED and resolution.failure is not None:
        refusal = refusals.edit_refusal(resolution.failure)
    else:
        refusal = refusals.refusal(rule.refuse, snapshot, effective)
    return Plan(refusal=refusal, notes=notes, **common)


# --- 1. classification --------------------------------------------------------


def _differs(blobs: Mapping[str, str | None], desired: Mapping[str, str | None]) -> list[str]:
    return [path for path, sha in desired.items() if blobs.get(path) != sha]


def _not_files(snapshot: RepoSnapshot, request: ChangeRequest) -> list[tuple[str, str, PathKind]]:
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
                found.append((path, side, kind))
    return found


def _foreign_on_head(snapshot: RepoSnapshot) -> bool:
    return bool(foreign_commits(snapshot)) or not snapshot.commits_complete


def _branch_in_use(snapshot: RepoSnapshot) -> bool:
    return bool(snapshot.other_pull_requests or snapshot.pull_requests_into_branch)


def _pull_heads(snapshot: RepoSnapshot) -> set[str]:
    """The heads of the branch's pull requests, any state, into any base:
    the forge keeps each as refs/pull/N/head."""
    return {pr.head_sha for pr in (*snapshot.pull_requests, *snapshot.other_pull_requests)}


def _unmerged_on_branch(snapshot: RepoSnapshot) -> bool:
    """The branch holds work that neither base nor the head of one of its
    pull requests has: deleting it would lose it. Decided from the branch's
    head (in base, or a pull request's head, so a history with merges cannot
    hide a commit), then from content: commits whose every change base
    already holds (a twin run's commit of the same change) lose nothing."""
    if snapshot.branch_sha is None or snapshot.branch_in_base:
        return False
    if snapshot.branch_sha in _pull_heads(snapshot):
        return False
    return not _base_holds_the_branchs_changes(snapshot)


_MISSING = object()


def _base_holds_the_branchs_changes(snapshot: RepoSnapshot) -> bool:
    """Every path the branch changes since it forked has on base what it has
    on the branch (requested paths: blob and kind; the others: blob)."""
    if not snapshot.paths_complete:
        return False
    for path in snapshot.paths_beyond_base:
        if path in snapshot.branch_blobs:
            same = snapshot.base_blobs.get(path, _MISSING) == snapshot.branch_blobs[path]
            same = same and snapshot.base_kinds.get(path) == snapshot.branch_kinds.get(path)
        else:
            on_base = snapshot.brought_on_base.get(path, _MISSING)
            same = on_base is not _MISSING and on_base == snapshot.brought_on_branch.get(path)
        if not same:
            return False
    return True


def _unmerged_commits(snapshot: RepoSnapshot) -> tuple[CommitInfo, ...]:
    """The commits ``_unmerged_on_branch`` is about, for the words: those
    listed after the newest one that is a pull request's head (all of them
    when none is)."""
    commits = snapshot.commits_beyond_base
    heads = _pull_heads(snapshot)
    last = max((i for i, commit in enumerate(commits) if commit.sha in heads), default=-1)
    return commits[last + 1 :]


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
    modifies = bool(modified_paths(snapshot.base_blobs, desired))
    if pr is PRState.OPEN and snapshot.branch_sha is not None:
        modifies = modifies or bool(modified_paths(snapshot.branch_blobs, desired))
    on_head = snapshot.branch_sha is not None and not head_is_base
    return Situation(
        **_gate_facts(snapshot, request, pr),
        armed_by=armed_by(snapshot, pr) if on_head else ArmedBy.NOBODY,
        edit_fails=False,
        branch_protected=on_head
        and (request.branch == snapshot.default_branch or snapshot.branch_protected),
        foreign_on_head=on_head and _foreign_on_head(snapshot),
        unmerged_on_branch=on_head and _unmerged_on_branch(snapshot),
        branch_in_use=(on_head and _branch_in_use(snapshot))
        or (head_is_base and bool(snapshot.other_pull_requests)),
        merge_foreign_commits=request.merge_foreign_commits,
        pr=pr,
        branch=branch,
        head_is_base=head_is_base,
        in_place=not _differs(snapshot.base_blobs, desired),
        modifies=modifies,
        pr_behind=pr is PRState.OPEN and bool(undelivered_paths(snapshot, desired)),
        create_pr=request.create_pr,
        automerge=request.automerge,
        allow_modification=request.allow_modification,
        on_closed=request.on_closed,
        branch_policy=request.branch_policy,
        delete_branch=request.delete_branch,
        close_superseded=pr is PRState.OPEN and request.close_superseded,
        pr_own=own_request_id(snapshot) == request.request_id,
    )


def _gate_facts(snapshot: RepoSnapshot, request: ChangeRequest, pr: PRState) -> dict[str, Any]:
    """The gate's dimensions. They describe a merge: without automerge
    nothing is merged (and prplan never touches an auto-merge a human set),
    so they keep their neutral values; the gate and armed describe the open
    pull request only."""
    if not request.automerge:
        return {}
    facts: dict[str, Any] = {
        "merge_queue": snapshot.merge_queue,
        "merge_when": request.merge_when,
    }
    open_pr = next((p for p in snapshot.pull_requests if p.is_open), None)
    if pr is PRState.OPEN and open_pr is not None:
        facts.update(gate=_gate_after_ready(open_pr.gate, request), armed=open_pr.armed)
    return facts


def _gate_after_ready(gate: Gate, request: ChangeRequest) -> Gate:
    """A draft the request marks ready (``draft=False``: the metadata step
    plans ``MarkReadyForReview`` before any merge) has, under auto or wait,
    a gate nobody knows yet: pending, so GitHub's auto-merge (or the queue)
    merges it once its checks and reviews allow. Under ``now`` it stays a
    draft (refused: a merge now cannot wait for a gate not known yet)."""
    if gate is Gate.DRAFT and request.draft is False and request.merge_when is not MergeWhen.NOW:
        return Gate.PENDING
    return gate


_MERGE_KINDS = MERGE_KINDS


# --- 2. notes ------------------------------------------------------------------------


def _mentioned(mention: Mention, snapshot: RepoSnapshot) -> int | None:
    """The pull request a rule's ``mentions`` names, if there is one."""
    latest = latest_pull_request(snapshot.pull_requests)
    if mention is Mention.OPEN:
        numbers = open_pulls(snapshot)
        return numbers[0] if numbers else None
    if mention is Mention.MERGED_EARLIER and latest is not None and not latest.merged:
        return None
    if mention is Mention.MERGED_CLEAN_UP:
        return None  # said in the branch deletion's reason, not as a note
    return latest.number if latest is not None else None


def _notes(rule: Rule, situation: Situation, snapshot: RepoSnapshot) -> list[str]:
    """What a reviewer should know: the rule's own note and pull request
    (both on its row), then what the flags asked for that the plan does not
    do, and the commits a kept head holds that are not prplan's."""
    notes = [rule.note] if rule.note else []
    if rule.waits:
        notes.append(_waiting_for(snapshot))
    number = _mentioned(rule.mentions, snapshot) if rule.mentions is not None else None
    if rule.mentions is not None and number is not None:
        notes.append(rule.mentions.words(number))
    kinds = rule.actions_for(situation)
    if situation.automerge and not rule.refuse:
        merges = ActionKind.MERGE_PULL_REQUEST in kinds
        if not merges and (
            situation.head_is_base or not (situation.create_pr or situation.pr is PRState.OPEN)
        ):
            notes.append("automerge is ignored: there is no pull request to merge")
    if situation.foreign_on_head and kinds and ActionKind.RESET_BRANCH not in kinds:
        foreign = foreign_commits(snapshot)
        if foreign or not snapshot.commits_complete:
            merges = bool(_MERGE_KINDS & set(kinds))
            notes.append(
                "the branch holds commits prplan did not make: "
                f"{commits_listed(foreign) or 'not all listed'}"
                + ("; merge_foreign_commits is on, so the merge brings them too" if merges else "")
            )
    return notes + _delete_notes(rule, situation, snapshot)


def _waiting_for(snapshot: RepoSnapshot) -> str:
    """What an armed merge waits for: "auto-merge is on; waiting for ci/lint"."""
    open_pr = next((p for p in snapshot.pull_requests if p.is_open), None)
    if open_pr is None:  # the table says it only of an open pull request
        return "waiting for the merge"
    armed = "in the merge queue" if open_pr.armed is MergeArmed.QUEUED else "auto-merge is on"
    if open_pr.gate is Gate.NEEDS_REVIEW:
        return f"{armed}; waiting for an approving review"
    if open_pr.pending_checks:
        return f"{armed}; waiting for {', '.join(open_pr.pending_checks)}"
    return f"{armed}; waiting for the merge"


def _delete_notes(rule: Rule, situation: Situation, snapshot: RepoSnapshot) -> list[str]:
    if not situation.delete_branch:
        return []
    notes = []
    if situation.branch_in_use and rule.then_delete:
        notes.append("delete_branch is ignored: other open pull requests use the branch")
    if rule.refuse or ActionKind.DELETE_BRANCH in rule.actions_for(situation):
        return notes
    merged = situation.pr is PRState.MERGED and situation.in_place
    if merged and situation.unmerged_on_branch:
        notes.append(_unmerged_note(snapshot))
    elif situation.head_is_base:
        notes.append("delete_branch is ignored: the base branch is never deleted")
    elif rule.actions:
        notes.append("delete_branch applies only after a merge; the branch is kept")
    return notes


def _unmerged_note(snapshot: RepoSnapshot) -> str:
    """Why a merged pull request's branch is kept: "delete_branch is
    ignored: the branch holds 1 commit not merged: abc1234 'tag 2' by ..."."""
    commits = _unmerged_commits(snapshot)
    listed = commits_listed(commits)
    if not commits or not snapshot.commits_complete:
        listed = f"{listed}; not all listed" if listed else "not all listed"
    count = f"{len(commits)} commit" + ("" if len(commits) == 1 else "s")
    held = count if commits and snapshot.commits_complete else "commits"
    return (
        f"delete_branch is ignored: the branch holds {held} not merged: {listed} "
        "(in no pull request, and base lacks their changes: deleting the branch would lose them)"
    )


# --- 3. materialisation -------------------------------------------------------------


@attrs.define(kw_only=True)
class _Steps:
    """The actions made so far, and where the branch's head is before the next."""

    rule: Rule
    situation: Situation
    snapshot: RepoSnapshot
    request: ChangeRequest
    head: str | None
    committed: bool = False
    actions: list[act.Action] = attrs.Factory(list)


def _materialise(
    rule: Rule, situation: Situation, snapshot: RepoSnapshot, request: ChangeRequest
) -> tuple[act.Action, ...]:
    """The rule's action kinds with their shas, paths and reasons, in order."""
    steps = _Steps(
        rule=rule,
        situation=situation,
        snapshot=snapshot,
        request=request,
        head=snapshot.branch_sha,
    )
    for kind in rule.actions_for(situation):
        steps.actions.append(_STEP[kind](steps))
    return tuple(steps.actions)


def _create_branch(steps: _Steps) -> act.Action:
    snapshot, branch = steps.snapshot, steps.request.branch
    steps.head = snapshot.base_sha
    return act.CreateBranch(
        branch=branch,
        sha=snapshot.base_sha,
        reason=f"the branch {branch!r} does not exist: create it at {snapshot.base} "
        f"({short(snapshot.base_sha)})",
    )


def _reset_branch(steps: _Steps) -> act.Action:
    snapshot, branch = steps.snapshot, steps.request.branch
    if steps.situation.pr is PRState.OPEN:
        return _rebase_branch(steps)
    why = (
        "it holds commits that are not prplan's, but branch_policy is 'reset'"
        if steps.situation.branch is BranchSituation.FOREIGN
        else _disposable_why(snapshot)
    )
    return _to_base(
        steps,
        f"the branch {branch!r} lacks the change and {why}: reset it to "
        f"{snapshot.base} ({short(snapshot.base_sha)}), dropping "
        f"{len(snapshot.commits_beyond_base)} commit(s)",
    )


def _rebase_branch(steps: _Steps) -> act.Action:
    """An open pull request behind base (or conflicting) whose commits are
    all prplan's: its commit is made again on base's head, in the same ref
    write as the commit that follows (never a merge of base into it)."""
    snapshot, branch = steps.snapshot, steps.request.branch
    return _to_base(
        steps,
        f"the pull request's gate is {_open_gate(snapshot)} and every commit on {branch!r} "
        f"beyond base is prplan's: make prplan's commit again on {snapshot.base} "
        f"({short(snapshot.base_sha)}), replacing {len(snapshot.commits_beyond_base)} commit(s)",
    )


def _to_base(steps: _Steps, reason: str) -> act.Action:
    """The branch reset to base's head, dropping its commits beyond base."""
    snapshot = steps.snapshot
    assert snapshot.branch_sha is not None  # the table resets only existing branches
    steps.head = snapshot.base_sha
    return act.ResetBranch(
        branch=steps.request.branch,
        from_sha=snapshot.branch_sha,
        to_sha=snapshot.base_sha,
        dropped=snapshot.commits_beyond_base,
        reason=reason,
    )


def _commit(steps: _Steps) -> act.Action:
    snapshot, head = steps.snapshot, steps.head
    assert head is not None
    # Compare against what the commit's parent holds: base after a
    # create/reset (or when committing to base), else the branch.
    on_parent = snapshot.base_blobs if head == snapshot.base_sha else snapshot.branch_blobs
    files = tuple(
        act.FileChange(path=path, old_sha=on_parent.get(path), new_sha=sha)
        for path, sha in steps.request.desired_blob_shas().items()
        if on_parent.get(path) != sha
    )
    target = "base" if steps.situation.head_is_base else f"the branch {steps.request.branch!r}"
    steps.committed = True
    return act.Commit(
        branch=steps.request.branch,
        parent_sha=head,
        files=files,
        message=commit_message(steps.request),
        author=steps.request.author,
        reason=f"{len(files)} path(s) differ from the request on {target}: "
        f"commit them in one commit on {short(head)}",
    )


def _create_pull_request(steps: _Steps) -> act.Action:
    branch, base = steps.request.branch, steps.snapshot.base
    return act.CreatePullRequest(
        head=branch,
        base=base,
        title=steps.request.pr_title,
        body=steps.request.body,
        reason=f"create_pr is on and no pull request is open from {branch} into {base}",
    )


def _merge_facts(steps: _Steps) -> tuple[int | None, str, dict[str, Any]]:
    """The pull request a merge step names (None: the one this plan opens),
    its words, and what its merge brings."""
    snapshot = steps.snapshot
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    number = open_pr.number if open_pr is not None else None
    which = f"#{number}" if number is not None else "the new pull request"
    # What the merge brings: the head's own commits (none once reset
    # to base) and every path they change, plus this plan's commit.
    kept = steps.head == snapshot.branch_sha
    ours = {f.path for a in steps.actions if isinstance(a, act.Commit) for f in a.files}
    beyond = set(snapshot.paths_beyond_base) if kept else set()
    return (
        number,
        which,
        {
            "number": number,
            "expected_head_sha": None if steps.committed else steps.head,
            "brings_commits": snapshot.commits_beyond_base if kept else (),
            "brings_paths": tuple(sorted(beyond | ours)),
            "brings_complete": not kept or (snapshot.paths_complete and snapshot.commits_complete),
        },
    )


def _merge_pull_request(steps: _Steps) -> act.Action:
    method = steps.request.merge_method.value
    _, which, facts = _merge_facts(steps)
    snapshot, head = steps.snapshot, "if its head is still the commit reviewed"
    reason = f"automerge is on: merge {which} ({method}) {head}"
    if snapshot.base_protected and steps.request.merge_when is not MergeWhen.NOW:
        # The executor arms first there (run/gated.py): say so.
        auto = f"enable GitHub's auto-merge ({method}) on it"
        arming = "enqueue it in the merge queue" if snapshot.merge_queue else auto
        reason = (
            f"automerge is on and {snapshot.base} is protected: first {arming}, which merges "
            f"{which} once its gate clears; merge it directly ({method}) only if GitHub answers "
            "that it can merge now, and only if its head is still the commit reviewed"
        )
    elif snapshot.base_protected:  # the executor reads the gate first (run/gated.py)
        reason = (
            f"automerge is on and {snapshot.base} is protected: its gate is read right before "
            f"the merge, which happens only if the gate is clean: merge {which} ({method}) {head}"
        )
    return act.MergePullRequest(method=method, reason=reason, **facts)


def _enable_auto_merge(steps: _Steps) -> act.Action:
    method = steps.request.merge_method.value
    _, which, facts = _merge_facts(steps)
    gate = _open_gate(steps.snapshot)
    return act.EnableAutoMerge(
        method=method,
        reason=f"automerge is on and {which} is not mergeable yet ({gate}): enable GitHub's "
        f"auto-merge ({method}), which merges it once its gate clears",
        **facts,
    )


def _enqueue(steps: _Steps) -> act.Action:
    _, which, facts = _merge_facts(steps)
    return act.Enqueue(
        reason=f"automerge is on and {steps.snapshot.base} merges through a merge queue: "
        f"add {which} to the queue, which merges it (and chooses the merge method)",
        **facts,
    )


def _disarm_merge(steps: _Steps) -> act.Action:
    return disarm_action(steps.snapshot, steps.situation)


def _open_gate(snapshot: RepoSnapshot) -> str:
    """The open pull request's gate in words: "pending: ci/lint"."""
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    if open_pr is None:
        return "its gate is not known yet"
    checks = open_pr.failing_checks or open_pr.pending_checks
    return f"{open_pr.gate.value}: {', '.join(checks)}" if checks else open_pr.gate.value


def _delete_branch(steps: _Steps) -> act.Action:
    mention = steps.rule.mentions
    expected = None  # after this plan's merge: the head it merged
    if mention is Mention.MERGED_CLEAN_UP:
        latest = latest_pull_request(steps.snapshot.pull_requests)
        after = mention.words(latest.number if latest else 0)
        expected = steps.snapshot.branch_sha
    elif ActionKind.CLOSE_PULL_REQUEST in steps.rule.actions:  # only the head observed
        after, expected = "once its pull request is closed", steps.snapshot.branch_sha
    else:
        after = "after the merge"
    return act.DeleteBranch(
        branch=steps.request.branch,
        reason=f"delete_branch is on: remove the branch {after}",
        expected_sha=expected,
    )


#: How each action kind is filled in (the table chose the kinds and their order).
_STEP: Mapping[ActionKind, Callable[[_Steps], act.Action]] = {
    ActionKind.CREATE_BRANCH: _create_branch,
    ActionKind.RESET_BRANCH: _reset_branch,
    ActionKind.COMMIT: _commit,
    ActionKind.CREATE_PULL_REQUEST: _create_pull_request,
    ActionKind.MERGE_PULL_REQUEST: _merge_pull_request,
    ActionKind.ENABLE_AUTO_MERGE: _enable_auto_merge,
    ActionKind.ENQUEUE: _enqueue,
    ActionKind.DISARM_MERGE: _disarm_merge,
    ActionKind.DELETE_BRANCH: _delete_branch,
    ActionKind.CLOSE_PULL_REQUEST: lambda steps: close_action(steps.snapshot, steps.request),
}


def _disposable_why(snapshot: RepoSnapshot) -> str:
    if snapshot.branch_in_base:
        return "base already contains it"
    prs = [pr.number for pr in snapshot.pull_requests if pr.head_sha == snapshot.branch_sha]
    if prs:
        return f"pull request #{prs[0]} preserves its head"
    return "every commit on it beyond base is prplan's"
