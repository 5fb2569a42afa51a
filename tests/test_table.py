"""The decision table, proven over every point of the situation space.

These tests hold ``RULES`` against facts stated independently of it: the
lifecycle machine (legal paths), ``goal_stage`` (where the flags ask to
end), and the request's promises (no pull request without ``create_pr``, no
merge without ``automerge``, no overwrite without ``allow_modification``).
"""

from __future__ import annotations

import functools

import attrs
import pytest
from transitions import MachineError

from prplan import (
    ActionKind,
    BranchPolicy,
    BranchSituation,
    Gate,
    MergeArmed,
    MergeWhen,
    OnClosed,
    PRState,
    RefusalCode,
    Stage,
)
from prplan.core.lifecycle import walk
from prplan.core.space import CONDITIONAL
from prplan.core.states import ArmedBy
from prplan.core.table import (
    DIMENSIONS,
    RULES,
    A,
    Situation,
    all_situations,
    decide,
    goal_stages,
    start_stage,
)

SITUATIONS = list(all_situations())
#: Each situation with its rule and actions, decided once for every test.
CASES = [(s, rule, rule.actions_for(s)) for s in SITUATIONS for rule in (decide(s),)]

#: (start, actions) -> stages visited; walking the machine is the slow part
#: and depends on nothing else.
_walk = functools.lru_cache(maxsize=None)(lambda start, actions: tuple(walk(start, actions)))


def test_the_space_is_complete() -> None:
    """The count, derived by hand from the enumeration rules (see
    ``prplan.core.space``). Besides pr, branch and head_is_base, nine flags
    are enumerated everywhere: 2^9 = 512 combinations. on_closed triples the
    closed points; the head's facts multiply by branch (absent 1, at_base 2
    in use, has_change 2 foreign x 2 in use, disposable and foreign x 2
    protected, foreign x 2 branch_policy); merge_foreign_commits doubles the
    foreign points with automerge (half of them)."""
    # head_is_base: only branch_in_use, a foreign branch's policy and its
    # merge_foreign_commits: sum over pr of on_closed (7) x sum over branch (14).
    on_base = 7 * (4 * 2 + 2 * 2 * 1.5) * 512
    # A pull request to open and merge (create_pr, automerge, and none of
    # in_place, edit_fails, not_a_file, modifies without allow_modification:
    # 12 of the 512) takes merge_queue x merge_when (6): 60 points more.
    # One head unit without foreign commits, and one with (merge_foreign
    # doubles its automerge half, the merge region included):
    new_pr = {"clean": 512 + 60, "foreign": 256 + 2 * (256 + 60)}
    closed = {"clean": 3 * 512 + 60, "foreign": 3 * 256 + 2 * (3 * 256 + 60)}
    no_pr_units = {"absent": (1, 0), "at_base": (2, 0), "has_change": (2, 2)}
    no_pr_units |= {"disposable": (4, 4), "foreign": (0, 8)}

    def count(unit: dict[str, float], units: dict[str, tuple[int, int]]) -> float:
        return sum(c * unit["clean"] + f * unit["foreign"] for c, f in units.values())

    # An open pull request to merge (automerge, the branch there, none of
    # pr_behind, in_place, edit_fails, not_a_file, modifies without
    # allow_modification: 12 of the 512) takes gate x armed (21) x the merge
    # settings (6) = 126; a has_change branch also protected or not where the
    # gate is behind or conflict (2 of 7 gates): 27 x 6 = 162.
    # armed_by (nobody, prplan, someone else) triples every open point on
    # an existing branch outside that region; inside it, only an armed
    # point takes prplan or someone else: 7 x (1 + 2 + 2) x 6 = 210 and
    # (5 + 2 x 2) x 5 x 6 = 270. merge_foreign_commits also doubles a
    # foreign point that prplan armed with automerge off: 256 x (1 + 2 + 1).
    def open_unit(per_point: int) -> dict[str, float]:
        return {"clean": 3 * 500 + 12 * per_point, "foreign": 1024 + 2 * (3 * 244 + 12 * per_point)}

    open_pr = 512 + count(open_unit(210), {k: v for k, v in no_pr_units.items() if k != "absent"})
    open_pr += count(open_unit(270), {"has_change": (2, 2)}) - count(
        open_unit(210), {"has_change": (2, 2)}
    )
    multiple = count({"clean": 512, "foreign": 256 + 2 * 256}, no_pr_units)
    # unmerged_on_branch doubles a merged pull request's disposable branch
    # where delete_branch is on (half of those points): 2,920 points more.
    unmerged = count(new_pr, {"disposable": (4, 4)}) / 2
    expected = (
        on_base
        + 2 * count(new_pr, no_pr_units)  # none, merged
        + unmerged
        + count(closed, no_pr_units)
        + open_pr
        + multiple
    )
    # close_superseded doubles, and pr_own with it on again, the open pull
    # request's points that meet a base already holding the content (in_place,
    # none of edit_fails, not_a_file, modifies without allow_modification:
    # 48 of the 512, half of them with automerge), on a branch that exists.
    # There armed_by triples them; a foreign head's automerge half is also
    # doubled by merge_foreign_commits (24 x 3 x 2), its other half by it
    # where prplan armed (24 x (1 + 2 + 1)): 2 x (8 x 144 + 14 x 240) = 9,024.
    superseded = 2 * count(
        {"clean": 3 * 48, "foreign": 24 * 6 + 24 * 4},
        {k: v for k, v in no_pr_units.items() if k != "absent"},
    )
    assert superseded == 9_024
    expected += superseded
    assert unmerged == 2_920
    assert len(SITUATIONS) == expected == 303_324
    assert len(set(SITUATIONS)) == len(SITUATIONS)


