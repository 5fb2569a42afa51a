"""The executor's merge gates: a merge GitHub defers, and waiting for it.

* ``merge_or_arm``: under ``merge_when`` auto or wait on an unprotected
  base, a merge the forge refuses because of the gate (``MergeBlocked``) is
  handed to GitHub instead: enqueued where the snapshot says base has a
  merge queue, else native auto-merge; a clean gate pays nothing extra (the
  merge goes through). On a protected base (``RepoSnapshot.base_protected``)
  the order is the other way round: arm first, merge directly only when
  GitHub answers that the pull request can merge now (``MergeableNow``),
  because GitHub lets an administrator's token merge past pending checks
  and missing reviews. Under ``now`` on a protected base the gate is read
  right before the merge (one query) and the merge happens only if it is
  clean, else ``MergeBlocked`` names the gate (an administrator's token
  never merges past it); on an unprotected base the merge is tried and a
  refusal stops the apply.
* ``arm``: a plan's ``EnableAutoMerge`` / ``Enqueue`` action.
* ``arming_moved``: what a saved plan's recheck compares of the arming
  (base's protection, the merge queue, auto-merge or queued on the open
  pull request).
* ``disarmed``: a plan that only turned prplan's own arming off (its
  branch holds commits prplan did not make): the outcome ``disarmed``.
* ``waited``: ``merge_when='wait'``: after the apply, poll until merged
  (the outcome becomes ``merged``), a required check fails (``failed``,
  ``MergeBlocked``), the head moves from the one armed (``failed``,
  ``HeadMovedAfterArming``, also when GitHub merged that other head; not
  merged yet, prplan first turns off the arming this run made),
  nothing is armed any more (``failed``, ``MergeDisarmed``) or
  ``wait_timeout`` passes (``failed``, ``WaitTimedOut``); a branch deletion
  the plan held back runs only after a merge at the armed head.
"""

from __future__ import annotations

import attrs

from prplan.core.actions import (
    DeleteBranch,
    DisarmMerge,
    EnableAutoMerge,
    Enqueue,
    MergePullRequest,
)
from prplan.core.plan import Plan
from prplan.core.request import MergeMethod, MergeWhen
from prplan.core.snapshot import Gate, MergeArmed, PullRequestInfo, RepoSnapshot
from prplan.core.states import ActionKind
from prplan.errors import ForgeError, MergeableNow, MergeBlocked, NotFoundError, PrplanError
from prplan.run.outcome import ActionResult, ActionStatus, Outcome, OutcomeStatus
from prplan.run.port import ForgeClient
from prplan.run.waiting import Waiter, wait_for_merges

__all__ = [
    "merge_or_arm", "arm", "waited", "left_to_github", "merged_later", "armed_head",
    "arming_moved", "disarm", "disarmed", "HELD_BACK", "armed_in_run",
]  # fmt: skip

#: An action result's detail for a branch deletion held back because the
#: merge was left to GitHub.
HELD_BACK = (
    "not run: the pull request is not merged yet (GitHub merges it when its gate clears); "
    "the branch is deleted after the merge (merge_when='wait', or the next run)"
)


def merge_or_arm(
    client: ForgeClient, plan: Plan, number: int, method: str, expected: str
) -> tuple[str | None, OutcomeStatus | None, str]:
    """Merge now, or (auto/wait, gate not clean) let GitHub merge later.
    Returns the merge sha, or None and what was armed with why. On a
    protected base under auto/wait the merge is armed first (``_arm_first``):
    an administrator's token would merge past the gate."""
    repo = plan.request.repo
    if plan.request.merge_when is not MergeWhen.NOW and plan.observed.base_protected:
        return _arm_first(client, plan, number, method, expected)
    if plan.observed.base_protected:
        _gate_clean_now(client, plan, number)
    try:
        return (
            client.merge_pull_request(repo, number, method=method, expected_head_sha=expected),
            None,
            "",
        )
    except MergeBlocked as blocked:
        if plan.request.merge_when is MergeWhen.NOW:
            raise
        refused = blocked
    try:
        if plan.observed.merge_queue:  # observe reads it whenever automerge
            client.enqueue(repo, number, expected_head_sha=expected)
            return None, OutcomeStatus.QUEUED, f"{refused}: enqueued in the merge queue instead"
        client.enable_auto_merge(
            repo, number, method=MergeMethod(method), expected_head_sha=expected
        )
    except (MergeBlocked, ForgeError) as also:
        # The gate may have cleared between the refusal and the arming (a
        # check reported meanwhile, and GitHub will not arm a pull request
        # that can merge now): merge now, once.
        try:
            sha = client.merge_pull_request(repo, number, method=method, expected_head_sha=expected)
        except PrplanError:
            pass
        else:
            return sha, None, ""
        # The merge's refusal is the news; the fallback's says why no more was done.
        raise MergeBlocked(
            number, f"{_reason(refused)}; nor could GitHub merge it later: {_reason(also)}"
        ) from None
    return None, OutcomeStatus.AUTO_MERGE_ENABLED, f"{refused}: GitHub's auto-merge enabled instead"


