"""Pull-request metadata in a plan: a step derived after the decision table.

The table decides the change's lifecycle (branch, commit, pull request,
merge); this step adds what the request asks of the pull request's metadata,
at most one action per kind, each with its reason:

* a pull request this plan opens gets everything the request names (and
  opens as a draft with ``draft=True``);
* an open pull request gets only what it lacks: a label or assignee already
  there, a reviewer already requested or who already reviewed, are not asked
  again, and nothing a human added is removed (a milestone someone else set
  is kept); ``draft=False`` marks an open draft ready, ``draft=True`` never
  converts an open pull request to a draft;
* no pull request opened or open: nothing, said in a note.

The actions go right after the pull request is opened (or, on an open one,
before any merge step), so a merge never lands before the metadata. A
refused plan carries none (the planner calls this only for a plan it acts on).
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs

from prplan.core import actions as act
from prplan.core.pr_metadata import PullMetadata, count_limits, folded
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import RepoSnapshot

__all__ = ["with_metadata"]


def with_metadata(
    snapshot: RepoSnapshot, request: ChangeRequest, actions: tuple[act.Action, ...]
) -> tuple[tuple[act.Action, ...], list[str]]:
    """The table's ``actions`` with the metadata step, and its notes."""
    if not request.has_metadata:
        return actions, []
    creates = next((a for a in actions if isinstance(a, act.CreatePullRequest)), None)
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    if creates is not None:
        at = actions.index(creates)
        opened = attrs.evolve(creates, draft=request.draft is True)
        added, notes = _for_new(snapshot, request)
        return (*actions[:at], opened, *added, *actions[at + 1 :]), notes
    if open_pr is None:
        return actions, ["the pull-request metadata is ignored: no pull request is open or opened"]
    if any(isinstance(a, act.ClosePullRequest) for a in actions):
        # close_superseded closes it: nothing to label or ready (GitHub
        # would refuse writes to a closed pull request after the close).
        return actions, [f"the pull-request metadata is ignored: #{open_pr.number} is closed"]
    seen = snapshot.pr_metadata or PullMetadata(number=open_pr.number)
    added, notes = _for_open(snapshot, request, seen)
    at = next((i for i, a in enumerate(actions) if isinstance(a, _AFTER)), len(actions))
    return (*actions[:at], *added, *actions[at:]), notes


#: On an open pull request, the metadata goes before these.
_AFTER = (*act.MERGE_ACTIONS, act.DeleteBranch)


def _missing(wanted: Sequence[str], present: Sequence[str]) -> tuple[str, ...]:
    have = {folded(name) for name in present}
    return tuple(name for name in wanted if folded(name) not in have)


def _within(
    field: str, added: tuple[str, ...], present: Sequence[str], which: str, notes: list[str]
) -> tuple[str, ...]:
    """``added`` when the pull request stays within GitHub's limit on
    ``field`` with them, else nothing, said in a note: GitHub would refuse
    the write (422) after the plan's commit (the request alone was checked
    against the limit when it was made)."""
    limit = dict(count_limits())[field]
    if len(present) + len(added) <= limit:
        return added
    notes.append(
        f"{which} has {len(present)} {field}; adding {_listed(added)} would pass GitHub's limit "
        f"of {limit} per pull request: none is added (remove some of its {field} first)"
    )
    return ()


def _team(name: str) -> str:
    return name.rpartition("/")[2]


def _listed(names: Sequence[str]) -> str:
    return ", ".join(names)


def _for_new(snapshot: RepoSnapshot, request: ChangeRequest) -> tuple[list[act.Action], list[str]]:
    which = "the new pull request"
    out: list[act.Action] = []
    if request.labels:
        out.append(
            act.AddLabels(
                number=None,
                labels=request.labels,
                reason=f"the request names label(s) {_listed(request.labels)}: add them to {which}",
            )
        )
    if request.assignees:
        out.append(
            act.AddAssignees(
                number=None,
                assignees=request.assignees,
                reason=f"the request names assignee(s) {_listed(request.assignees)}: assign {which}",
            )
        )
    notes: list[str] = []
    me = {snapshot.writer.login if snapshot.writer else None, snapshot.viewer}
    users = _not_author(request.reviewers, me - {None}, which, notes)
    if users or request.team_reviewers:
        out.append(
            act.RequestReviewers(
                number=None,
                reviewers=users,
                team_reviewers=request.team_reviewers,
                reason=f"the request names reviewer(s) "
                f"{_listed((*users, *request.team_reviewers))}: request their review of {which}",
            )
        )
    setting, more = _milestone(snapshot, request, None, None)
    return out + setting, notes + more


