"""The decision table: every decision prplan makes, as data.

Theory of operation
-------------------
The planner reduces (snapshot, request) to a small, finite ``Situation``:
the pull-request state, the branch situation, three facts about content,
and the request's flags. ``decide`` walks ``RULES`` top to bottom and takes
the first rule whose conditions all hold. A rule either refuses (with a code)
or names a sequence of action kinds. The planner then only fills in the
concrete shas, paths and wording; it makes no decision of its own.

Rule 1 of this module: everything that decides *what* prplan does lives here.
The planner's branches, the ``transitions`` lifecycle machine, its Mermaid
diagram and ``specs/decision-table.md`` are all derived from ``RULES`` and
``TRANSITIONS``, and a test fails when the committed specs differ.

Because the situation space is finite (a few tens of thousands of points),
tests enumerate all of it: every point matches a rule, and every rule's
actions are a legal path through the lifecycle machine ending where the flags
ask to end.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from prplan.core.request import BranchPolicy, MergeWhen, OnClosed
from prplan.core.situation import DIMENSIONS, Mention, Rule, Situation, when_of
from prplan.core.snapshot import Gate, MergeArmed
from prplan.core.space import all_situations, space_size
from prplan.core.states import (
    ActionKind,
    ArmedBy,
    BranchSituation,
    PRState,
    RefusalCode,
    Stage,
)
from prplan.core.superseded import closes_superseded, superseded_rules

__all__ = [
    "Situation",
    "Rule",
    "Mention",
    "RULES",
    "TRANSITIONS",
    "DIMENSIONS",
    "decide",
    "start_stage",
    "goal_stage",
    "goal_stages",
    "all_situations",
    "space_size",
]

A = ActionKind


_when = when_of

_NO_OPEN_PR = {PRState.NONE, PRState.MERGED, PRState.CLOSED}
#: branch situations whose rules write the branch (reset, or commit on it)
_RESET = {BranchSituation.DISPOSABLE, BranchSituation.FOREIGN}
_WRITTEN = {BranchSituation.AT_BASE, *_RESET}

# How the branch is prepared for the commit when no pull request is open.
_PREPARE: tuple[tuple[str, object, tuple[ActionKind, ...]], ...] = (
    ("absent", BranchSituation.ABSENT, (A.CREATE_BRANCH,)),
    ("at_base", BranchSituation.AT_BASE, ()),
    ("stale", {BranchSituation.DISPOSABLE, BranchSituation.FOREIGN}, (A.RESET_BRANCH,)),
)
# What follows the commit, by flags.
_FINISH: tuple[tuple[str, dict[str, object], tuple[ActionKind, ...], bool, str], ...] = (
    (
        "merge",
        {"create_pr": True, "automerge": True, "merge_queue": False},
        (A.CREATE_PULL_REQUEST, A.MERGE_PULL_REQUEST),
        True,
        "",
    ),
    (
        "enqueue",
        {"create_pr": True, "automerge": True, "merge_queue": True},
        (A.CREATE_PULL_REQUEST, A.ENQUEUE),
        False,
        "base merges through a merge queue: the pull request is enqueued, the queue merges it",
    ),
    ("propose", {"create_pr": True, "automerge": False}, (A.CREATE_PULL_REQUEST,), False, ""),
    (
        "commit_only",
        {"create_pr": False},
        (),
        False,
        "create_pr is off: no pull request is opened or merged",
    ),
)


_NOW = MergeWhen.NOW
_LATER = {MergeWhen.AUTO, MergeWhen.WAIT}
#: gates that hold until a check reports or a reviewer approves
_WAITING = {Gate.PENDING, Gate.NEEDS_REVIEW}
#: gates only a new base under the branch clears
_REBASE = {Gate.BEHIND, Gate.CONFLICT}
_OURS_TO_REBASE = {BranchSituation.HAS_CHANGE, BranchSituation.DISPOSABLE}
_ARMED = {MergeArmed.AUTO_MERGE, MergeArmed.QUEUED}


def _gate(**conditions: object) -> dict[str, frozenset[object]]:
    """Conditions on an open pull request that automerge is asked to merge."""
    return _when(pr=PRState.OPEN, automerge=True, **conditions)


def _gate_refusals() -> list[Rule]:
    """What the gate of an open pull request refuses, before any write."""
    return [
        Rule(name="open_draft", when=_gate(gate=Gate.DRAFT), refuse=RefusalCode.MERGE_BLOCKED),
        # Behind or conflicting, and not provably prplan's: only a human can
        # bring base into the branch.
        Rule(
            name="open_gate_behind",
            when=_gate(gate=_REBASE, foreign_on_head=True),
            refuse=RefusalCode.PR_BEHIND_BASE,
        ),
    ]


def _gate_actions() -> list[Rule]:
    """What the gate of an open pull request decides; after the refusals
    every pull request shares (foreign commits, draft)."""
    has = BranchSituation.HAS_CHANGE
    return [
        Rule(
            name="open_checks_failing",
            when=_gate(branch=has, gate=Gate.FAILING),
            refuse=RefusalCode.CHECKS_FAILING,
        ),
        Rule(
            name="open_queue_now",
            when=_gate(merge_queue=True, merge_when=_NOW),
            refuse=RefusalCode.MERGE_BLOCKED,
        ),
        Rule(
            name="open_queued_now",
            when=_gate(branch=has, armed=MergeArmed.QUEUED, merge_when=_NOW),
            refuse=RefusalCode.MERGE_BLOCKED,
        ),
        Rule(
            name="open_gate_now",
            when=_gate(branch=has, gate=_WAITING, merge_when=_NOW),
            refuse=RefusalCode.MERGE_BLOCKED,
        ),
        # Behind base, or conflicting, and only prplan's commits on it:
        # prplan's commit is made again on base's head (never a merge of base).
        *_rebase_rules(),
        Rule(
            name="open_armed_waiting",
            when=_gate(branch=has, gate=_WAITING, armed=_ARMED),
            note="a merge is armed: GitHub merges the pull request when its gate clears",
            waits=True,
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_in_queue",
            when=_gate(branch=has, armed=MergeArmed.QUEUED),
            note="the pull request is in the merge queue: the queue merges it",
            waits=True,
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_auto_merge_queue",
            when=_gate(branch=has, armed=MergeArmed.AUTO_MERGE, merge_queue=True),
            note="auto-merge is on: GitHub adds the pull request to the merge queue",
            waits=True,
            mentions=Mention.OPEN,
        ),
        Rule(name="open_enqueue", when=_gate(branch=has, merge_queue=True), actions=(A.ENQUEUE,)),
        Rule(
            name="open_enable_auto_merge",
            when=_gate(branch=has, gate=_WAITING),
            actions=(A.ENABLE_AUTO_MERGE,),
        ),
    ]


def _rebase_rules() -> list[Rule]:
    rebase = {"gate": _REBASE, "branch": _OURS_TO_REBASE}
    return [
        Rule(
            name="open_rebase_in_use",
            when=_gate(branch_in_use=True, **rebase),
            refuse=RefusalCode.BRANCH_IN_USE,
        ),
        Rule(
            name="open_rebase_protected",
            when=_gate(branch_protected=True, **rebase),
            refuse=RefusalCode.BRANCH_PROTECTED,
        ),
        Rule(
            name="open_rebase_enqueue",
            when=_gate(merge_queue=True, **rebase),
            actions=(A.RESET_BRANCH, A.COMMIT, A.ENQUEUE),
        ),
        Rule(
            name="open_rebase_merge",
            when=_gate(**rebase),
            actions=(A.RESET_BRANCH, A.COMMIT, A.MERGE_PULL_REQUEST),
            then_delete=True,
        ),
    ]


def _rules() -> tuple[Rule, ...]:
    rules = [
        Rule(
            name="multiple_open_prs",
            when=_when(pr=PRState.MULTIPLE),
            refuse=RefusalCode.MULTIPLE_OPEN_PRS,
        ),
        Rule(
            name="path_not_a_file",
            when=_when(not_a_file=True),
            refuse=RefusalCode.PATH_NOT_A_FILE,
        ),
        Rule(name="edit_failed", when=_when(edit_fails=True), refuse=RefusalCode.EDIT_FAILED),
        Rule(
            name="open_pr_without_branch",
            when=_when(pr=PRState.OPEN, branch=BranchSituation.ABSENT),
            refuse=RefusalCode.BRANCH_MISSING,
        ),
        Rule(
            name="modification_not_allowed",
            when=_when(allow_modification=False, modifies=True),
            refuse=RefusalCode.MODIFICATION_NOT_ALLOWED,
        ),
        Rule(
            name="head_is_base",
            when=_when(head_is_base=True, create_pr=True),
            refuse=RefusalCode.HEAD_IS_BASE,
        ),
        Rule(
            name="base_in_place",
            when=_when(head_is_base=True, in_place=True),
            note="the requested content is already on base",
            mentions=Mention.MERGED_EARLIER,
        ),
        Rule(
            name="base_in_use",
            when=_when(head_is_base=True, branch_in_use=True),
            refuse=RefusalCode.BRANCH_IN_USE,
        ),
        Rule(
            name="commit_to_base",
            when=_when(head_is_base=True),
            actions=(A.COMMIT,),
            note="the branch is the base: the commit goes straight to base, without a pull request",
        ),
        # prplan armed the merge (auto-merge, the queue) and someone pushed
        # commits onto its branch since: a push with write access leaves the
        # arming on, and GitHub would merge them unreviewed. Whatever the
        # request, the arming goes and the run stops there (exit 3).
        Rule(
            name="open_disarm_foreign",
            when=_when(
                pr=PRState.OPEN,
                armed_by=ArmedBy.PRPLAN,
                foreign_on_head=True,
                merge_foreign_commits=False,
            ),
            actions=(A.DISARM_MERGE,),
            note="prplan armed the merge and the branch now holds commits prplan did not make: "
            "the arming is turned off and nothing else is done",
            mentions=Mention.OPEN,
        ),
        *superseded_rules(),
        Rule(
            name="open_in_place",
            when=_when(pr=PRState.OPEN, in_place=True),
            note="the requested content is already on base; the open pull request is left as it is",
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_pr_behind_base",
            when=_when(pr=PRState.OPEN, pr_behind=True),
            refuse=RefusalCode.PR_BEHIND_BASE,
        ),
        *_gate_refusals(),
        # A merge brings every commit of the head into base: refuse when some
        # are not prplan's, unless the request says to merge them anyway.
        Rule(
            name="open_merge_foreign",
            when=_when(
                pr=PRState.OPEN, automerge=True, foreign_on_head=True, merge_foreign_commits=False
            ),
            refuse=RefusalCode.MERGE_HAS_FOREIGN_COMMITS,
        ),
        *_gate_actions(),
        Rule(
            name="open_current_merge",
            when=_when(pr=PRState.OPEN, branch=BranchSituation.HAS_CHANGE, automerge=True),
            actions=(A.MERGE_PULL_REQUEST,),
            then_delete=True,
        ),
        Rule(
            name="open_current_review",
            when=_when(pr=PRState.OPEN, branch=BranchSituation.HAS_CHANGE),
            note="the open pull request already carries the change; it awaits review",
            mentions=Mention.OPEN,
        ),
        Rule(
            name="open_branch_in_use",
            when=_when(pr=PRState.OPEN, branch_in_use=True),
            refuse=RefusalCode.BRANCH_IN_USE,
        ),
        Rule(
            name="open_update_enqueue",
            when=_when(pr=PRState.OPEN, automerge=True, merge_queue=True),
            actions=(A.COMMIT, A.ENQUEUE),
        ),
        Rule(
            name="open_update_merge",
            when=_when(pr=PRState.OPEN, automerge=True),
            actions=(A.COMMIT, A.MERGE_PULL_REQUEST),
            then_delete=True,
        ),
        # automerge off and the open pull request armed: a new commit would
        # be merged by that arming, unreviewed.
        Rule(
            name="open_update_armed_by_someone_else",
            when=_when(pr=PRState.OPEN, automerge=False, armed_by=ArmedBy.SOMEONE_ELSE),
            refuse=RefusalCode.PR_ARMED_BY_SOMEONE_ELSE,
        ),
        Rule(
            name="open_update_disarm",
            when=_when(pr=PRState.OPEN, automerge=False, armed_by=ArmedBy.PRPLAN),
            actions=(A.DISARM_MERGE, A.COMMIT),
            note="automerge is off: the merge prplan armed is turned off before the commit, "
            "and the pull request stays open for review",
        ),
        Rule(
            name="open_update",
            when=_when(pr=PRState.OPEN),
            actions=(A.COMMIT,),
            note="automerge is off: the pull request stays open for review",
        ),
        # A run that merged and then died before deleting the branch: finish
        # it, so that running again converges to the uninterrupted result.
        # Only a branch whose deletion loses nothing: at base, or every commit
        # on it is in base or at a pull request's head. Prplan's own commits
        # in no pull request (another request's pending work) make it
        # disposable for a reset, never for a deletion: it is then kept.
        Rule(
            name="merged_cleanup",
            when=_when(
                pr=PRState.MERGED,
                in_place=True,
                delete_branch=True,
                branch_in_use=False,
                unmerged_on_branch=False,
                branch={BranchSituation.DISPOSABLE, BranchSituation.AT_BASE},
            ),
            actions=(A.DELETE_BRANCH,),
            note="the pull request is merged and delete_branch is on: finish by deleting the branch",
            mentions=Mention.MERGED_CLEAN_UP,
        ),
        Rule(
            name="in_place",
            when=_when(pr=_NO_OPEN_PR, in_place=True),
            note="the requested content is already on base",
            mentions=Mention.MERGED_EARLIER,
        ),
        Rule(
            name="closed_skip",
            when=_when(pr=PRState.CLOSED, on_closed=OnClosed.SKIP),
            note="the latest pull request was closed without merging and on_closed is 'skip'",
            mentions=Mention.CLOSED_SKIPPED,
        ),
        Rule(
            name="closed_fail",
            when=_when(pr=PRState.CLOSED, on_closed=OnClosed.FAIL),
            refuse=RefusalCode.PR_CLOSED,
        ),
        # From here on, a branch that does not hold the change is committed
        # to or reset: never one that other pull requests use, and never
        # reset the default branch or a protected one.
        Rule(
            name="branch_in_use",
            when=_when(branch_in_use=True, branch=_WRITTEN),
            refuse=RefusalCode.BRANCH_IN_USE,
        ),
        Rule(
            name="branch_protected",
            when=_when(branch_protected=True, branch=_RESET),
            refuse=RefusalCode.BRANCH_PROTECTED,
        ),
        Rule(
            name="foreign_commits",
            when=_when(branch=BranchSituation.FOREIGN, branch_policy=BranchPolicy.SAFE),
            refuse=RefusalCode.BRANCH_HAS_FOREIGN_COMMITS,
        ),
        # A merge queue merges only what is enqueued: merge_when='now' cannot be met.
        Rule(
            name="new_pr_queue_now",
            when=_when(
                pr=_NO_OPEN_PR, create_pr=True, automerge=True, merge_queue=True, merge_when=_NOW
            ),
            refuse=RefusalCode.MERGE_BLOCKED,
        ),
        Rule(
            name="has_change_merge_foreign",
            when=_when(
                pr=_NO_OPEN_PR,
                branch=BranchSituation.HAS_CHANGE,
                create_pr=True,
                automerge=True,
                foreign_on_head=True,
                merge_foreign_commits=False,
            ),
            refuse=RefusalCode.MERGE_HAS_FOREIGN_COMMITS,
        ),
    ]
    # The branch already holds the change (a re-run after a crash): no commit.
    for finish, flags, tail, deletes, note in _FINISH:
        rules.append(
            Rule(
                name=f"has_change_{finish}",
                when=_when(pr=_NO_OPEN_PR, branch=BranchSituation.HAS_CHANGE, **flags),
                actions=tail,
                then_delete=deletes,
                note=note,
            )
        )
    for (prepare, branch, head), (finish, flags, tail, deletes, note) in itertools.product(
        _PREPARE, _FINISH
    ):
        rules.append(
            Rule(
                name=f"{prepare}_{finish}",
                when=_when(pr=_NO_OPEN_PR, branch=branch, **flags),
                actions=(*head, A.COMMIT, *tail),
                then_delete=deletes,
                note=note,
            )
        )
    return tuple(rules)


#: The rules, in the order they are tried. The first that matches decides.
RULES: tuple[Rule, ...] = _rules()

#: The lifecycle: (trigger = action kind, source stage, destination stage).
TRANSITIONS: tuple[tuple[ActionKind, Stage, Stage], ...] = (
    (A.CREATE_BRANCH, Stage.NO_BRANCH, Stage.BRANCH_READY),
    (A.RESET_BRANCH, Stage.BRANCH_OUTDATED, Stage.BRANCH_READY),
    (A.COMMIT, Stage.BRANCH_READY, Stage.COMMITTED),
    (A.COMMIT, Stage.PROPOSED_OUTDATED, Stage.PROPOSED),
    (A.COMMIT, Stage.BASE_OUTDATED, Stage.IN_PLACE),
    (A.CREATE_PULL_REQUEST, Stage.COMMITTED, Stage.PROPOSED),
    (A.MERGE_PULL_REQUEST, Stage.PROPOSED, Stage.MERGED),
    (A.ENABLE_AUTO_MERGE, Stage.PROPOSED, Stage.AUTO_MERGE_ENABLED),
    (A.ENQUEUE, Stage.PROPOSED, Stage.QUEUED),
    # Auto-merge on (by anyone) and the gate clean: merged now.
    (A.MERGE_PULL_REQUEST, Stage.AUTO_MERGE_ENABLED, Stage.MERGED),
    # prplan's commit made again on base's head (one ref write with the
    # commit that follows): the pull request lacks the change in between.
    (A.RESET_BRANCH, Stage.PROPOSED, Stage.PROPOSED_OUTDATED),
    (A.RESET_BRANCH, Stage.PROPOSED_OUTDATED, Stage.PROPOSED_OUTDATED),
    (A.RESET_BRANCH, Stage.AUTO_MERGE_ENABLED, Stage.PROPOSED_OUTDATED),
    (A.RESET_BRANCH, Stage.QUEUED, Stage.PROPOSED_OUTDATED),
    # prplan's own arming turned off (foreign commits on the head, or a new
    # commit under automerge off). Without automerge the situation does not
    # say how it is armed: the stage stays where it was.
    (A.DISARM_MERGE, Stage.AUTO_MERGE_ENABLED, Stage.PROPOSED),
    (A.DISARM_MERGE, Stage.QUEUED, Stage.PROPOSED),
    (A.DISARM_MERGE, Stage.PROPOSED, Stage.PROPOSED),
    (A.DISARM_MERGE, Stage.PROPOSED_OUTDATED, Stage.PROPOSED_OUTDATED),
    (A.DISARM_MERGE, Stage.IN_PLACE, Stage.IN_PLACE),
    (A.DELETE_BRANCH, Stage.MERGED, Stage.BRANCH_DELETED),
    (A.DELETE_BRANCH, Stage.IN_PLACE, Stage.BRANCH_DELETED),
    # close_superseded: base holds the change; prplan's own pull request is
    # closed, its branch deleted with delete_branch.
    (A.CLOSE_PULL_REQUEST, Stage.IN_PLACE, Stage.CLOSED),
    (A.DELETE_BRANCH, Stage.CLOSED, Stage.BRANCH_DELETED),
)


#: Each rule with its conditions as pairs, read once (``decide`` runs for
#: every point of the space in the tests).
_CONDITIONS = tuple((rule, tuple(rule.when.items())) for rule in RULES)


def decide(situation: Situation) -> Rule:
    for rule, conditions in _CONDITIONS:
        if all(getattr(situation, dim) in values for dim, values in conditions):
            return rule
    # Unreachable: the table is total, which a test proves over every situation.
    raise AssertionError(f"no rule matches {situation!r}")


def start_stage(situation: Situation) -> Stage:
    """Where the lifecycle starts, seen from the situation."""
    if situation.in_place:
        return Stage.IN_PLACE
    if situation.head_is_base:
        return Stage.BASE_OUTDATED
    if situation.pr in {PRState.OPEN, PRState.MULTIPLE}:
        if situation.branch is not BranchSituation.HAS_CHANGE:
            return Stage.PROPOSED_OUTDATED
        return _ARMED_STAGE[situation.armed]
    return {
        BranchSituation.ABSENT: Stage.NO_BRANCH,
        BranchSituation.AT_BASE: Stage.BRANCH_READY,
        BranchSituation.HAS_CHANGE: Stage.COMMITTED,
        BranchSituation.DISPOSABLE: Stage.BRANCH_OUTDATED,
        BranchSituation.FOREIGN: Stage.BRANCH_OUTDATED,
    }[situation.branch]


_ARMED_STAGE: Mapping[MergeArmed, Stage] = {
    MergeArmed.NONE: Stage.PROPOSED,
    MergeArmed.AUTO_MERGE: Stage.AUTO_MERGE_ENABLED,
    MergeArmed.QUEUED: Stage.QUEUED,
}


def goal_stages(situation: Situation) -> frozenset[Stage]:
    """Every stage a plan may end in. Besides ``goal_stage``: where a merge
    is asked for and ``merge_when`` is auto or wait, a merge GitHub makes
    later (auto-merge enabled, or queued); through a merge queue, only
    those (the queue merges, never prplan)."""
    goal = goal_stage(situation)
    if goal not in {Stage.MERGED, Stage.BRANCH_DELETED} or situation.merge_when is MergeWhen.NOW:
        return frozenset({goal})
    later = {Stage.AUTO_MERGE_ENABLED, Stage.QUEUED}
    return frozenset(later if situation.merge_queue else {goal, *later})


def goal_stage(situation: Situation) -> Stage:
    """Where the flags ask the change to end. Written from the request's
    meaning, independently of ``RULES``, so tests can hold one against the
    other: ``create_pr`` governs opening a pull request, ``automerge`` merging
    the one that carries the change, ``delete_branch`` cleaning up after a
    merge."""
    if situation.in_place and not situation.head_is_base and closes_superseded(situation):
        deletes = situation.delete_branch and not situation.branch_in_use
        return Stage.BRANCH_DELETED if deletes else Stage.CLOSED
    if situation.in_place and not situation.head_is_base:
        # delete_branch asks for a merged pull request's branch to be gone,
        # unless that would lose commits no pull request and not base holds.
        leftover = (
            situation.pr is PRState.MERGED
            and not situation.branch_in_use
            and not situation.unmerged_on_branch
            and situation.branch in {BranchSituation.DISPOSABLE, BranchSituation.AT_BASE}
        )
        return Stage.BRANCH_DELETED if situation.delete_branch and leftover else Stage.IN_PLACE
    if situation.head_is_base:
        return Stage.IN_PLACE
    has_pr = situation.pr is PRState.OPEN or situation.create_pr
    if not has_pr:
        return Stage.COMMITTED
    if not situation.automerge:
        return Stage.PROPOSED
    deletes = situation.delete_branch and not situation.branch_in_use
    return Stage.BRANCH_DELETED if deletes else Stage.MERGED