def _gate_clean_now(client: ForgeClient, plan: Plan, number: int) -> None:
    """``merge_when='now'`` on a protected base: the pull request's gate,
    read right before the direct merge (one query), must be clean; else
    ``MergeBlocked`` naming it. GitHub lets an administrator's token merge
    past a gate (protection without "include administrators", a ruleset
    bypass); ``now`` means "merge if the gate allows it", never a bypass."""
    info = client.pull_request_gate(plan.request.repo, number)
    if info.gate is Gate.CLEAN:
        return
    named = [f"failing: {', '.join(info.failing_checks)}"] if info.failing_checks else []
    named += [f"pending: {', '.join(info.pending_checks)}"] if info.pending_checks else []
    checks = f" ({'; '.join(named)})" if named else ""
    raise MergeBlocked(
        number,
        f"{plan.observed.base} is protected and its gate is {info.gate.value}{checks}; "
        "merge_when='now' merges only through a clean gate (never past it with an "
        "administrator's token). Run again once the gate is clean, or use merge_when='auto' "
        "to let GitHub merge it when the gate clears",
    )


def disarm(client: ForgeClient, repo: str, index: int, action: object) -> ActionResult:
    """Carry out a ``DisarmMerge`` action: prplan's own arming turned off."""
    assert isinstance(action, DisarmMerge)
    client.disarm_merge(repo, action.number, armed=action.armed)
    return ActionResult(
        index=index, kind=action.kind, status=ActionStatus.DONE, pull_request=action.number
    )


def disarmed(plan: Plan, outcome: Outcome) -> Outcome:
    """A plan whose one action turned off prplan's own arming, done: the
    outcome ``disarmed`` (not ok), with the action's reason as the error, so
    the run ends non-zero saying why."""
    kinds = [action.kind for action in plan.actions]
    if kinds != [ActionKind.DISARM_MERGE] or outcome.status is OutcomeStatus.FAILED:
        return outcome
    return attrs.evolve(
        outcome,
        status=OutcomeStatus.DISARMED,
        error=plan.actions[0].reason,
        error_type=OutcomeStatus.DISARMED.value,
    )


#: The repository setting GitHub's auto-merge needs, as GitHub's UI names it.
AUTO_MERGE_SETTING = '"Allow auto-merge" (Settings > General > Pull Requests)'


def _arm(
    client: ForgeClient, repo: str, queue: bool, number: int, method: str, expected: str
) -> OutcomeStatus:
    """Enqueue (base has a merge queue) or enable auto-merge, at ``expected``."""
    if queue:
        client.enqueue(repo, number, expected_head_sha=expected)
        return OutcomeStatus.QUEUED
    client.enable_auto_merge(repo, number, method=MergeMethod(method), expected_head_sha=expected)
    return OutcomeStatus.AUTO_MERGE_ENABLED


def _arm_first(
    client: ForgeClient, plan: Plan, number: int, method: str, expected: str
) -> tuple[str | None, OutcomeStatus | None, str]:
    """A protected base under auto/wait: arm GitHub's merge (queue, else
    auto-merge) and merge directly only when GitHub answers that the pull
    request can merge now (``MergeableNow``): a direct merge first would go
    through past pending checks and missing reviews with an administrator's
    token (protection without "include administrators", a ruleset bypass).
    Any other refusal to arm stops with ``MergeBlocked``, never a merge."""
    repo, queue = plan.request.repo, plan.observed.merge_queue
    for attempt in range(2):
        try:
            armed = _arm(client, repo, queue, number, method, expected)
        except MergeableNow:
            try:  # a refusal here: the gate closed again meanwhile; arm once more
                sha = client.merge_pull_request(
                    repo, number, method=method, expected_head_sha=expected
                )
            except MergeBlocked:
                if attempt:
                    raise
                continue
            return sha, None, ""
        except (MergeBlocked, ForgeError) as refused:
            if isinstance(refused, NotFoundError):
                raise
            raise MergeBlocked(number, _not_armed(client, plan, number, refused)) from None
        where = "enqueued in the merge queue" if queue else "GitHub's auto-merge enabled"
        return (
            None,
            armed,
            f"{plan.observed.base} is protected: {where} first (never a direct merge past its gate)",
        )
    raise AssertionError("unreachable")  # pragma: no cover


