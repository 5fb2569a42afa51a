"""Change sets: one reviewed plan across many repositories, applied in stages.

A change set file (YAML) lists stages; each stage lists changes, one per
repository, each a ``ChangeRequest`` whose fields default to ``defaults``.
``plan_changeset`` observes every repository concurrently (bounded) and
returns one ``ChangeSetPlan``: each repository's plan plus a digest of the
whole. ``apply_changeset`` applies stage by stage. Within a stage, every
plan is first checked against its repository concurrently (a stale plan
stops the whole stage before any of its writes), then the writes go out one
repository at a time: serialised per forge, as GitHub asks of integrations.
A stage starts only when every entry of the previous one reached its goal as
the forge shows it (``Goal``: merged when automerge, else proposed, unless
the stage says ``require``), so a release never reaches the clusters before
the configuration repository took it. A change set plan holding a refusal
is not applied at all, unless ``skip_refused``.

Re-running a partly applied change set converges: what is done plans as
nothing to do, what failed is planned again.

The file and what it holds (``ChangeSet``, ``load_changeset``) are in
``changeset_file``; this module runs a change set against forges.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import attrs

from prplan.core.integrity import check_plan
from prplan.core.plan import Plan
from prplan.core.plan_json import (
    FORMAT_VERSION,
    READABLE_VERSIONS,
    canonical_json,
    check_signature,
    sign,
)
from prplan.core.planner import plan as make_plan
from prplan.core.request import DEFAULT_WAIT_TIMEOUT, ChangeRequest
from prplan.core.states import Stage
from prplan.errors import PlanFormatError, Problem, PrplanError, StalePlanError, WaitTimedOut
from prplan.run.changeset_file import ChangeSet, Goal, parse_goal, parse_timeout
from prplan.run.changeset_wait import wait_for_stage
from prplan.run.executor import apply, moved_facts
from prplan.run.observe import observe
from prplan.run.outcome import ActionStatus, Outcome, OutcomeStatus, Reporter
from prplan.run.port import ForgeClient, RequestCount, counting_requests
from prplan.run.waiting import Waiter

__all__ = ["ChangeSetPlan", "ChangeSetResult", "EntryResult", "plan_changeset", "apply_changeset"]

#: The goals, weakest first: an entry reaches a goal at or below what it got.
_LEVELS = (Goal.APPLIED, Goal.PROPOSED, Goal.MERGED)


# --- the plan of a change set ----------------------------------------------------------


@attrs.frozen(kw_only=True)
class ChangeSetPlan:
    """Every repository's plan, stage by stage, with a digest of the whole."""

    stages: tuple[tuple[str, tuple[Plan, ...]], ...]
    #: each stage's ``require`` (None: from each entry's flags); may be
    #: shorter than ``stages``, the rest being None
    require: tuple[Goal | None, ...] = ()
    #: each stage's timeout in seconds (None: the caller's); may be short
    timeouts: tuple[float | None, ...] = ()
    format_version: int = FORMAT_VERSION
    #: the requests each entry's observation took, by (repository, branch):
    #: counted in the outcome when the plan is applied without a recheck.
    #: Not part of the plan document or its digest (a saved plan is rechecked).
    observed_with: Mapping[tuple[str, str], RequestCount] = attrs.field(
        factory=dict, eq=False, repr=False
    )

    def require_of(self, index: int) -> Goal | None:
        return self.require[index] if index < len(self.require) else None

    def timeout_of(self, index: int) -> float | None:
        return self.timeouts[index] if index < len(self.timeouts) else None

    @property
    def plans(self) -> list[Plan]:
        return [plan for _, plans in self.stages for plan in plans]

    @property
    def has_changes(self) -> bool:
        return any(plan.actions for plan in self.plans)

    @property
    def refused(self) -> list[Plan]:
        return [plan for plan in self.plans if plan.refusal is not None]

    def _body(self) -> dict[str, Any]:
        return {
            "kind": "changeset",
            "format_version": self.format_version,
            "stages": [self._stage(index) for index in range(len(self.stages))],
        }

    def _stage(self, index: int) -> dict[str, Any]:
        name, plans = self.stages[index]
        stage: dict[str, Any] = {"name": name, "plans": [p.to_dict() for p in plans]}
        require = self.require_of(index)
        if require is not None:  # absent otherwise: plans saved before `require` keep their digest
            stage["require"] = require.value
        if self.timeout_of(index) is not None:
            stage["timeout"] = self.timeout_of(index)
        return stage

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(self._body())).hexdigest()

    def to_json(self, *, key: bytes | None = None) -> str:
        """The change set plan document; ``key``: signed as a plan is."""
        document = self._body()
        document["digest"] = self.digest
        if key is not None:
            document["signature"] = sign(self.digest, key)
        return json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, document: dict[str, Any], *, key: bytes | None = None) -> ChangeSetPlan:
        """``key``: the document must be signed with it (``Plan.from_json``)."""
        if key is not None:
            check_signature(document, key)
        version = document.get("format_version")
        if type(version) is not int or version not in READABLE_VERSIONS:
            raise PlanFormatError(
                [
                    Problem(
                        "format_version",
                        f"is {version!r}; expected one of {', '.join(map(str, READABLE_VERSIONS))}",
                    )
                ]
            )
        try:
            stages = tuple(
                (str(stage["name"]), tuple(Plan.from_dict(p) for p in stage["plans"]))
                for stage in document["stages"]
            )
            requires = [stage.get("require") for stage in document["stages"]]
            timeouts = [stage.get("timeout") for stage in document["stages"]]
        except (KeyError, TypeError, AttributeError):
            raise PlanFormatError([Problem("stages", "must be a list of {name, plans}")]) from None
        problems: list[Problem] = []
        require = tuple(
            parse_goal(value, f"stages[{index}].require", problems)
            for index, value in enumerate(requires)
        )
        waits = tuple(
            parse_timeout(value, f"stages[{index}].timeout", problems)
            for index, value in enumerate(timeouts)
        )
        if problems:
            raise PlanFormatError(problems)
        plan = cls(stages=stages, require=require, timeouts=waits, format_version=version)
        if document.get("digest") != plan.digest:
            raise PlanFormatError(
                [Problem("digest", "does not match the content: the change set plan was edited")]
            )
        return plan


