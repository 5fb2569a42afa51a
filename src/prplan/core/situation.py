"""The vocabulary of the decision table: the ``Situation`` it decides on,
its ``DIMENSIONS``, a ``Rule`` (one row) and the pull request a row's plan
mentions. The rows themselves are in ``table``; which points of the space
are enumerated, in ``space``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import attrs

from prplan.core.request import BranchPolicy, MergeWhen, OnClosed
from prplan.core.snapshot import Gate, MergeArmed
from prplan.core.states import ActionKind, ArmedBy, BranchSituation, PRState, RefusalCode

__all__ = ["Situation", "DIMENSIONS", "Mention", "Rule", "when_of"]

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
    #: the branch holds commits that neither base nor the head of any of its
    #: pull requests (merged, closed or open) contains, and base lacks some of
    #: their changes: deleting it would lose them
    unmerged_on_branch: bool = False
    create_pr: bool
    automerge: bool
    allow_modification: bool
    on_closed: OnClosed
    branch_policy: BranchPolicy
    delete_branch: bool
    merge_foreign_commits: bool = False
    #: what stands between the open pull request and its merge
    gate: Gate = Gate.CLEAN
    #: a merge already on its way for the open pull request, by anyone
    armed: MergeArmed = MergeArmed.NONE
    #: who armed the open pull request's merge (read whatever automerge says):
    #: prplan's own login, someone else, or nobody
    armed_by: ArmedBy = ArmedBy.NOBODY
    #: base is merged into through a merge queue
    merge_queue: bool = False
    merge_when: MergeWhen = MergeWhen.AUTO
    #: the request says close_superseded: close prplan's own open pull
    #: request when base already holds the change
    close_superseded: bool = False
    #: the open pull request is prplan's own: its body carries prplan's
    #: marker with this request's id
    pr_own: bool = False


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
    "unmerged_on_branch": (False, True),
    "create_pr": (True, False),
    "automerge": (True, False),
    "allow_modification": (True, False),
    "on_closed": tuple(OnClosed),
    "branch_policy": tuple(BranchPolicy),
    "delete_branch": (False, True),
    "merge_foreign_commits": (False, True),
    "gate": tuple(Gate),
    "armed": tuple(MergeArmed),
    "armed_by": tuple(ArmedBy),
    "merge_queue": (False, True),
    "merge_when": tuple(MergeWhen),
    "close_superseded": (False, True),
    "pr_own": (False, True),
}


class Mention(enum.StrEnum):
    """A pull request a rule's plan names besides its actions: keyed on the
    row, never on the rule's name, so renaming a rule cannot drop it."""

    MERGED_EARLIER = "merged_earlier"  # the latest pull request, merged before
    CLOSED_SKIPPED = "closed_skipped"  # the latest pull request, closed; nothing done
    OPEN = "open"  # the open pull request
    MERGED_CLEAN_UP = "merged_clean_up"  # the merged pull request whose branch is deleted

    def words(self, number: int) -> str:
        """What the plan says of pull request ``number``."""
        return _MENTION_WORDS[self].format(number=number)


_MENTION_WORDS: Mapping[Mention, str] = {
    Mention.MERGED_EARLIER: "pull request #{number} was merged earlier",
    Mention.CLOSED_SKIPPED: "pull request #{number} is closed; nothing is done",
    Mention.OPEN: "pull request #{number} is open",
    Mention.MERGED_CLEAN_UP: "now that pull request #{number} is merged",
}


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
    #: the plan says what the armed merge (auto-merge, the queue) waits for
    waits: bool = False

    def matches(self, situation: Situation) -> bool:
        return all(getattr(situation, dim) in values for dim, values in self.when.items())

    def actions_for(self, situation: Situation) -> tuple[ActionKind, ...]:
        # Deleting a branch that another open pull request uses would close
        # that pull request: delete_branch then stops at the merge.
        if self.then_delete and situation.delete_branch and not situation.branch_in_use:
            return (*self.actions, A.DELETE_BRANCH)
        return self.actions


def when_of(**conditions: object) -> dict[str, frozenset[object]]:
    """``when_of(pr=PRState.OPEN, branch={...})``: a value or a set of values."""
    out: dict[str, frozenset[object]] = {}
    for dim, value in conditions.items():
        if dim not in DIMENSIONS:
            raise KeyError(f"unknown dimension {dim!r}")
        out[dim] = frozenset(value) if isinstance(value, set | frozenset) else frozenset([value])
    return out