def _not_armed(client: ForgeClient, plan: Plan, number: int, refused: PrplanError) -> str:
    """Why a protected base's merge stops: the gate (read once more, when
    the forge answers) and the setting that would let GitHub merge it."""
    try:
        info = client.pull_request_gate(plan.request.repo, number)
    except PrplanError:
        gate = "its gate is not known"
    else:
        checks = info.failing_checks or info.pending_checks
        gate = f"its gate is {info.gate.value}" + (f" ({', '.join(checks)})" if checks else "")
    what = "enqueue it" if plan.observed.merge_queue else "enable auto-merge"
    turn_on = (
        "check the merge queue of " + plan.observed.base
        if plan.observed.merge_queue
        else f"turn on the repository setting {AUTO_MERGE_SETTING}"
    )
    return (
        f"{plan.observed.base} is protected and {gate}; GitHub would not {what}: "
        f"{_reason(refused)}. prplan does not merge directly past a protected base's gate "
        f"under merge_when='{plan.request.merge_when.value}': {turn_on}, or merge with "
        "merge_when='now' once the gate is clean"
    )


def _reason(error: PrplanError) -> str:
    """A refusal's words without the "pull request #N cannot be merged" head."""
    text = str(error)
    return text.split(": ", 1)[1] if isinstance(error, MergeBlocked) and ": " in text else text


def arm(
    client: ForgeClient,
    repo: str,
    action: EnableAutoMerge | Enqueue,
    number: int,
    expected: str,
    *,
    protected: bool = False,
) -> tuple[str | None, OutcomeStatus]:
    """Carry out an ``EnableAutoMerge`` or ``Enqueue`` action. GitHub
    refuses auto-merge on a pull request that can merge now (its gate
    cleared since the plan, ``MergeableNow``): it is then merged now. On an
    unprotected base any other refusal is followed by a merge attempt too
    (which cannot pass a gate there); on a ``protected`` base it stands,
    as ``MergeBlocked`` (a direct merge could pass the gate with an
    administrator's token), and if the merge fails, the refusal stands."""
    if isinstance(action, Enqueue):
        client.enqueue(repo, number, expected_head_sha=expected)
        return None, OutcomeStatus.QUEUED
    method = MergeMethod(action.method)
    try:
        client.enable_auto_merge(repo, number, method=method, expected_head_sha=expected)
    except (MergeBlocked, ForgeError) as refused:
        if protected and not isinstance(refused, MergeableNow):
            if isinstance(refused, MergeBlocked):
                raise
            raise MergeBlocked(
                number,
                f"GitHub would not enable auto-merge: {refused}. prplan does not merge directly "
                f"past a protected base's gate: turn on the repository setting {AUTO_MERGE_SETTING}, "
                "or merge with merge_when='now' once the gate is clean",
            ) from None
        try:
            sha = client.merge_pull_request(
                repo, number, method=method.value, expected_head_sha=expected
            )
        except PrplanError:
            raise refused from None
        return sha, OutcomeStatus.MERGED
    return None, OutcomeStatus.AUTO_MERGE_ENABLED


def arming_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """For a saved plan's recheck: whether base merges through a queue, and
    how each open pull request is armed (auto-merge, queued, nothing), as
    ``(fact, planned, now)`` where they differ. Observe reads both only when
    the request automerges, so only then can they differ."""
    moved = []
    if planned.base_protected != current.base_protected:
        on = {True: "protected", False: "not protected"}
        fact = f"protection of {current.base}"
        moved.append((fact, on[planned.base_protected], on[current.base_protected]))
    if planned.merge_queue != current.merge_queue:
        on = {True: "on", False: "off"}
        fact = f"merge queue on {current.base}"
        moved.append((fact, on[planned.merge_queue], on[current.merge_queue]))
    now = {pr.number: pr for pr in current.pull_requests if pr.is_open}
    for pr in planned.pull_requests:
        seen = now.get(pr.number)
        if pr.is_open and seen is not None and seen.armed is not pr.armed:
            moved.append((f"pull request #{pr.number} armed", pr.armed.value, seen.armed.value))
    return moved


