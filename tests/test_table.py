"""The decision table, proven over every point of the situation space.

These tests hold ``RULES`` against facts stated independently of it: the
lifecycle machine (legal paths), ``goal_stage`` (where the flags ask to
end), and the request's promises (no pull request without ``create_pr``, no
merge without ``automerge``, no overwrite without ``allow_modification``).
"""

from __future__ import annotations

import pytest
from transitions import MachineError

from prplan import ActionKind, BranchPolicy, BranchSituation, OnClosed, PRState, RefusalCode, Stage
from prplan._lifecycle import walk
from prplan._table import RULES, Situation, all_situations, decide, goal_stage, start_stage

SITUATIONS = list(all_situations())


def test_the_space_is_complete() -> None:
    assert len(SITUATIONS) == 5 * 5 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 3 * 2 * 2
    assert len(set(SITUATIONS)) == len(SITUATIONS)


def test_every_rule_is_reachable() -> None:
    used = {decide(s).name for s in SITUATIONS}
    assert used == {rule.name for rule in RULES}


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


def _expected_refusal(s: Situation) -> RefusalCode | None:
    """The refusals, restated from the issue's rules in order, as an oracle."""
    if s.pr is PRState.MULTIPLE:
        return RefusalCode.MULTIPLE_OPEN_PRS
    if s.edit_fails:
        return RefusalCode.EDIT_FAILED
    if s.pr is PRState.OPEN and s.branch is BranchSituation.ABSENT:
        return RefusalCode.BRANCH_MISSING
    if not s.allow_modification and s.modifies:
        return RefusalCode.MODIFICATION_NOT_ALLOWED
    if s.head_is_base:
        return RefusalCode.HEAD_IS_BASE if s.create_pr else None
    if s.pr is PRState.OPEN:
        return RefusalCode.PR_BEHIND_BASE if s.pr_behind and not s.in_place else None
    if s.in_place:
        return None
    if s.pr is PRState.CLOSED and s.on_closed is OnClosed.FAIL:
        return RefusalCode.PR_CLOSED
    if s.pr is PRState.CLOSED and s.on_closed is OnClosed.SKIP:
        return None
    if s.branch is BranchSituation.FOREIGN and s.branch_policy is BranchPolicy.SAFE:
        return RefusalCode.BRANCH_HAS_FOREIGN_COMMITS
    return None


def _skipped(s: Situation) -> bool:
    """Situations where the request itself says to do nothing."""
    return (
        not s.head_is_base
        and s.pr is PRState.CLOSED
        and s.on_closed is OnClosed.SKIP
        and not s.in_place
    )


def test_every_situation_has_one_defined_answer() -> None:
    mismatches = []
    for s in SITUATIONS:
        rule = decide(s)
        if rule.refuse != _expected_refusal(s):
            mismatches.append((s, rule.name))
        if rule.refuse is not None:
            assert rule.actions_for(s) == ()
    assert mismatches == []


def test_every_plan_is_a_legal_path_ending_where_the_flags_ask() -> None:
    failures = []
    for s in SITUATIONS:
        rule = decide(s)
        if rule.refuse is not None:
            continue
        try:
            visited = walk(start_stage(s), rule.actions_for(s))
        except MachineError as error:
            failures.append((s, rule.name, f"illegal: {error}"))
            continue
        expected = visited[0] if _skipped(s) else goal_stage(s)
        if visited[-1] is not expected:
            failures.append((s, rule.name, f"ends in {visited[-1]}, flags ask {expected}"))
    assert failures == []


def test_never_a_pull_request_without_create_pr() -> None:
    for s in SITUATIONS:
        if not s.create_pr:
            assert ActionKind.CREATE_PULL_REQUEST not in decide(s).actions_for(s), s


def test_never_a_merge_without_automerge() -> None:
    for s in SITUATIONS:
        if not s.automerge:
            assert ActionKind.MERGE_PULL_REQUEST not in decide(s).actions_for(s), s


def test_never_a_commit_that_modifies_without_allow_modification() -> None:
    for s in SITUATIONS:
        if not s.allow_modification and s.modifies:
            assert ActionKind.COMMIT not in decide(s).actions_for(s), s


def test_never_a_reset_of_foreign_commits_unless_asked() -> None:
    for s in SITUATIONS:
        if s.branch is BranchSituation.FOREIGN and s.branch_policy is BranchPolicy.SAFE:
            assert ActionKind.RESET_BRANCH not in decide(s).actions_for(s), s


def test_delete_branch_only_after_a_merge_and_never_base() -> None:
    for s in SITUATIONS:
        kinds = decide(s).actions_for(s)
        if ActionKind.DELETE_BRANCH in kinds:
            assert s.delete_branch and not s.head_is_base
            after_our_merge = kinds[-2:] == (
                ActionKind.MERGE_PULL_REQUEST,
                ActionKind.DELETE_BRANCH,
            )
            finishing_a_merged_run = kinds == (ActionKind.DELETE_BRANCH,) and s.pr is PRState.MERGED
            assert after_our_merge or finishing_a_merged_run, s


def test_an_open_pull_request_is_reused_never_duplicated() -> None:
    for s in SITUATIONS:
        if s.pr in {PRState.OPEN, PRState.MULTIPLE}:
            assert ActionKind.CREATE_PULL_REQUEST not in decide(s).actions_for(s), s


@pytest.mark.parametrize(
    ("start", "actions"),
    [
        (Stage.NO_BRANCH, [ActionKind.COMMIT]),
        (Stage.BRANCH_READY, [ActionKind.CREATE_PULL_REQUEST]),
        (Stage.COMMITTED, [ActionKind.MERGE_PULL_REQUEST]),
        (Stage.IN_PLACE, [ActionKind.MERGE_PULL_REQUEST]),
    ],
)
def test_the_machine_rejects_illegal_paths(start: Stage, actions: list[ActionKind]) -> None:
    with pytest.raises(MachineError, match=actions[-1].value):
        walk(start, actions)
