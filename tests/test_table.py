"""The decision table, proven over every point of the situation space.

These tests hold ``RULES`` against facts stated independently of it: the
lifecycle machine (legal paths), ``goal_stage`` (where the flags ask to
end), and the request's promises (no pull request without ``create_pr``, no
merge without ``automerge``, no overwrite without ``allow_modification``).
"""

from __future__ import annotations

import functools

import pytest
from transitions import MachineError

from prplan import ActionKind, BranchPolicy, BranchSituation, OnClosed, PRState, RefusalCode, Stage
from prplan.core.lifecycle import walk
from prplan.core.table import RULES, A, Situation, all_situations, decide, goal_stage, start_stage

SITUATIONS = list(all_situations())
#: Each situation with its rule and actions, decided once for every test.
CASES = [(s, rule, rule.actions_for(s)) for s in SITUATIONS for rule in (decide(s),)]

#: (start, actions) -> stages visited; walking the machine is the slow part
#: and depends on nothing else.
_walk = functools.lru_cache(maxsize=None)(lambda start, actions: tuple(walk(start, actions)))


def test_the_space_is_complete() -> None:
    """The count, derived by hand from the enumeration rules (see
    ``all_situations``): 5 pr x 5 branch x 2^9 x 3 on_closed over the
    dimensions enumerated everywhere; then, by branch situation, the head
    dimensions; then merge_foreign_commits where foreign_on_head and
    automerge."""
    everywhere = 5 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 2 * 3 * 2 * 2  # all but branch
    # Per point with head_is_base False (half of them) and each branch value:
    # (foreign_on_head values, branch_in_use values, branch_protected values),
    # and merge_foreign_commits doubles the foreign_on_head=True points whose
    # automerge is True (half of them): a True point counts 1.5 on average.
    per_branch = {
        "absent": 1,
        "at_base": 1 * 2 * 1,
        "has_change": (1 + 1.5) * 2 * 1,
        "disposable": (1 + 1.5) * 2 * 2,
        "foreign": 1.5 * 2 * 2,
    }
    # head_is_base True: only branch_in_use (another pull request from base),
    # and a foreign branch always has foreign commits (so merge_foreign_commits).
    expected = everywhere // 2 * sum(per_branch.values()) + everywhere // 2 * (4 + 1.5) * 2
    assert len(SITUATIONS) == expected == 537_600
    assert len(set(SITUATIONS)) == len(SITUATIONS)


def test_dimensions_not_enumerated_cannot_change_the_answer() -> None:
    """Where ``all_situations`` holds ``branch_protected`` or
    ``merge_foreign_commits`` fixed, flipping it gives the same rule and
    actions: the reduced space loses nothing. (``foreign_on_head`` and
    ``branch_in_use`` are held only where no repository can have the other
    value: no commits beyond base, or no branch at all.)"""
    reset = {BranchSituation.DISPOSABLE, BranchSituation.FOREIGN}
    position = {rule.name: i for i, rule in enumerate(RULES)}
    # Flipping a dimension changes only rules that name it: the decision
    # stays the same iff no earlier such rule starts to match and the rule
    # that matched (if it names it) still matches. Actions do not depend on
    # these two dimensions (``Rule.actions_for`` reads delete_branch and
    # branch_in_use only), so the same rule means the same actions.
    naming = {
        name: [i for i, rule in enumerate(RULES) if name in rule.when]
        for name in ("branch_protected", "merge_foreign_commits")
    }
    checked = 0
    for s, rule, _ in CASES:
        flips = []
        if s.branch not in reset or s.head_is_base:
            flips.append("branch_protected")
        if not (s.foreign_on_head and s.automerge):
            flips.append("merge_foreign_commits")
        matched = position[rule.name]
        for name in flips:
            flipped = not getattr(s, name)
            for i in naming[name]:
                if i > matched:
                    break
                when = RULES[i].when
                hit = all(
                    (flipped if dim == name else getattr(s, dim)) in values
                    for dim, values in when.items()
                )
                assert hit == (i == matched), (s, name, RULES[i].name)
            checked += 1
    assert checked > 400_000


def test_every_rule_is_reachable() -> None:
    used = {rule.name for _, rule, _ in CASES}
    assert used == {rule.name for rule in RULES}


def test_rule_names_are_unique() -> None:
    names = [rule.name for rule in RULES]
    assert len(names) == len(set(names))