def _observing_many(
    client: ForgeClient, requests: Sequence[ChangeRequest]
) -> AbstractContextManager[object]:
    """A client that can read many repositories at once (GitHub over GraphQL:
    a few queries for all) does so before they are observed one by one."""
    hook = getattr(client, "observing_many", None)
    return hook(requests) if callable(hook) else contextlib.nullcontext()


def plan_changeset(
    client: ForgeClient,
    changeset: ChangeSet,
    *,
    concurrency: int = 8,
    on_planned: Callable[[Plan], None] | None = None,
) -> ChangeSetPlan:
    """Observe every repository (at most ``concurrency`` at once) and plan."""
    requests = [request for stage in changeset.stages for request in stage.requests]

    observed_with: dict[tuple[str, str], RequestCount] = {}

    def one(request: ChangeRequest) -> Plan:
        with counting_requests() as observing:
            planned = make_plan(observe(client, request), request)
        observed_with[(request.repo, request.branch)] = observing.count
        if on_planned is not None:
            on_planned(planned)
        return planned

    with _observing_many(client, requests), ThreadPoolExecutor(max(1, concurrency)) as pool:
        plans = list(pool.map(one, requests))
    out: list[tuple[str, tuple[Plan, ...]]] = []
    index = 0
    for stage in changeset.stages:
        out.append((stage.name, tuple(plans[index : index + len(stage.requests)])))
        index += len(stage.requests)
    return ChangeSetPlan(
        stages=tuple(out),
        require=tuple(stage.require for stage in changeset.stages),
        timeouts=tuple(stage.timeout for stage in changeset.stages),
        observed_with=observed_with,
    )


# --- applying ---------------------------------------------------------------------------


def entry_goal(plan: Plan, require: Goal | None = None) -> Goal:
    """The goal an entry must reach: the stage's ``require``, else what its
    flags ask (merged when automerge, else an open pull request)."""
    if require is not None:
        return require
    return Goal.MERGED if plan.request.automerge else Goal.PROPOSED


_OPEN_STATUSES = frozenset({OutcomeStatus.CREATED, OutcomeStatus.UPDATED,
                            OutcomeStatus.AUTO_MERGE_ENABLED, OutcomeStatus.QUEUED})  # fmt: skip


