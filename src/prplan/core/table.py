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

import enum
import functools
import itertools
from collections.abc import Iterator, Mapping

import attrs

from prplan.core.request import BranchPolicy, OnClosed
from prplan.core.states import ActionKind, BranchSituation, PRState, RefusalCode, Stage

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
    "all_situations",
    "space_size",
]

A = ActionKind


@attrs.frozen(kw_only=True)
class Situation:
    """The finite abstraction of (snapshot, request) that rules look at."""

    pr: PRState
    branch: BranchSituation
    head_is_base: bool  # the head branch is the base branch itself
    in_place: bool  # base already holds every requested path as requested
    modifies: bool  # some requested path exists with other content (or is deleted)
    #: an open pull request cannot deliver a requested path by being merged:
    #: base changed it after the fork, away from what the fork point had
    pr_behind: bool
    #: a structured edit of the request cannot be applied to the file it edits
    edit_fails: bool
    #: a requested path is a directory, a submodule or under a file on base or
    #: on the branch (or an edited path is a symlink)
    not_a_file: bool = False
    #: the head branch is the repository's default branch or protected
    branch_protected: bool = False
    #: the head holds commits beyond base that are not provably prplan's
    foreign_on_head: bool = False
    #: the head branch is the head of an open pull request into another base,
    #: or the base of an open pull request
    branch_in_use: bool = False
    create_pr: bool
    automerge: bool
    allow_modification: bool
    on_closed: OnClosed
    branch_policy: BranchPolicy
    delete_branch: bool
    merge_foreign_commits: bool = False


#: Each dimension and its values, in the order the spec lists them.
DIMENSIONS: Mapping[str, tuple[object, ...]] = {
    "pr": tuple(PRState),
    "branch": tuple(BranchSituation),
    "head_is_base": (False, True),
    "in_place": (False, True),
    "modifies": (False, True),
    "pr_behind": (False, True),
    "edit_fails": (False, True),
    "not_a_file": (False, True),
    "branch_protected": (False, True),
    "foreign_on_head": (False, True),
    "branch_in_use": (False, True),
    "create_pr": (True, False),
    "automerge": (True, False),
    "allow_modification": (True, False),
    "on_closed": tuple(OnClosed),
    "branch_policy": tuple(BranchPolicy),
    "delete_branch": (False, True),
    "merge_foreign_commits": (False, True),
}


class Mention(enum.StrEnum):
    """A pull request a rule's plan names besides its actions: keyed on the
    row, never on the rule's name, so renaming a rule cannot drop it."""

    MERGED_EARLIER = "merged_earlier"  # the latest pull request, merged before
    CLOSED_SKIPPED = "closed_skipped"  # the latest pull request, closed; nothing done
    OPEN = "open"  # the open pull request
    MERGED_CLEAN_UP = "merged_clean_up"  # the merged pull request whose branch is deleted


@attrs.frozen(kw_only=True)
class Rule:
    """One row: when every condition holds (a dimension -> the values that
    match; a dimension not named matches anything), do ``actions`` or refuse
    with ``refuse``. ``then_delete`` appends ``delete_branch`` when the
    request asks for it (only ever after a merge). ``note`` is said to the
    user in the plan."""

    name: str
    when: Mapping[str, frozenset[object]]
    actions: tuple[ActionKind, ...] = ()
    refuse: RefusalCode | None = None
    then_delete: bool = False
    note: str = ""
    #: which pull request the plan names, and how (the planner words it)
    mentions: Mention | None = None

    def matches(self, situation: Situation) -> bool:
        return all(getattr(situation, dim) in values for dim, values in self.when.items())

    def actions_for(self, situation: Situation) -> tuple[ActionKind, ...]:
        # Deleting a branch that another open pull request uses would close
        # that pull request: delete_branch then stops at the merge.
        if self.then_delete and situation.delete_branch and not situation.branch_in_use:
            return (*self.actions, A.DELETE_BRANCH)
        return self.actions