def _not_author(
    reviewers: tuple[str, ...], authors: set[str | None], which: str, notes: list[str]
) -> tuple[str, ...]:
    """``reviewers`` without the pull request's author (the login prplan
    acts as, for a new one): GitHub refuses to request an author's review
    (422), and would refuse it again on every re-run."""
    mine = {folded(login) for login in authors if login}
    left = tuple(name for name in reviewers if folded(name) not in mine)
    dropped = [name for name in reviewers if folded(name) in mine]
    if dropped:
        notes.append(
            f"{_listed(dropped)} is the author of {which}: their review is not requested "
            "(GitHub requests no review from a pull request's author)"
        )
    return left


def _for_open(
    snapshot: RepoSnapshot, request: ChangeRequest, seen: PullMetadata
) -> tuple[list[act.Action], list[str]]:
    number, which = seen.number, f"#{seen.number}"
    out: list[act.Action] = []
    notes: list[str] = []
    labels = _within("labels", _missing(request.labels, seen.labels), seen.labels, which, notes)
    if labels:
        out.append(
            act.AddLabels(
                number=number,
                labels=labels,
                reason=f"{which} lacks the requested label(s) {_listed(labels)}: add them "
                "(labels already on it are kept)",
            )
        )
    assignees = _missing(request.assignees, seen.assignees)
    assignees = _within("assignees", assignees, seen.assignees, which, notes)
    if assignees:
        out.append(
            act.AddAssignees(
                number=number,
                assignees=assignees,
                reason=f"{which} is not assigned to {_listed(assignees)}: add them "
                "(its assignees are kept)",
            )
        )
    out += _reviewers(request, seen, notes)
    setting, more = _milestone(snapshot, request, number, seen.milestone)
    out += setting
    notes += more
    out += _draft(request, seen, notes)
    return out, notes


def _reviewers(request: ChangeRequest, seen: PullMetadata, notes: list[str]) -> list[act.Action]:
    which = f"#{seen.number}"
    wanted = _not_author(request.reviewers, {seen.author}, which, notes)
    reviewed = _missing(wanted, seen.requested_reviewers)
    users = _missing(reviewed, seen.reviewed_by)
    already = [name for name in reviewed if name not in users]
    if already:
        notes.append(
            f"{_listed(already)} already reviewed {which}: not requested again "
            "(GitHub drops a reviewer's request once they review)"
        )
    present = {folded(_team(t)) for t in seen.requested_teams}
    teams = tuple(t for t in request.team_reviewers if folded(_team(t)) not in present)
    if not users and not teams:
        return []
    return [
        act.RequestReviewers(
            number=seen.number,
            reviewers=users,
            team_reviewers=teams,
            reason=f"a review of {which} is not requested from {_listed((*users, *teams))}: "
            "request it (requests already there are kept)",
        )
    ]


def _milestone(
    snapshot: RepoSnapshot, request: ChangeRequest, number: int | None, current: str | None
) -> tuple[list[act.Action], list[str]]:
    title = request.milestone
    if title is None or current == title:
        return [], []
    which = "the new pull request" if number is None else f"#{number}"
    if current is not None:
        return [], [
            f"{which} already has the milestone {current!r}: it is kept, {title!r} is not set "
            "(prplan never replaces what someone set)"
        ]
    found = next(
        (m for m in snapshot.milestones or () if m.title == title and m.state == "open"), None
    )
    if found is None:
        return [], [f"no open milestone is titled {title!r}: the milestone is not set"]
    return [
        act.SetMilestone(
            number=number,
            title=title,
            milestone=found.number,
            reason=f"the request names the milestone {title!r} (#{found.number}): set it on {which}",
        )
    ], []


def _draft(request: ChangeRequest, seen: PullMetadata, notes: list[str]) -> list[act.Action]:
    which = f"#{seen.number}"
    if request.draft is True and not seen.draft:
        notes.append(
            f"draft=True does not convert {which} to a draft: it is open for review, and "
            "a human may be reviewing it"
        )
    if request.draft is False and seen.draft:
        return [
            act.MarkReadyForReview(
                number=seen.number,
                reason=f"{which} is a draft and the request says draft=False: mark it ready "
                "for review",
            )
        ]
    return []