def _armed_already(plan: Plan, outcome: Outcome) -> bool:
    """An empty plan because a merge is already armed ("auto-merge is on;
    waiting for ci/lint"): waiting is still what ``wait`` asks."""
    open_pr = next((pr for pr in plan.observed.pull_requests if pr.is_open), None)
    return (
        outcome.status is OutcomeStatus.UNCHANGED
        and open_pr is not None
        and open_pr.armed is not MergeArmed.NONE
    )


def left_to_github(plan: Plan, outcome: Outcome) -> bool:
    """The outcome's pull request is to be merged by GitHub later: this run
    armed it (auto-merge, queue), or found it armed and had nothing to do."""
    if outcome.pull_request is None:
        return False
    armed = outcome.status in {OutcomeStatus.AUTO_MERGE_ENABLED, OutcomeStatus.QUEUED}
    return armed or _armed_already(plan, outcome)


def armed_in_run(outcome: Outcome) -> bool:
    """This run armed the outcome's pull request (auto-merge, queue): the
    one arming prplan turns off when the head moves while it waits."""
    return outcome.status in {OutcomeStatus.AUTO_MERGE_ENABLED, OutcomeStatus.QUEUED}


def armed_head(plan: Plan, outcome: Outcome) -> str | None:
    """The head the outcome's pull request was armed at (the merge action's
    expected head, as the executor sends it), or the head the plan saw when
    it found the pull request armed already: the only commit GitHub may
    merge for this plan. None when neither is known."""
    for action in plan.actions:
        if isinstance(action, (MergePullRequest, EnableAutoMerge, Enqueue)):
            return action.expected_head_sha or outcome.commit_sha
    open_pr = next((pr for pr in plan.observed.pull_requests if pr.is_open), None)
    if open_pr is not None and open_pr.number == outcome.pull_request:
        return open_pr.head_sha
    return None


def merged_later(
    client: ForgeClient, plan: Plan, outcome: Outcome, info: PullRequestInfo
) -> Outcome:
    """The outcome once GitHub merged the pull request: ``merged``, and the
    branch deletion held back until then done now."""
    results = [_deleted_now(client, plan, r, info.head_sha) for r in outcome.actions]
    return attrs.evolve(
        outcome, status=OutcomeStatus.MERGED, merge_sha=info.merge_sha, actions=tuple(results)
    )


def waited(plan: Plan, client: ForgeClient, outcome: Outcome, waiter: Waiter | None) -> Outcome:
    """``merge_when='wait'``: the outcome once the wait ended (unchanged
    when there is nothing to wait for)."""
    request = plan.request
    if request.merge_when is not MergeWhen.WAIT or not left_to_github(plan, outcome):
        return outcome
    assert outcome.pull_request is not None
    try:
        (info,) = wait_for_merges(
            client, [(request.repo, outcome.pull_request)], timeout=request.wait_timeout,
            waiter=waiter, what=request.repo, armed_at=[armed_head(plan, outcome)],
            ours=[armed_in_run(outcome)],
        )  # fmt: skip
    except PrplanError as error:
        return attrs.evolve(
            outcome, status=OutcomeStatus.FAILED, error=str(error), error_type=type(error).__name__
        )
    return merged_later(client, plan, outcome, info)


def _deleted_now(
    client: ForgeClient, plan: Plan, result: ActionResult, merged_head: str
) -> ActionResult:
    """A branch deletion held back until the merge: run it now that the
    pull request is merged at ``merged_head``, only while the branch is
    still there (a failure is reported, the merge stands)."""
    if result.kind is not ActionKind.DELETE_BRANCH or result.detail != HELD_BACK:
        return result
    action = plan.actions[result.index]
    assert isinstance(action, DeleteBranch)
    try:
        client.delete_branch(plan.request.repo, action.branch, expected_sha=merged_head)
    except PrplanError as error:
        return attrs.evolve(result, status=ActionStatus.FAILED, detail=str(error))
    return attrs.evolve(result, status=ActionStatus.DONE, detail="")