def _when(**conditions: object) -> dict[str, frozenset[object]]:
    """``_when(pr=PRState.OPEN, branch={...})``: a value or a set of values."""
    out: dict[str, frozenset[object]] = {}
    for dim, value in conditions.items():
        if dim not in DIMENSIONS:
            raise KeyError(f"unknown dimension {dim!r}")
        out[dim] = frozenset(value) if isinstance(value, set | frozenset) else frozenset([value])
    return out


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
        {"create_pr": True, "automerge": True},
        (A.CREATE_PULL_REQUEST, A.MERGE_PULL_REQUEST),
        True,
        "",
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
        # A merge brings every commit of the head into base: refuse when some
        # are not prplan's, unless the request says to merge them anyway.
        Rule(
            name="open_merge_foreign",
            when=_when(
                pr=PRState.OPEN, automerge=True, foreign_on_head=True, merge_foreign_commits=False
            ),
            refuse=RefusalCode.MERGE_HAS_FOREIGN_COMMITS,
        ),
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
            name="open_update_merge",
            when=_when(pr=PRState.OPEN, automerge=True),
            actions=(A.COMMIT, A.MERGE_PULL_REQUEST),
            then_delete=True,
        ),
        Rule(
            name="open_update",
            when=_when(pr=PRState.OPEN),
            actions=(A.COMMIT,),
            note="automerge is off: the pull request stays open for review",
        ),
        # A run that merged and then died before deleting the branch: finish
        # it, so that running again converges to the uninterrupted result.
        # Only a branch whose deletion loses nothing (merged, or at base).
        Rule(
            name="merged_cleanup",
            when=_when(
                pr=PRState.MERGED,
                in_place=True,
                delete_branch=True,
                branch_in_use=False,
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
    (A.DELETE_BRANCH, Stage.MERGED, Stage.BRANCH_DELETED),
    (A.DELETE_BRANCH, Stage.IN_PLACE, Stage.BRANCH_DELETED),
)


def decide(situation: Situation) -> Rule:
    for rule in RULES:
        if rule.matches(situation):
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
        if situation.branch is BranchSituation.HAS_CHANGE:
            return Stage.PROPOSED
        return Stage.PROPOSED_OUTDATED
    return {
        BranchSituation.ABSENT: Stage.NO_BRANCH,
        BranchSituation.AT_BASE: Stage.BRANCH_READY,
        BranchSituation.HAS_CHANGE: Stage.COMMITTED,
        BranchSituation.DISPOSABLE: Stage.BRANCH_OUTDATED,
        BranchSituation.FOREIGN: Stage.BRANCH_OUTDATED,
    }[situation.branch]


def goal_stage(situation: Situation) -> Stage:
    """Where the flags ask the change to end. Written from the request's
    meaning, independently of ``RULES``, so tests can hold one against the
    other: ``create_pr`` governs opening a pull request, ``automerge`` merging
    the one that carries the change, ``delete_branch`` cleaning up after a
    merge."""
    if situation.in_place and not situation.head_is_base:
        # delete_branch asks for a merged pull request's branch to be gone.
        leftover = (
            situation.pr is PRState.MERGED
            and not situation.branch_in_use
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


#: Dimensions that matter only at some points of the space: each maps to
#: the values worth enumerating given the other dimensions' values. Elsewhere
#: the dimension keeps its one value that a repository can produce there.
def _head_values(point: Mapping[str, object]) -> dict[str, tuple[object, ...]]:
    branch = point["branch"]
    exists = branch is not BranchSituation.ABSENT and not point["head_is_base"]
    # What is on the head matters only where the head has commits beyond base.
    beyond = exists and branch is not BranchSituation.AT_BASE
    foreign: tuple[object, ...] = (
        (True,) if branch is BranchSituation.FOREIGN else (False, True) if beyond else (False,)
    )
    return {
        "foreign_on_head": foreign,
        # A base committed to straight may be the head of another pull request.
        "branch_in_use": (False, True) if exists or point["head_is_base"] else (False,),
        # Protection matters only where the branch would be reset.
        "branch_protected": (False, True) if branch in _RESET and exists else (False,),
    }


#: The dimensions enumerated everywhere; the others are enumerated by
#: ``_head_values`` and by ``merge_foreign_commits``' rule below.
_EVERYWHERE = tuple(
    name
    for name in DIMENSIONS
    if name not in {"foreign_on_head", "branch_in_use", "branch_protected", "merge_foreign_commits"}
)


def all_situations() -> Iterator[Situation]:
    """Every point of the finite space that can matter (including ones no
    repository can produce, such as an open pull request on an absent branch:
    the planner must still answer them). Dimensions about the head are
    enumerated only where a head with commits exists, and
    ``merge_foreign_commits`` only where a merge of foreign commits is asked
    for: elsewhere they cannot change the answer (a test checks this on a
    sample)."""
    for values in itertools.product(*(DIMENSIONS[name] for name in _EVERYWHERE)):
        point: dict[str, object] = dict(zip(_EVERYWHERE, values, strict=True))
        head = _head_values(point)
        for extra in itertools.product(*head.values()):
            full = {**point, **dict(zip(head, extra, strict=True))}
            flags = (False, True) if full["foreign_on_head"] and full["automerge"] else (False,)
            for merge_foreign in flags:
                yield Situation(**full, merge_foreign_commits=merge_foreign)  # type: ignore[arg-type]


@functools.cache
def space_size() -> int:
    """How many points ``all_situations`` enumerates (the spec quotes it)."""
    return sum(1 for _ in all_situations())
