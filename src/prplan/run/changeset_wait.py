"""Change-set stages wait for merges: a stage whose entries GitHub is to
merge later (native auto-merge on, or in the merge queue) ends only when
every one of them is merged, so the next stage never starts on a change
that is merely armed. One poller (``run.waiting``) for the whole stage.

When a required check fails (or a pull request is closed unmerged, or is
no longer armed, or its head moved from the one prplan armed, merged or
not), the wait stops at once: that entry fails with ``MergeBlocked`` (or
its subclasses ``MergeDisarmed``, ``HeadMovedAfterArming``: an arming this
run made is turned off first, see ``run.waiting``), and the next stage
does not start. When the
stage's timeout passes, every entry still waiting fails with
``WaitTimedOut``, naming the stage and its pull requests. Either way the
entries keep their outcome (what apply did), so the record shows both.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from prplan.core.plan import Plan
from prplan.errors import MergeBlocked, PrplanError
from prplan.run.changeset_file import Goal
from prplan.run.gated import armed_head, armed_in_run, left_to_github, merged_later
from prplan.run.port import ForgeClient
from prplan.run.waiting import Waiter, wait_for_merges

if TYPE_CHECKING:
    from prplan.run.changeset import EntryResult

__all__ = ["wait_for_stage"]


def wait_for_stage(
    client: ForgeClient,
    stage: str,
    plans: Sequence[Plan],
    results: Sequence[EntryResult],
    timeout: float,
    waiter: Waiter | None,
) -> list[EntryResult]:
    """The stage's results once the merges it waits for happened (their
    outcomes ``merged``), or with the failure or timeout on the entries
    still waiting."""
    waiting = [
        index
        for index, (plan, result) in enumerate(zip(plans, results, strict=True))
        if _waits(plan, result)
    ]
    out = list(results)
    if not waiting:
        return out
    pulls, heads, ours = [], [], []
    for index in waiting:
        outcome = results[index].outcome
        assert outcome is not None and outcome.pull_request is not None
        pulls.append((outcome.repo, outcome.pull_request))
        heads.append(armed_head(plans[index], outcome))
        ours.append(armed_in_run(outcome))
    try:
        infos = wait_for_merges(
            client, pulls, timeout=timeout, waiter=waiter, what=f"stage {stage!r}",
            armed_at=heads, ours=ours,
        )  # fmt: skip
    except PrplanError as error:
        return _stopped(out, waiting, pulls, error)
    for index, info in zip(waiting, infos, strict=True):
        result = out[index]
        assert result.outcome is not None
        outcome = merged_later(client, plans[index], result.outcome, info)
        out[index] = attrs.evolve(result, outcome=outcome, achieved=Goal.MERGED)
    return out


def _waits(plan: Plan, result: EntryResult) -> bool:
    """The entry must be merged and GitHub, not this run, is to merge it."""
    outcome = result.outcome
    return (
        result.goal is Goal.MERGED
        and not result.reached_goal
        and not result.error_type
        and outcome is not None
        and left_to_github(plan, outcome)
    )


def _stopped(
    out: list[EntryResult],
    waiting: Sequence[int],
    pulls: Sequence[tuple[str, int]],
    error: PrplanError,
) -> list[EntryResult]:
    """A failed check stops the entry it names; a timeout every entry
    still waiting."""
    for index, (repo, number) in zip(waiting, pulls, strict=True):
        if isinstance(error, MergeBlocked) and (
            error.number != number or getattr(error, "repo", repo) != repo
            or (not hasattr(error, "repo") and f": {repo}: " not in str(error))
        ):  # fmt: skip
            continue
        out[index] = attrs.evolve(out[index], error=str(error), error_type=type(error).__name__)
    return out