def reached(plan: Plan, outcome: Outcome) -> Goal | None:
    """The furthest goal the forge shows this applied entry at: a merge the
    forge made, base already holding the content when (re)checked, or an
    open pull request carrying it. None when it failed or was refused."""
    if not outcome.ok:
        return None
    status = outcome.status
    if status is OutcomeStatus.MERGED or plan.start is Stage.IN_PLACE:
        return Goal.MERGED
    if status is OutcomeStatus.COMMITTED and plan.request.branch == plan.observed.base:
        return Goal.MERGED  # the branch is the base: the commit went straight there
    if status in _OPEN_STATUSES:
        return Goal.PROPOSED  # merged later by GitHub, if armed: the stage waits for it
    if not plan.actions and plan.start is Stage.PROPOSED:
        return Goal.PROPOSED  # the open pull request already carries the change
    # Committed to a side branch only, or nothing done (on_closed: skip).
    return Goal.APPLIED


#: An entry's status when an error stopped it (else ``failed``).
_ERROR_STATUS = {StalePlanError.__name__: "stale", WaitTimedOut.__name__: "timed_out"}


@attrs.frozen(kw_only=True)
class EntryResult:
    stage: str
    repo: str
    goal: Goal
    outcome: Outcome | None  # None: not run (see ``note``) or stopped by ``error``
    #: the furthest goal the forge shows this entry at (None: none at all)
    achieved: Goal | None = None
    error: str = ""  # a stale plan or another error that stopped the entry
    #: the error's type (``StalePlanError``, ``ForgeError``...), as in ``Outcome``
    error_type: str = ""
    note: str = ""  # why an entry did not run
    #: the digest of the entry's plan: which entry this is, even when a
    #: stage changes one repository on two branches (the audit trail's key)
    plan_digest: str = ""

    @property
    def reached_goal(self) -> bool:
        return self.achieved is not None and _LEVELS.index(self.achieved) >= _LEVELS.index(
            self.goal
        )

    @property
    def status(self) -> str:
        if self.error_type:
            return _ERROR_STATUS.get(self.error_type, "failed")
        return "not_run" if self.outcome is None else self.outcome.status.value

    @property
    def failed(self) -> bool:
        """Something went wrong (as opposed to a goal not reached by design,
        such as a skipped entry): it stops the rest of its stage."""
        return self.status in {"stale", "failed"}

    @property
    def wrote(self) -> bool:
        return self.outcome is not None and any(
            action.status is ActionStatus.DONE for action in self.outcome.actions
        )


def _result(stage: str, plan: Plan, goal: Goal, **result: Any) -> EntryResult:
    """An entry's result: which stage, repository, plan and goal, and what
    happened (``result``: the outcome, or the error, or why it did not run)."""
    return EntryResult(
        stage=stage, repo=plan.request.repo, goal=goal, plan_digest=plan.digest, **result
    )


def _applied(stage: str, plan: Plan, goal: Goal, outcome: Outcome) -> EntryResult:
    return _result(stage, plan, goal, outcome=outcome, achieved=reached(plan, outcome))


def _stopped(stage: str, plan: Plan, goal: Goal, error: PrplanError) -> EntryResult:
    return _result(
        stage, plan, goal, outcome=None, error=str(error), error_type=type(error).__name__
    )


def _not_run(stage: str, plan: Plan, goal: Goal, note: str) -> EntryResult:
    return _result(stage, plan, goal, outcome=None, note=note)


@attrs.frozen(kw_only=True)
class ChangeSetResult:
    digest: str
    entries: tuple[EntryResult, ...]

    @property
    def ok(self) -> bool:
        """Every entry reached its goal."""
        return all(entry.reached_goal for entry in self.entries)

    @property
    def wrote(self) -> bool:
        """Some entry wrote to its repository (a stale plan then no longer
        means "nothing was written")."""
        return any(entry.wrote for entry in self.entries)

    def to_dict(self) -> dict[str, Any]:
        return {
            "digest": self.digest,
            "ok": self.ok,
            "wrote": self.wrote,
            "entries": [
                {
                    "stage": e.stage,
                    "repo": e.repo,
                    "status": e.status,
                    "goal": e.goal.value,
                    "reached_goal": e.reached_goal,
                    "pull_request": e.outcome.pull_request if e.outcome else None,
                    "pull_request_url": e.outcome.pull_request_url if e.outcome else "",
                    "error": e.error or (e.outcome.error if e.outcome else ""),
                    "error_type": e.error_type or (e.outcome.error_type if e.outcome else ""),
                    "note": e.note,
                    "requests": {
                        "reads": e.outcome.requests.reads,
                        "writes": e.outcome.requests.writes,
                    }
                    if e.outcome
                    else None,
                }
                for e in self.entries
            ],
        }


