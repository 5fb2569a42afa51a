"""The situation space the tests enumerate: every point that can matter.

Most dimensions are enumerated everywhere. The others matter only at some
points, and are enumerated only there; elsewhere they keep the one value a
repository (or a request) produces there, or a value no rule can tell from
the others (``tests/test_table.py`` proves that by flipping them):

* ``on_closed`` where the latest pull request is closed, ``branch_policy``
  where the branch holds foreign commits (no rule reads them elsewhere);
* the head's facts (``foreign_on_head``, ``branch_in_use``,
  ``branch_protected``) where a head with commits exists, protection where
  the branch would be reset;
* ``unmerged_on_branch`` where a merged pull request's leftover branch,
  disposable, is to be deleted (``delete_branch``): the only place a rule
  reads it. A branch at base or absent cannot hold it; elsewhere no rule can
  tell it apart;
* ``merge_foreign_commits`` where foreign commits would be merged, or sit
  on a head whose merge prplan armed;
* ``merge_queue`` and ``merge_when`` where a merge can be planned: automerge
  on, a pull request open or to be opened, and no earlier refusal that
  every merge setting shares;
* ``gate`` and ``armed`` where an open pull request is to be merged and no
  earlier refusal that every gate shares applies;
* ``armed_by`` where a pull request is open on an existing branch: nobody,
  prplan or someone else; where ``armed`` is enumerated, only the values a
  repository can give with it (nobody when nothing is armed, else prplan
  or someone else);
* ``close_superseded`` where an open pull request meets a base that already
  holds the content (``open_in_place``'s points), and ``pr_own`` there only
  with ``close_superseded`` on: no other rule reads them.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Iterator, Mapping

from prplan.core.request import BranchPolicy, OnClosed
from prplan.core.situation import DIMENSIONS, Situation
from prplan.core.snapshot import Gate, MergeArmed
from prplan.core.states import ArmedBy, BranchSituation, PRState

__all__ = ["all_situations", "space_size", "CONDITIONAL"]

B = BranchSituation
_RESET = {B.DISPOSABLE, B.FOREIGN}
_REBASE = {Gate.BEHIND, Gate.CONFLICT}
_Point = Mapping[str, object]


def _before_any_plan(point: _Point) -> bool:
    """No refusal every plan shares holds, and base lacks the content."""
    return not (
        point["head_is_base"]
        or point["not_a_file"]
        or point["edit_fails"]
        or point["in_place"]
        or (point["modifies"] and not point["allow_modification"])
    )


def _open_to_merge(point: _Point) -> bool:
    """An open pull request, with its branch, that automerge is to merge."""
    return (
        point["pr"] is PRState.OPEN
        and point["automerge"] is True
        and point["branch"] is not B.ABSENT
        and not point["pr_behind"]
        and _before_any_plan(point)
    )


def _new_to_merge(point: _Point) -> bool:
    """A pull request to open and merge."""
    opens = point["pr"] in {PRState.NONE, PRState.MERGED} or (
        point["pr"] is PRState.CLOSED and point["on_closed"] is OnClosed.NEW
    )
    return opens and bool(point["create_pr"] and point["automerge"]) and _before_any_plan(point)


def _policies(point: _Point) -> dict[str, tuple[object, ...]]:
    closed = point["pr"] is PRState.CLOSED
    return {
        "on_closed": DIMENSIONS["on_closed"] if closed else (OnClosed.NEW,),
        "branch_policy": DIMENSIONS["branch_policy"]
        if point["branch"] is B.FOREIGN
        else (BranchPolicy.SAFE,),
    }


def _head(point: _Point) -> dict[str, tuple[object, ...]]:
    branch = point["branch"]
    exists = branch is not B.ABSENT and not point["head_is_base"]
    # What is on the head matters only where the head has commits beyond base.
    beyond = exists and branch is not B.AT_BASE
    foreign: tuple[object, ...] = (
        (True,) if branch is B.FOREIGN else (False, True) if beyond else (False,)
    )
    return {
        "foreign_on_head": foreign,
        # A base committed to straight may be the head of another pull request.
        "branch_in_use": (False, True) if exists or point["head_is_base"] else (False,),
    }


def _cleanup(point: _Point) -> dict[str, tuple[object, ...]]:
    # Whether deleting the branch would lose commits matters only where a
    # merged pull request's leftover branch may be deleted.
    at_stake = (
        point["pr"] is PRState.MERGED
        and point["delete_branch"] is True
        and point["branch"] is B.DISPOSABLE
        and not point["head_is_base"]
    )
    return {"unmerged_on_branch": (False, True) if at_stake else (False,)}


def _merge_settings(point: _Point) -> dict[str, tuple[object, ...]]:
    merges = _open_to_merge(point) or _new_to_merge(point)
    return {
        "merge_queue": DIMENSIONS["merge_queue"] if merges else (False,),
        "merge_when": DIMENSIONS["merge_when"] if merges else (DIMENSIONS["merge_when"][0],),
    }


def _gate(point: _Point) -> dict[str, tuple[object, ...]]:
    gated = _open_to_merge(point)
    return {
        "gate": tuple(Gate) if gated else (Gate.CLEAN,),
        "armed": tuple(MergeArmed) if gated else (MergeArmed.NONE,),
    }


def _arming(point: _Point) -> dict[str, tuple[object, ...]]:
    # Who armed the open pull request's merge: read whatever automerge says.
    branch = point["branch"]
    open_pr = point["pr"] is PRState.OPEN and branch is not B.ABSENT and not point["head_is_base"]
    if not open_pr:
        return {"armed_by": (ArmedBy.NOBODY,)}
    if not _open_to_merge(point):
        return {"armed_by": tuple(ArmedBy)}
    nobody = point["armed"] is MergeArmed.NONE
    return {"armed_by": (ArmedBy.NOBODY,) if nobody else (ArmedBy.PRPLAN, ArmedBy.SOMEONE_ELSE)}


def _foreign_merge(point: _Point) -> dict[str, tuple[object, ...]]:
    # Foreign commits matter where they would be merged, or where prplan's
    # own arming would merge them.
    at_stake = point["automerge"] or point["armed_by"] is ArmedBy.PRPLAN
    return {
        "merge_foreign_commits": (False, True)
        if point["foreign_on_head"] and at_stake
        else (False,)
    }


def _protection(point: _Point) -> dict[str, tuple[object, ...]]:
    # Protection matters only where the branch would be reset: a branch that
    # lacks the change, or an open pull request's made again on a new base.
    branch = point["branch"]
    exists = branch is not B.ABSENT and not point["head_is_base"]
    rebased = branch is B.HAS_CHANGE and point["gate"] in _REBASE
    return {
        "branch_protected": (False, True) if exists and (branch in _RESET or rebased) else (False,)
    }


def _superseded(point: _Point) -> dict[str, tuple[object, ...]]:
    # Where an open pull request meets a base that already holds the content
    # and no refusal every plan shares applies: open_in_place's points.
    superseded = (
        point["pr"] is PRState.OPEN
        and point["in_place"] is True
        and point["branch"] is not B.ABSENT
        and not (point["head_is_base"] or point["not_a_file"] or point["edit_fails"])
        and not (point["modifies"] and not point["allow_modification"])
    )
    return {"close_superseded": (False, True) if superseded else (False,)}


def _ownership(point: _Point) -> dict[str, tuple[object, ...]]:
    return {"pr_own": (False, True) if point["close_superseded"] else (False,)}


#: The conditional dimensions, in the order they are enumerated: each step
#: gives the values worth enumerating from the dimensions fixed before it.
CONDITIONAL: tuple[Callable[[_Point], dict[str, tuple[object, ...]]], ...] = (
    _policies,
    _head,
    _cleanup,
    _merge_settings,
    _gate,
    _arming,
    _foreign_merge,
    _protection,
    _superseded,
    _ownership,
)
_HELD = {
    "on_closed",
    "branch_policy",
    "foreign_on_head",
    "branch_in_use",
    "unmerged_on_branch",
    "branch_protected",
    "merge_foreign_commits",
    "merge_queue",
    "merge_when",
    "gate",
    "armed",
    "armed_by",
    "close_superseded",
    "pr_own",
}
#: The dimensions enumerated everywhere.
EVERYWHERE = tuple(name for name in DIMENSIONS if name not in _HELD)


def _expand(point: dict[str, object], steps: int) -> Iterator[dict[str, object]]:
    if steps == len(CONDITIONAL):
        yield point
        return
    values = CONDITIONAL[steps](point)
    for chosen in itertools.product(*values.values()):
        yield from _expand({**point, **dict(zip(values, chosen, strict=True))}, steps + 1)


def all_situations() -> Iterator[Situation]:
    """Every point of the finite space that can matter (including ones no
    repository can produce, such as an open pull request on an absent
    branch: the planner must still answer them)."""
    for values in itertools.product(*(DIMENSIONS[name] for name in EVERYWHERE)):
        for full in _expand(dict(zip(EVERYWHERE, values, strict=True)), 0):
            yield Situation(**full)  # type: ignore[arg-type]


@functools.cache
def space_size() -> int:
    """How many points ``all_situations`` enumerates (the spec quotes it)."""
    return sum(1 for _ in all_situations())