#: The dimensions ``all_situations`` holds at some points although other
#: values exist: wherever one is held, flipping it must not change the
#: answer. (``foreign_on_head`` and ``branch_in_use`` are held only where no
#: repository can have the other value: no commits beyond base, or no branch.)
_FLIPPED = (
    "unmerged_on_branch",
    "branch_protected",
    "merge_foreign_commits",
    "on_closed",
    "branch_policy",
    "merge_queue",
    "merge_when",
    "gate",
    "armed",
    "armed_by",
    "close_superseded",
    "pr_own",
)


#: What the enumeration's steps read to choose the values of the others.
_STEPS_READ = (
    *("pr", "branch", "head_is_base", "not_a_file", "edit_fails", "in_place", "modifies"),
    *("allow_modification", "automerge", "pr_behind", "create_pr", "on_closed"),
    *("foreign_on_head", "gate", "delete_branch", "armed", "armed_by", "close_superseded"),
)


def _impossible(name: str, point: dict[str, object]) -> bool:
    """Where no repository has another value of ``name`` than the held one
    (not flipped): a branch at base, absent, or base itself holds no commit
    that deleting it would lose."""
    no_commits = point["head_is_base"] or point["branch"] in {
        BranchSituation.ABSENT,
        BranchSituation.AT_BASE,
    }
    # armed_by is held on an open pull request only where nothing is armed
    # (armed is enumerated there): no one can have armed it then.
    armed_held = name == "armed_by" and point["pr"] is PRState.OPEN
    return (name == "unmerged_on_branch" and bool(no_commits)) or armed_held


@functools.cache
def _held_at(values: tuple[object, ...]) -> tuple[str, ...]:
    point = dict(zip(_STEPS_READ, values, strict=True))
    held = []
    for step in CONDITIONAL:
        for name, chosen in step(point).items():
            if name in _FLIPPED and len(chosen) == 1 and not _impossible(name, point):
                held.append(name)
    return tuple(held)


def _held(s: Situation) -> tuple[str, ...]:
    """The flipped dimensions the enumeration holds at ``s``."""
    return _held_at(tuple(getattr(s, name) for name in _STEPS_READ))


def test_dimensions_not_enumerated_cannot_change_the_answer() -> None:
    """Where ``all_situations`` holds a dimension, every other value of it
    gives the same rule and actions: the reduced space loses nothing.
    Flipping a dimension changes only rules that name it: the decision stays
    the same iff no earlier such rule starts to match and the rule that
    matched (if it names it) still matches. Actions do not depend on these
    dimensions (``Rule.actions_for`` reads delete_branch and branch_in_use
    only), so the same rule means the same actions. Checked once per
    distinct (rule matched, values the naming rules read)."""
    position = {rule.name: i for i, rule in enumerate(RULES)}
    naming = {name: [i for i, r in enumerate(RULES) if name in r.when] for name in _FLIPPED}
    read = {name: sorted({dim for i in naming[name] for dim in RULES[i].when}) for name in _FLIPPED}
    seen: set[tuple[object, ...]] = set()
    checked = 0
    for s, rule, _ in CASES:
        matched = position[rule.name]
        for name in _held(s):
            key = (name, matched, *(getattr(s, dim) for dim in read[name]))
            if key in seen:
                continue
            seen.add(key)
            current = getattr(s, name)
            for flipped in DIMENSIONS[name]:
                if flipped == current:
                    continue
                for i in naming[name]:
                    if i > matched:
                        break
                    hit = all(
                        (flipped if dim == name else getattr(s, dim)) in values
                        for dim, values in RULES[i].when.items()
                    )
                    assert hit == (i == matched), (s, name, flipped, RULES[i].name)
            checked += 1
    assert checked > 1_000


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
        if s.armed_by is ArmedBy.PRPLAN and s.foreign_on_head and not s.merge_foreign_commits:
            return None  # prplan's own arming is turned off, whatever else holds
        if s.in_place:
            return None
        if s.pr_behind:
            return RefusalCode.PR_BEHIND_BASE
        return _expected_open_refusal(s, merges_foreign)
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
    if s.create_pr and s.automerge and s.merge_queue and s.merge_when is MergeWhen.NOW:
        return RefusalCode.MERGE_BLOCKED  # a queue cannot merge now
    if s.branch is BranchSituation.HAS_CHANGE and s.create_pr and merges_foreign:
        return RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    return None