def _expected_refusal(s: Situation) -> RefusalCode | None:
    """The refusals, restated from the issue's rules in order, as an oracle."""
    if s.pr is PRState.MULTIPLE:
        return RefusalCode.MULTIPLE_OPEN_PRS
    if s.not_a_file:
        return RefusalCode.PATH_NOT_A_FILE
    if s.edit_fails:
        return RefusalCode.EDIT_FAILED
    if s.pr is PRState.OPEN and s.branch is BranchSituation.ABSENT:
        return RefusalCode.BRANCH_MISSING
    if not s.allow_modification and s.modifies:
        return RefusalCode.MODIFICATION_NOT_ALLOWED
    if s.head_is_base:
        if s.create_pr:
            return RefusalCode.HEAD_IS_BASE
        return RefusalCode.BRANCH_IN_USE if s.branch_in_use and not s.in_place else None
    merges_foreign = s.automerge and s.foreign_on_head and not s.merge_foreign_commits
    if s.pr is PRState.OPEN:
        if s.in_place:
            return None
        if s.pr_behind:
            return RefusalCode.PR_BEHIND_BASE
        if merges_foreign:
            return RefusalCode.MERGE_HAS_FOREIGN_COMMITS
        if s.branch is not BranchSituation.HAS_CHANGE and s.branch_in_use:
            return RefusalCode.BRANCH_IN_USE  # the next commit would land in another PR
        return None
    if s.in_place:
        return None
    if s.pr is PRState.CLOSED and s.on_closed is OnClosed.FAIL:
        return RefusalCode.PR_CLOSED
    if s.pr is PRState.CLOSED and s.on_closed is OnClosed.SKIP:
        return None
    written = s.branch in {
        BranchSituation.AT_BASE,
        BranchSituation.DISPOSABLE,
        BranchSituation.FOREIGN,
    }
    if written and s.branch_in_use:
        return RefusalCode.BRANCH_IN_USE
    reset = s.branch in {BranchSituation.DISPOSABLE, BranchSituation.FOREIGN}
    if reset and s.branch_protected:
        return RefusalCode.BRANCH_PROTECTED
    if s.branch is BranchSituation.FOREIGN and s.branch_policy is BranchPolicy.SAFE:
        return RefusalCode.BRANCH_HAS_FOREIGN_COMMITS
    if s.branch is BranchSituation.HAS_CHANGE and s.create_pr and merges_foreign:
        return RefusalCode.MERGE_HAS_FOREIGN_COMMITS
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
    for s, rule, kinds in CASES:
        if rule.refuse != _expected_refusal(s):
            mismatches.append((s, rule.name))
        if rule.refuse is not None:
            assert kinds == ()
    assert mismatches == []


def test_every_plan_is_a_legal_path_ending_where_the_flags_ask() -> None:
    failures = []
    for s, rule, kinds in CASES:
        if rule.refuse is not None:
            continue
        try:
            visited = _walk(start_stage(s), kinds)
        except MachineError as error:
            failures.append((s, rule.name, f"illegal: {error}"))
            continue
        expected = visited[0] if _skipped(s) else goal_stage(s)
        if visited[-1] is not expected:
            failures.append((s, rule.name, f"ends in {visited[-1]}, flags ask {expected}"))
    assert failures == []


def test_never_a_pull_request_without_create_pr() -> None:
    for s, _, kinds in CASES:
        if not s.create_pr:
            assert ActionKind.CREATE_PULL_REQUEST not in kinds, s


def test_never_a_merge_without_automerge() -> None:
    for s, _, kinds in CASES:
        if not s.automerge:
            assert ActionKind.MERGE_PULL_REQUEST not in kinds, s


def test_never_a_commit_that_modifies_without_allow_modification() -> None:
    for s, _, kinds in CASES:
        if not s.allow_modification and s.modifies:
            assert ActionKind.COMMIT not in kinds, s


def test_never_a_reset_of_foreign_commits_unless_asked() -> None:
    for s, _, kinds in CASES:
        if s.branch is BranchSituation.FOREIGN and s.branch_policy is BranchPolicy.SAFE:
            assert ActionKind.RESET_BRANCH not in kinds, s


def test_never_a_reset_of_the_default_or_a_protected_branch() -> None:
    for s, _, kinds in CASES:
        if s.branch_protected:
            assert ActionKind.RESET_BRANCH not in kinds, s


def test_never_a_merge_of_foreign_commits_unless_asked() -> None:
    """A merge brings only prplan's commits: the head's own commits are all
    prplan's, or the branch is first reset to base, or the request said so."""
    for s, _, kinds in CASES:
        if ActionKind.MERGE_PULL_REQUEST in kinds and s.foreign_on_head:
            assert s.merge_foreign_commits or ActionKind.RESET_BRANCH in kinds, s


def test_never_a_write_to_a_branch_other_pull_requests_use() -> None:
    for s, _, kinds in CASES:
        if s.branch_in_use:
            assert not {A.COMMIT, A.RESET_BRANCH, A.DELETE_BRANCH} & set(kinds), s


def test_a_path_that_is_not_a_file_is_always_refused() -> None:
    for s, rule, _ in CASES:
        if s.not_a_file:
            assert rule.refuse is not None, s


def test_delete_branch_only_after_a_merge_and_never_base() -> None:
    for s, _, kinds in CASES:
        if ActionKind.DELETE_BRANCH in kinds:
            assert s.delete_branch and not s.head_is_base
            after_our_merge = kinds[-2:] == (
                ActionKind.MERGE_PULL_REQUEST,
                ActionKind.DELETE_BRANCH,
            )
            finishing_a_merged_run = kinds == (ActionKind.DELETE_BRANCH,) and s.pr is PRState.MERGED
            assert after_our_merge or finishing_a_merged_run, s


def test_an_open_pull_request_is_reused_never_duplicated() -> None:
    for s, _, kinds in CASES:
        if s.pr in {PRState.OPEN, PRState.MULTIPLE}:
            assert ActionKind.CREATE_PULL_REQUEST not in kinds, s


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
