"""``apply(plan, client)``: carry out exactly the plan, or nothing.

First, without a request to the forge, the plan must be what the planner
derives from its own request and snapshot, and the reviewed one when
``expect_digest`` pins it (``PlanIntegrityError`` otherwise; see
``prplan.core.integrity``): a hand-edited plan is never applied, digest or not.

Before writing, the executor observes again and refuses the whole plan with
``StalePlanError`` if a fact the plan relied on moved: the branch head, the
set and states of pull requests, the blob of any requested path on base or
branch, which branch is base, an open pull request's gate and who armed its
merge (``prplan.run.recheck``). (Base merely moving ahead is not enough: a
plan that creates a branch at the old base is still a correct plan.)

Then it runs the actions in order. Every write is compare-and-swap (commits
name their parent, resets their old sha, merges the expected head), so a
race with a human loses cleanly rather than clobbering. The first failure
stops the run; the ``Outcome`` lists each action as done, failed or not run.
A crash between two actions leaves the repository in a state from which the
next ``observe``/``plan``/``apply`` carries on: that is what the decision
table's "branch already holds the change" rows are for.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prplan.core.actions import (
    METADATA_ACTIONS,
    Action,
    ClosePullRequest,
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    EnableAutoMerge,
    Enqueue,
    MergePullRequest,
    ResetBranch,
    UpdatePullRequest,
)
from prplan.core.integrity import check_plan
from prplan.core.plan import Plan
from prplan.core.states import MERGE_KINDS, ActionKind
from prplan.errors import ConflictError, PrplanError
from prplan.run.gated import HELD_BACK, arm, disarm, disarmed, merge_or_arm, waited
from prplan.run.metadata import apply_metadata
from prplan.run.outcome import ActionResult, ActionStatus, Outcome, OutcomeStatus, Reporter
from prplan.run.port import ForgeClient, RequestCount, WriteIdentity, counting_requests
from prplan.run.pr_text import apply_pr_text, body_to_write
from prplan.run.recheck import moved_facts
from prplan.run.recheck import recheck as rechecked
from prplan.run.waiting import Waiter

__all__ = ["apply", "moved_facts"]


def apply(
    plan: Plan,
    client: ForgeClient,
    *,
    reporter: Reporter | None = None,
    recheck: bool = True,
    observed_at: float | None = None,
    expect_digest: str | None = None,
    observed_with: RequestCount | None = None,
    waiter: Waiter | None = None,
) -> Outcome:
    """Apply ``plan`` through ``client``. Raises ``StalePlanError`` (writing
    nothing) if the repository moved; otherwise returns an ``Outcome``.

    ``recheck=False`` skips the second observation, for a plan made moments
    ago by the same process (``prplan apply TARGET CHANGE``): it saves one
    observation's requests, and compare-and-swap on every write still makes
    a race lose cleanly. A saved plan should always be rechecked.
    ``observed_at`` (``time.monotonic()``) is when a plan applied without
    recheck was observed; by default, now.

    Before anything else, ``PlanIntegrityError`` (nothing read or written)
    if the plan is not what the planner derives from its own request and
    snapshot, or if ``expect_digest`` (the reviewed plan's digest, as
    ``prplan plan`` prints it) is given and differs.

    ``observed_with``: the requests the plan's observation took, when this
    call does not observe again (``recheck=False``); the outcome's
    ``requests`` then count every request the change took.

    ``merge_when='wait'``: once applied, wait (``waiter``: sleep, clock,
    progress) until GitHub merged the pull request; see ``run.gated``."""
    check_plan(plan, expect_digest=expect_digest)
    return _apply_checked(
        plan, client, reporter=reporter, recheck=recheck, observed_at=observed_at,
        observed_with=observed_with, waiter=waiter,
    )  # fmt: skip


def _apply_checked(
    plan: Plan,
    client: ForgeClient,
    *,
    reporter: Reporter | None,
    recheck: bool,
    observed_at: float | None,
    observed_with: RequestCount | None = None,
    waiter: Waiter | None = None,
) -> Outcome:
    """``apply`` of a plan ``check_plan`` accepted. (Tests call it directly
    to run a plan cut short, as a crash would leave it.)"""
    before = client.request_count()
    # Count this thread's requests: other threads may share the client (a
    # change set checks its repositories concurrently).
    with counting_requests() as tally:

        def spent() -> RequestCount:
            own = tally.count if tally.reads or tally.writes else client.request_count() - before
            return own + (observed_with or RequestCount())

        return _apply_counted(plan, client, reporter, recheck, observed_at, spent, waiter)


def _apply_counted(
    plan: Plan,
    client: ForgeClient,
    reporter: Reporter | None,
    recheck: bool,
    observed_at: float | None,
    spent: Callable[[], RequestCount],
    waiter: Waiter | None = None,
) -> Outcome:
    reporter = reporter or Reporter()
    if plan.refusal is not None:
        outcome = _refused(plan, spent())
    else:
        # An empty plan is rechecked too: "nothing to do" is a claim about the
        # repository (base holds the content), and base may have been reverted.
        if recheck:
            rechecked(plan, client)  # see run.recheck
        if plan.actions:
            # The moment the facts were last known true: now (after the
            # recheck), or "moments ago" for a plan made just before.
            run = _Run(plan, client, observed_at=None if recheck else observed_at)
            results, error = _run_steps(run, reporter)
            outcome = disarmed(plan, _ran(run, results, error, spent()))
        else:
            outcome = _unchanged(plan, spent())
        outcome = waited(plan, client, outcome, waiter)  # merge_when='wait' only
    reporter.finished(outcome)
    return outcome


def _refused(plan: Plan, requests: RequestCount) -> Outcome:
    assert plan.refusal is not None
    return Outcome(
        repo=plan.request.repo,
        status=OutcomeStatus.REFUSED,
        plan_digest=plan.digest,
        error=plan.refusal.message,
        error_type=plan.refusal.code.value,
        requests=requests,
        refusal=plan.refusal,  # the field says it is set when refused; the audit shows it
    )


def _unchanged(plan: Plan, requests: RequestCount) -> Outcome:
    """Nothing to do still names the open pull request that carries the
    change (the caller's handle on it), and counts the recheck's reads."""
    open_pr = next((pr for pr in plan.observed.pull_requests if pr.is_open), None)
    return Outcome(
        repo=plan.request.repo,
        status=OutcomeStatus.UNCHANGED,
        plan_digest=plan.digest,
        pull_request=open_pr.number if open_pr else None,
        pull_request_url=open_pr.url if open_pr else "",
        requests=requests,
    )


def _not_run(index: int, actions: tuple[Action, ...]) -> list[ActionResult]:
    return [
        ActionResult(index=index + k, kind=a.kind, status=ActionStatus.NOT_RUN)
        for k, a in enumerate(actions)
    ]


def _run_steps(run: _Run, reporter: Reporter) -> tuple[list[ActionResult], PrplanError | None]:
    """Every step in order until one fails; the ones after it are not run."""
    repo = run.repo
    results: list[ActionResult] = []
    error: PrplanError | None = None
    for index, step in _steps(run.plan.actions):
        if error is not None:
            results += _not_run(index, step)
            continue
        for k, action in enumerate(step):
            reporter.action_started(repo, index + k, action)
        try:
            done = run.do(index, step)
        except PrplanError as failure:
            error = failure
            failed = ActionStatus.FAILED
            done = [
                ActionResult(index=index, kind=step[0].kind, status=failed, detail=str(failure))
            ]
            done += _not_run(index + 1, step[1:])
        results += done
        for action, result in zip(step, done, strict=True):
            reporter.action_finished(repo, action, result)
    return results, error


def _ran(
    run: _Run, results: list[ActionResult], error: PrplanError | None, requests: RequestCount
) -> Outcome:
    return Outcome(
        repo=run.repo,
        status=_status(run.plan, results, failed=error is not None, armed=run.armed),
        plan_digest=run.plan.digest,
        actions=tuple(results),
        pull_request=run.pr_number,
        pull_request_url=run.pr_url,
        commit_sha=run.commit_sha,
        merge_sha=run.merge_sha,
        error="" if error is None else str(error),
        error_type="" if error is None else type(error).__name__,
        requests=requests,
    )


def _steps(actions: tuple[Action, ...]) -> list[tuple[int, tuple[Action, ...]]]:
    """Group the actions into forge calls: a CreateBranch or ResetBranch
    directly followed by the Commit made on it is one call (one ref write
    instead of two), everything else one call each. The outcome still
    reports every action."""
    steps: list[tuple[int, tuple[Action, ...]]] = []
    index = 0
    while index < len(actions):
        action = actions[index]
        follower = actions[index + 1] if index + 1 < len(actions) else None
        target = (
            action.sha
            if isinstance(action, CreateBranch)
            else action.to_sha
            if isinstance(action, ResetBranch)
            else None
        )
        if (
            target is not None
            and isinstance(follower, Commit)
            and follower.branch == getattr(action, "branch", None)
            and follower.parent_sha == target
        ):
            steps.append((index, (action, follower)))
            index += 2
        else:
            steps.append((index, (action,)))
            index += 1
    return steps


def _status(
    plan: Plan, results: list[ActionResult], *, failed: bool, armed: OutcomeStatus | None = None
) -> OutcomeStatus:
    if failed:
        return OutcomeStatus.FAILED
    done = {r.kind for r in results if r.status is ActionStatus.DONE}
    if done == {ActionKind.DELETE_BRANCH}:  # an earlier run's clean-up: merged already
        return OutcomeStatus.UNCHANGED
    if armed is not None:
        return armed
    if any(r.sha for r in results if r.kind in MERGE_KINDS):  # also an arming GitHub merged now
        return OutcomeStatus.MERGED
    if ActionKind.CLOSE_PULL_REQUEST in done:
        return OutcomeStatus.CLOSED
    if ActionKind.CREATE_PULL_REQUEST in done:
        return OutcomeStatus.CREATED
    if any(pr.is_open for pr in plan.observed.pull_requests):
        return OutcomeStatus.UPDATED
    return OutcomeStatus.COMMITTED


class _Run:
    """The state carried from one action to the next: the commit made and the
    pull request opened, which later actions refer to."""

    #: If more than this many seconds passed since the repository was
    #: observed, the pull requests are read again before one is opened: a run
    #: stalled mid-apply (a rate-limit wait, a slow network) must not open a
    #: second pull request after a twin run finished the same change. A run
    #: that goes straight through pays nothing for it.
    PR_RECHECK_AFTER = 1.0

    def __init__(
        self, plan: Plan, client: ForgeClient, *, observed_at: float | None = None
    ) -> None:
        self.observed_at = time.monotonic() if observed_at is None else observed_at
        self.plan = plan
        self.client = client
        self.repo = plan.request.repo
        open_pr = next((pr for pr in plan.observed.pull_requests if pr.is_open), None)
        self.pr_number: int | None = open_pr.number if open_pr else None
        self.pr_url = open_pr.url if open_pr else ""
        self.commit_sha: str | None = None
        self.merge_sha: str | None = None
        #: the head this run's merge merged (or armed), for a deletion after it
        self.merged_head: str | None = None
        #: the merge was left to GitHub (auto-merge on, or queued)
        self.armed: OutcomeStatus | None = None

    def do(self, index: int, step: tuple[Action, ...]) -> list[ActionResult]:
        if len(step) == 1:
            return [self.do_one(index, step[0])]
        prepare, commit = step
        assert isinstance(commit, Commit)
        reset_from = prepare.from_sha if isinstance(prepare, ResetBranch) else None
        done = ActionStatus.DONE
        return [
            ActionResult(index=index, kind=prepare.kind, status=done, sha=commit.parent_sha),
            self.commit(
                index + 1, commit, create=isinstance(prepare, CreateBranch), reset_from=reset_from
            ),
        ]

    def commit(
        self, index: int, commit: Commit, *, create: bool = False, reset_from: str | None = None
    ) -> ActionResult:
        """Make ``commit`` with the plan's contents for its files, creating
        or resetting its branch on the same ref write when asked."""
        contents = {change.path: self.plan.content(change.path) for change in commit.files}
        self.commit_sha = self.client.commit_files(
            self.repo,
            commit.branch,
            parent_sha=commit.parent_sha,
            files=contents,
            message=commit.message,
            create=create,
            reset_from=reset_from,
            **({"author": commit.author} if commit.author else {}),  # clients without it work
        )
        return ActionResult(
            index=index,
            kind=commit.kind,
            status=ActionStatus.DONE,
            sha=self.commit_sha,
            actor=self._actor(),
        )

    def _actor(self) -> str | None:
        """Who the forge said wrote, from its answer to the last write."""
        client = self.client
        return client.write_identity() if isinstance(client, WriteIdentity) else None

    def _no_new_pull_requests(self, action: CreatePullRequest) -> None:
        known = {pr.number for pr in self.plan.observed.pull_requests}
        appeared = [
            pr
            for pr in self.client.pull_requests_for(self.repo, action.head, action.base)
            if pr.number not in known
        ]
        if appeared:
            seen = ", ".join(
                f"#{pr.number} ({'merged' if pr.merged else pr.state})" for pr in appeared
            )
            raise ConflictError(
                f"{self.repo}: pull request {seen} from {action.head} into {action.base} appeared since "
                "the plan (another run?); no second one was opened. Run prplan again: it will see it."
            )

    def merge(
        self, index: int, action: MergePullRequest | EnableAutoMerge | Enqueue
    ) -> ActionResult:
        """Merge now, or leave the merge to GitHub (see ``run.gated``)."""
        number = action.number if action.number is not None else self.pr_number
        expected = action.expected_head_sha or self.commit_sha
        if number is None or expected is None:
            raise PrplanError("the plan merges a pull request or commit it never made")
        detail = ""
        self.merged_head = expected
        if isinstance(action, MergePullRequest):
            self.merge_sha, self.armed, detail = merge_or_arm(
                self.client, self.plan, number, action.method, expected
            )
        else:
            self.merge_sha, armed = arm(
                self.client, self.repo, action, number, expected,
                protected=self.plan.observed.base_protected,
            )  # fmt: skip
            self.armed = None if armed is OutcomeStatus.MERGED else armed
        return ActionResult(
            index=index, kind=action.kind, status=ActionStatus.DONE, sha=self.merge_sha,
            pull_request=number, detail=detail,
        )  # fmt: skip

    def do_one(self, index: int, action: Action) -> ActionResult:
        client, repo = self.client, self.repo
        done = ActionStatus.DONE
        if isinstance(action, CreateBranch):
            client.create_branch(repo, action.branch, action.sha)
            return ActionResult(index=index, kind=action.kind, status=done, sha=action.sha)
        if isinstance(action, ResetBranch):
            client.reset_branch(repo, action.branch, action.to_sha, expected_sha=action.from_sha)
            return ActionResult(index=index, kind=action.kind, status=done, sha=action.to_sha)
        if isinstance(action, Commit):
            return self.commit(index, action)
        if isinstance(action, CreatePullRequest):
            if time.monotonic() - self.observed_at > self.PR_RECHECK_AFTER:
                self._no_new_pull_requests(action)
            draft = {"draft": True} if action.draft else {}  # clients without it still work
            body = body_to_write(self.plan, action.body)  # with prplan's marker
            pr = client.create_pull_request(repo, head=action.head, base=action.base,
                                            title=action.title, body=body, **draft)  # fmt: skip
            self.pr_number, self.pr_url = pr.number, pr.url
            return ActionResult(
                index=index,
                kind=action.kind,
                status=done,
                pull_request=pr.number,
                actor=self._actor(),
            )
        if isinstance(action, MergePullRequest | EnableAutoMerge | Enqueue):
            return self.merge(index, action)
        if isinstance(action, METADATA_ACTIONS):
            return apply_metadata(client, repo, index, action, self.pr_number)
        if isinstance(action, ClosePullRequest | UpdatePullRequest):
            return apply_pr_text(client, self.plan, index, action)
        if action.kind is ActionKind.DISARM_MERGE:
            return disarm(client, repo, index, action)
        assert isinstance(action, DeleteBranch)
        if self.armed is not None:  # never close the pull request GitHub is to merge
            return ActionResult(
                index=index, kind=action.kind, status=ActionStatus.NOT_RUN, detail=HELD_BACK
            )
        # After this run's merge: only the head it merged (prplan's commit or
        # the head it expected); a push since stays, and the branch with it.
        expected = action.expected_sha or self.merged_head
        client.delete_branch(repo, action.branch, expected_sha=expected)
        return ActionResult(index=index, kind=action.kind, status=done)