_REBASE = {Gate.BEHIND, Gate.CONFLICT}


def _expected_open_refusal(s: Situation, merges_foreign: bool) -> RefusalCode | None:
    """An open pull request that base lacks the change of: the gate's
    refusals (issue 14) around today's."""
    carries = s.branch is BranchSituation.HAS_CHANGE
    now = s.automerge and s.merge_when is MergeWhen.NOW
    rebases = s.automerge and s.gate in _REBASE
    if s.automerge and s.gate is Gate.DRAFT:
        return RefusalCode.MERGE_BLOCKED
    if rebases and s.foreign_on_head:
        return RefusalCode.PR_BEHIND_BASE
    if merges_foreign:
        return RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    if s.automerge and carries and s.gate is Gate.FAILING:
        return RefusalCode.CHECKS_FAILING
    if now and (s.merge_queue or (carries and s.armed is MergeArmed.QUEUED)):
        return RefusalCode.MERGE_BLOCKED
    if now and carries and s.gate in {Gate.PENDING, Gate.NEEDS_REVIEW}:
        return RefusalCode.MERGE_BLOCKED
    if rebases and s.branch in {BranchSituation.HAS_CHANGE, BranchSituation.DISPOSABLE}:
        if s.branch_in_use:
            return RefusalCode.BRANCH_IN_USE
        return RefusalCode.BRANCH_PROTECTED if s.branch_protected else None
    if not carries and s.branch_in_use:
        return RefusalCode.BRANCH_IN_USE  # the next commit would land in another PR
    if not s.automerge and not carries and s.armed_by is ArmedBy.SOMEONE_ELSE:
        return RefusalCode.PR_ARMED_BY_SOMEONE_ELSE  # the commit would be merged unreviewed
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
        expected = frozenset({visited[0]}) if _skipped(s) else goal_stages(s)
        if kinds == (ActionKind.DISARM_MERGE,):  # prplan's arming off; the run stops (exit 3)
            expected = frozenset({Stage.PROPOSED, Stage.PROPOSED_OUTDATED, Stage.IN_PLACE})
        if visited[-1] not in expected:
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
            after_our_merge = kinds[-2:] in {
                (ActionKind.MERGE_PULL_REQUEST, ActionKind.DELETE_BRANCH),
                # close_superseded: prplan's own pull request, base holds its change
                (ActionKind.CLOSE_PULL_REQUEST, ActionKind.DELETE_BRANCH),
            }
            finishing_a_merged_run = kinds == (ActionKind.DELETE_BRANCH,) and s.pr is PRState.MERGED
            assert after_our_merge or finishing_a_merged_run, s


def test_a_branch_is_deleted_only_where_deleting_loses_nothing() -> None:
    """Alone (finishing a merged run), only a branch whose every commit is in
    base or at a pull request's head; otherwise only right after prplan's
    merge of the pull request whose head the branch is (the merge names the
    head it expects, so the branch is at the merged head)."""
    alone = 0
    for s, _, kinds in CASES:
        if A.DELETE_BRANCH not in kinds:
            continue
        if kinds == (A.DELETE_BRANCH,):
            assert not s.unmerged_on_branch and s.branch is not BranchSituation.FOREIGN, s
            alone += 1
        elif kinds[-2] is A.CLOSE_PULL_REQUEST:
            # only prplan's own pull request, without a commit that is not prplan's
            assert s.pr_own and not s.foreign_on_head and s.in_place, s
        else:
            assert kinds[-2] is A.MERGE_PULL_REQUEST, s
    assert alone > 0
    # Where it would lose commits, the merged pull request's branch is kept
    # and nothing else changes: the answer is the one without delete_branch.
    # (Base lacking the content, the branch is reset, committed to, merged:
    # a deletion then follows the merge, checked above.)
    kept = 0
    for s, rule, kinds in CASES:
        if s.unmerged_on_branch and s.in_place:
            plain = attrs.evolve(s, unmerged_on_branch=False, delete_branch=False)
            assert (rule, kinds) == (decide(plain), decide(plain).actions_for(plain)), s
            kept += rule.name == "in_place"
    assert kept > 0


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


