"""Every realisable situation, set up on a real LocalForge, planned and
applied: the outcome is what the decision table promises, the repository
converges (the re-plan is empty), and nothing is lost, duplicated or merged
that the request did not ask for.

The space: every (pull-request state, branch situation) a repository can be
in × four content situations × create_pr × automerge × allow_modification,
times on_closed where the latest pull request is closed, branch_policy where
the branch holds foreign commits, and delete_branch where a merge happens.
"""

from __future__ import annotations

import itertools

import pytest

import prplan
from prplan import (
    BranchPolicy,
    BranchSituation,
    OutcomeStatus,
    PRState,
    RefusalCode,
    Stage,
)
from prplan.core.planner import classify
from prplan.core.table import goal_stage

import scenarios
from scenarios import BRANCH, CONTENTS, REPO, build, request_for, state

CASES = scenarios.all_cases()


@pytest.mark.parametrize("case", CASES, ids=[scenarios.case_id(c) for c in CASES])
def test_plan_apply_converge(case: tuple[PRState, BranchSituation, str, dict[str, object]]) -> None:
    pr, branch, content, flags = case
    request = request_for(content, **flags)
    forge = build(pr, branch, request).forge
    before = state(forge)

    snapshot = prplan.observe(forge, request)
    situation = classify(snapshot, request)
    # The builder made the situation it was asked for (the branch only
    # matters, and is only well defined, while the content is not on base).
    assert situation.pr is pr
    if content != "in_place":
        assert situation.branch is branch
    assert situation.in_place is (content == "in_place")
    assert situation.modifies is (content in {"changed", "delete"})

    plan = prplan.plan(snapshot, request)
    writes_before = forge.request_count().writes
    outcome = prplan.apply(plan, forge)
    after = state(forge)

    if plan.refusal is not None:
        assert outcome.status is OutcomeStatus.REFUSED
        assert after == before, "a refusal must write nothing"
        assert forge.request_count().writes == writes_before
        return

    assert outcome.status is not OutcomeStatus.FAILED, outcome.error
    replan = prplan.plan(prplan.observe(forge, request), request)
    assert replan.is_empty, f"did not converge: {replan.rule} {replan.actions}"

    desired = {p: (c if isinstance(c, bytes) else None) for p, c in request.files.items()}
    new_prs = after.pulls[len(before.pulls) :]
    merged_before = {p.number for p in before.pulls if p.merged}
    merged_now = {p.number for p in after.pulls if p.merged}

    # The request's promises.
    if not request.create_pr:
        assert new_prs == ()
    if not request.automerge:
        assert merged_now == merged_before
    assert sum(1 for p in after.pulls if p.is_open) <= 1
    lost = {sha for sha in before.human_commits if not forge.reachable(REPO, sha)}
    if not (branch is BranchSituation.FOREIGN and request.branch_policy is BranchPolicy.RESET):
        assert lost == set(), "a human's commit was lost"

    # Where the table says the change ends.
    goal = goal_stage(situation)
    on_base = {p: forge.read_file(REPO, "main", p) for p in desired}
    on_branch = (
        {p: forge.read_file(REPO, BRANCH, p) for p in desired} if BRANCH in after.branches else None
    )
    if plan.rule == "closed_skip":
        assert after == before
    elif goal in {Stage.IN_PLACE, Stage.MERGED, Stage.BRANCH_DELETED}:
        assert on_base == desired
        deleted = {BRANCH} if goal is Stage.BRANCH_DELETED else set()
        if situation.in_place:  # nothing to merge; at most finish an earlier run's clean-up
            assert merged_now == merged_before
            assert after.branches.keys() == before.branches.keys() - deleted
        else:
            assert len(merged_now - merged_before) == 1
            assert (BRANCH in after.branches) is not bool(deleted)
    else:
        assert on_branch == desired
        assert {p: before.base_files.get(p) for p in desired} == {
            p: after.base_files.get(p) for p in desired
        }
        open_prs = [p for p in after.pulls if p.is_open]
        assert len(open_prs) == (
            1 if goal is Stage.PROPOSED else len([p for p in before.pulls if p.is_open])
        )


HEAD_IS_BASE = [
    (content, create_pr, automerge, allow)
    for content in CONTENTS
    for create_pr, automerge, allow in itertools.product((True, False), repeat=3)
]


@pytest.mark.parametrize(("content", "create_pr", "automerge", "allow"), HEAD_IS_BASE)
def test_branch_is_base(content: str, create_pr: bool, automerge: bool, allow: bool) -> None:
    request = request_for(
        content, branch="main", create_pr=create_pr, automerge=automerge, allow_modification=allow
    )
    forge = build(PRState.NONE, BranchSituation.ABSENT, request).forge
    before = state(forge)
    plan = prplan.plan(prplan.observe(forge, request), request)
    prplan.apply(plan, forge)
    after = state(forge)
    modifies = content in {"changed", "delete"}
    if modifies and not allow:
        expected = RefusalCode.MODIFICATION_NOT_ALLOWED
    elif create_pr:
        expected = (
            RefusalCode.HEAD_IS_BASE
        )  # even when in place: a PR from base to base is meaningless
    else:
        expected = None
    assert (plan.refusal.code if plan.refusal else None) is expected
    if expected is not None:
        assert after == before
        return
    assert plan.refusal is None
    assert after.pulls == ()
    desired = {p: (c if isinstance(c, bytes) else None) for p, c in request.files.items()}
    assert {p: forge.read_file(REPO, "main", p) for p in desired} == desired
    assert prplan.plan(prplan.observe(forge, request), request).is_empty


def test_the_case_list_covers_every_realisable_pair() -> None:
    assert {(pr, b) for pr, b, _, _ in CASES} == set(scenarios.REALISABLE)
    assert len(CASES) > 1000