def apply_changeset(
    client: ForgeClient,
    changeset_plan: ChangeSetPlan,
    *,
    concurrency: int = 8,
    keep_going: bool = False,
    skip_refused: bool = False,
    recheck: bool = True,
    write_concurrency: int = 1,
    observed_at: float | None = None,
    reporter: Callable[[str, Plan], Reporter] | None = None,
    on_entry: Callable[[EntryResult], None] | None = None,
    stage_timeout: float = DEFAULT_WAIT_TIMEOUT,
    waiter: Waiter | None = None,
) -> ChangeSetResult:
    """Apply stage by stage; see the module's docstring. ``reporter(stage,
    plan)`` gives each entry's ``Reporter`` (audit, progress).

    A change set plan holding a refusal writes nothing (its refused entries
    report ``refused``, the others ``not_run``), unless ``skip_refused``:
    then the other entries are applied, and as a refused entry never reaches
    its goal, the stages after it do not start.

    ``write_concurrency`` repositories are written at once (each one's
    writes still in order). The default, 1, is what GitHub asks of
    integrations; raise it only for a forge that allows concurrent writes.

    Every plan is checked (``PlanIntegrityError``) before the first stage
    starts, so a hand-edited later stage never follows a written first one.
    A stage waits for the merges it left to GitHub (``changeset_wait``) at
    most its timeout, else ``stage_timeout`` s (``waiter``: sleep, clock)."""
    for plan in changeset_plan.plans:
        check_plan(plan)
    entries = _Entries(client, reporter, on_entry)
    # Why the entries from here on are not applied ("" while they are).
    held = _held_by_refusals(changeset_plan.refused, skip_refused)
    results: list[EntryResult] = []
    for index, (name, plans) in enumerate(changeset_plan.stages):
        goals = [entry_goal(plan, changeset_plan.require_of(index)) for plan in plans]
        if held:
            results += entries.held(name, plans, goals, held)
            continue
        # "Planned just now" holds for the first stage only: by the time a
        # later stage starts, the earlier ones took their time.
        checked = recheck or index > 0
        stale, observing = _check_stage(client, changeset_plan, index, checked, concurrency)
        when = time.monotonic() if checked or observed_at is None else observed_at
        if stale:
            stage_results = [entries.report(r) for r in _unchecked_stage(name, plans, goals, stale)]
        else:
            stage_results = _write_stage(
                name, plans, goals, client, keep_going, write_concurrency, when, reporter,
                entries.refuse, entries.report, observing,
            )  # fmt: skip
            timeout = changeset_plan.timeout_of(index) or stage_timeout
            stage_results = wait_for_stage(client, name, plans, stage_results, timeout, waiter)
        results += stage_results
        held = _held_by_stage(name, stage_results)
    return ChangeSetResult(digest=changeset_plan.digest, entries=tuple(results))


class _Entries:
    """Each entry's result as it is known: told to ``on_entry`` (one call
    at a time, whichever thread wrote it), and what a refused or held entry
    reports."""

    def __init__(
        self,
        client: ForgeClient,
        reporter: Callable[[str, Plan], Reporter] | None,
        on_entry: Callable[[EntryResult], None] | None,
    ) -> None:
        self._client, self._reporter, self._on_entry = client, reporter, on_entry
        self._lock = threading.Lock()

    def report(self, result: EntryResult) -> EntryResult:
        if self._on_entry is not None:
            with self._lock:
                self._on_entry(result)
        return result

    def refuse(self, stage: str, plan: Plan, goal: Goal) -> EntryResult:
        # apply() writes nothing for a refused plan; it reports the refusal.
        reporter = self._reporter(stage, plan) if self._reporter else None
        return _applied(stage, plan, goal, apply(plan, self._client, reporter=reporter))

    def held(
        self, stage: str, plans: Sequence[Plan], goals: Sequence[Goal], why: str
    ) -> list[EntryResult]:
        """A stage not applied: refused entries report their refusal, the
        others ``not_run`` with ``why``."""
        return [
            self.report(
                self.refuse(stage, plan, goal)
                if plan.refusal is not None
                else _not_run(stage, plan, goal, why)
            )
            for plan, goal in zip(plans, goals, strict=True)
        ]


def _held_by_refusals(refused: Sequence[Plan], skip_refused: bool) -> str:
    """Why nothing is applied when the plan holds refusals ("" when it holds
    none, or ``skip_refused``)."""
    if not refused or skip_refused:
        return ""
    names = ", ".join(plan.request.repo for plan in refused)
    return (
        f"not applied: the change set plan holds {len(refused)} refused plan(s) ({names}); "
        "skip_refused (--skip-refused) applies the rest"
    )