_ARMS = {ActionKind.ENABLE_AUTO_MERGE, ActionKind.ENQUEUE}


def test_never_a_direct_merge_through_a_merge_queue() -> None:
    for s, _, kinds in CASES:
        if s.merge_queue:
            assert ActionKind.MERGE_PULL_REQUEST not in kinds, s
            assert ActionKind.ENABLE_AUTO_MERGE not in kinds, s


def test_auto_merge_and_the_queue_only_with_automerge_and_never_under_now() -> None:
    for s, _, kinds in CASES:
        if _ARMS & set(kinds):
            assert s.automerge and s.merge_when is not MergeWhen.NOW, s
            assert kinds[-1] in _ARMS, s  # nothing after it: the merge is GitHub's


def test_a_merge_someone_armed_is_left_alone() -> None:
    """Auto-merge on or queued, and the pull request carries the change: no
    second arming, no reset, unless prplan's commit is made again on base."""
    for s, _, kinds in CASES:
        if s.armed is not MergeArmed.NONE and s.branch is BranchSituation.HAS_CHANGE:
            assert not (_ARMS & set(kinds)) or ActionKind.RESET_BRANCH in kinds, s


def test_a_failing_required_check_is_never_merged_past() -> None:
    for s, rule, kinds in CASES:
        carries = s.pr is PRState.OPEN and s.branch is BranchSituation.HAS_CHANGE
        if carries and s.automerge and s.gate is Gate.FAILING and not s.in_place:
            # refused, or (prplan's arming over foreign commits) only disarmed
            assert rule.refuse is not None or kinds == (ActionKind.DISARM_MERGE,), s


def test_an_open_pull_request_is_reset_only_to_make_prplans_commit_again() -> None:
    """A reset of an open pull request's branch: behind or conflicting, only
    prplan's commits on it, and the commit follows at once."""
    for s, _, kinds in CASES:
        if s.pr is PRState.OPEN and ActionKind.RESET_BRANCH in kinds:
            assert s.gate in _REBASE and not s.foreign_on_head, s
            assert kinds[:2] == (ActionKind.RESET_BRANCH, ActionKind.COMMIT), s


def test_without_automerge_the_gate_changes_nothing() -> None:
    """automerge off: the gate's dimensions are held (so a human's auto-merge
    is never touched), and the space holds them nowhere else needlessly."""
    for s in SITUATIONS:
        if not s.automerge:
            assert (s.gate, s.armed, s.merge_queue, s.merge_when) == (
                Gate.CLEAN,
                MergeArmed.NONE,
                False,
                MergeWhen.AUTO,
            ), s


def test_prplan_never_disarms_an_arming_by_someone_else() -> None:
    """Issue 14's gaps A and B: only prplan's own arming is turned off."""
    for s, _, kinds in CASES:
        if ActionKind.DISARM_MERGE in kinds:
            assert s.armed_by is ArmedBy.PRPLAN and s.pr is PRState.OPEN, s
            assert kinds[0] is ActionKind.DISARM_MERGE, s


def test_prplans_arming_never_outlives_foreign_commits() -> None:
    """Gap A: armed by prplan, foreign commits on the head, and
    merge_foreign_commits off: the plan disarms and does nothing else
    (whatever automerge says), unless the request itself is refused first."""
    for s, rule, kinds in CASES:
        at_stake = s.armed_by is ArmedBy.PRPLAN and s.foreign_on_head
        if at_stake and not s.merge_foreign_commits and rule.refuse is None:
            assert kinds == (ActionKind.DISARM_MERGE,), (s, rule.name)


def test_without_automerge_no_commit_lands_on_an_armed_pull_request() -> None:
    """Gap B: automerge off and the plan commits onto the open pull
    request's branch: someone else's arming refuses, prplan's goes first."""
    for s, rule, kinds in CASES:
        if s.pr is not PRState.OPEN or s.automerge or ActionKind.COMMIT not in kinds:
            continue
        assert s.armed_by is not ArmedBy.SOMEONE_ELSE, (s, rule.name)
        if s.armed_by is ArmedBy.PRPLAN:
            assert kinds[0] is ActionKind.DISARM_MERGE, (s, rule.name)
        refused = s.armed_by is ArmedBy.SOMEONE_ELSE
        assert not refused or rule.refuse is RefusalCode.PR_ARMED_BY_SOMEONE_ELSE