def _held_by_stage(name: str, stage_results: Sequence[EntryResult]) -> str:
    """Why the next stages do not start ("" when every entry reached its goal)."""
    short = [result for result in stage_results if not result.reached_goal]
    if not short:
        return ""
    which = ", ".join(f"{r.repo} {r.status}" for r in short[:3])
    more = f" and {len(short) - 3} more" if len(short) > 3 else ""
    return f"not started: stage {name!r} did not reach its goal ({which}{more})"


def _check_stage(
    client: ForgeClient, changeset_plan: ChangeSetPlan, index: int, checked: bool, concurrency: int
) -> tuple[dict[tuple[str, str], PrplanError], dict[tuple[str, str], RequestCount]]:
    """What moved since each plan of a stage was made (when ``checked``),
    and the requests of each entry's latest observation: the check's, or
    the plan's own."""
    live = [plan for plan in changeset_plan.stages[index][1] if plan.refusal is None]
    observing: dict[tuple[str, str], RequestCount] = {}
    stale = _stale(client, live, concurrency, observing) if checked else {}
    if not checked:
        observing.update(changeset_plan.observed_with)
    return stale, observing


def _unchecked_stage(
    name: str,
    plans: Sequence[Plan],
    goals: Sequence[Goal],
    stale: Mapping[tuple[str, str], PrplanError],
) -> list[EntryResult]:
    """A stage with a stale (or uncheckable) entry writes nothing at all:
    its check comes before any of its writes."""
    blamed = ", ".join(sorted({repo for repo, _ in stale}))
    out = []
    for plan, goal in zip(plans, goals, strict=True):
        error = stale.get((plan.request.repo, plan.request.branch))
        if error is not None:
            out.append(_stopped(name, plan, goal, error))
        else:
            note = f"not written: the check of stage {name!r} failed for {blamed}"
            out.append(_not_run(name, plan, goal, note))
    return out


def _write_stage(
    name: str,
    plans: Sequence[Plan],
    goals: Sequence[Goal],
    client: ForgeClient,
    keep_going: bool,
    write_concurrency: int,
    when: float,
    reporter: Callable[[str, Plan], Reporter] | None,
    refuse: Callable[[str, Plan, Goal], EntryResult],
    report: Callable[[EntryResult], EntryResult],
    observing: Mapping[tuple[str, str], RequestCount],
) -> list[EntryResult]:
    """The writes of a checked stage, ``write_concurrency`` repositories at
    once. A failure stops the rest of the stage unless ``keep_going``; an
    entry merely short of its goal (skipped, committed only) does not."""
    halt = threading.Event()

    def one(item: tuple[Plan, Goal]) -> EntryResult:
        plan, goal = item
        if plan.refusal is not None:
            return report(refuse(name, plan, goal))
        if halt.is_set() and not keep_going:
            note = f"not run: an earlier entry of stage {name!r} failed"
            return report(_not_run(name, plan, goal, note))
        try:
            entry_reporter = reporter(name, plan) if reporter else None
            outcome = apply(
                plan, client, reporter=entry_reporter, recheck=False, observed_at=when,
                observed_with=observing.get((plan.request.repo, plan.request.branch)),
            )  # fmt: skip
            result = _applied(name, plan, goal, outcome)
        except PrplanError as error:
            result = _stopped(name, plan, goal, error)
        if result.failed:
            halt.set()
        return report(result)

    with ThreadPoolExecutor(max_workers=max(1, write_concurrency)) as pool:
        return list(pool.map(one, zip(plans, goals, strict=True)))


def _stale(
    client: ForgeClient,
    plans: Sequence[Plan],
    concurrency: int,
    observing: dict[tuple[str, str], RequestCount],
) -> dict[tuple[str, str], PrplanError]:
    """Check a stage's plans against their repositories, concurrently, empty
    plans included: "nothing to do" claims base holds the content, and base
    may have been reverted since. Keyed by (repository, branch): a set may
    change one repository on two branches. A forge error while checking is
    that entry's failure. ``observing`` gets each check's requests."""

    def check(plan: Plan) -> tuple[tuple[str, str], PrplanError | None]:
        key = (plan.request.repo, plan.request.branch)
        try:
            with counting_requests() as tally:
                try:
                    current = observe(client, plan.request)
                finally:
                    observing[key] = tally.count
            moved = moved_facts(plan.observed, current)
        except PrplanError as error:
            return key, error
        return key, StalePlanError(moved) if moved else None

    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        return {key: error for key, error in pool.map(check, plans) if error is not None}
