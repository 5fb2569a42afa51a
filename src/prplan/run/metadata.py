"""Pull-request metadata at run time: what ``observe`` reads of it, what the
recheck compares, and how the executor applies the metadata actions.

Read only when the request names metadata: a request without any costs
exactly what it cost before, and its plan is byte for byte the same.
"""

from __future__ import annotations

import attrs

from prplan.core import actions as act
from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import RepoSnapshot
from prplan.errors import ForgeError, InvalidRequestError, Problem, PrplanError
from prplan.run.outcome import ActionResult, ActionStatus
from prplan.run.port import ForgeClient, MetadataClient

__all__ = ["observe_metadata", "metadata_moved", "apply_metadata"]


def _client(client: ForgeClient) -> MetadataClient:
    if not isinstance(client, MetadataClient):
        raise ForgeError(
            f"{type(client).__name__} cannot read or set pull-request metadata "
            "(labels, assignees, reviewers, milestone, draft)"
        )
    return client


def observe_metadata(
    client: ForgeClient, request: ChangeRequest, snapshot: RepoSnapshot
) -> RepoSnapshot:
    """The snapshot with the open pull request's metadata and, when the
    request names a milestone, the repository's milestones. A milestone
    title the repository lacks is an ``InvalidRequestError`` naming the
    titles it has: raised here, before any write."""
    if not request.has_metadata or request.branch == snapshot.base:
        return snapshot
    forge = _client(client)
    found: dict[str, object] = {}
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    if open_pr is not None:
        wants_reviews = bool(request.reviewers)
        seen = forge.pull_request_metadata(request.repo, open_pr.number, reviews=wants_reviews)
        found["pr_metadata"] = _normal(seen, open_pr.number, wants_reviews)
    if request.milestone is not None:
        milestones = tuple(sorted(forge.milestones(request.repo), key=lambda m: m.number))
        problem = _milestone_problem(request, milestones)
        if problem is not None:
            raise InvalidRequestError([problem])
        found["milestones"] = milestones
    return attrs.evolve(snapshot, **found)  # type: ignore[arg-type]


def _milestone_problem(request: ChangeRequest, milestones: tuple[Milestone, ...]) -> Problem | None:
    """The request's milestone must be one of the repository's open ones: a
    closed milestone is named with the fix (GitHub would set it, but no one
    plans with a closed milestone)."""
    title = request.milestone
    titles = [m.title for m in milestones if m.state == "open"]
    if title in titles:
        return None
    closed = next((m for m in milestones if m.title == title), None)
    if closed is not None:
        return Problem(
            "milestone",
            f"the milestone {title!r} (#{closed.number}) of {request.repo} is closed: reopen it, "
            f"or name an open one ({', '.join(map(repr, titles)) or 'there is none'})",
        )
    return Problem(
        "milestone",
        f"{request.repo} has no open milestone titled {title!r}; its open milestones: "
        f"{', '.join(map(repr, titles)) or 'none'}. Give one of them, or create it first",
    )


def _normal(seen: PullMetadata, number: int, reviews: bool) -> PullMetadata:
    """Sorted, and the same whatever the forge read beyond what was asked
    (GraphQL reads the reviews anyway): transports agree on the snapshot."""
    return PullMetadata(
        number=number,
        labels=tuple(sorted(seen.labels)),
        assignees=tuple(sorted(seen.assignees)),
        requested_reviewers=tuple(sorted(seen.requested_reviewers)),
        requested_teams=tuple(sorted(seen.requested_teams)),
        reviewed_by=tuple(sorted(set(seen.reviewed_by))) if reviews else (),
        milestone=seen.milestone,
        draft=seen.draft,
        author=seen.author,
    )


def metadata_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """The recheck: the metadata and milestones the plan relies on."""
    moved = []
    if planned.pr_metadata != current.pr_metadata:
        moved.append(
            (
                "pull request metadata",
                _said(planned.pr_metadata),
                _said(current.pr_metadata),
            )
        )
    if planned.milestones != current.milestones:
        moved.append(("milestones", str(planned.milestones), str(current.milestones)))
    return moved


def _said(seen: PullMetadata | None) -> str:
    if seen is None:
        return "none"
    return (
        f"labels {list(seen.labels)}, assignees {list(seen.assignees)}, reviewers "
        f"{list(seen.requested_reviewers)}, teams {list(seen.requested_teams)}, reviewed by "
        f"{list(seen.reviewed_by)}, milestone {seen.milestone!r}, draft {seen.draft}"
    )


def apply_metadata(
    client: ForgeClient, repo: str, index: int, action: act.MetadataAction, opened: int | None
) -> ActionResult:
    """One metadata action on its pull request (``opened``: the one this
    run opened, for an action that names none)."""
    number = action.number if action.number is not None else opened
    if number is None:
        raise PrplanError("the plan sets metadata on a pull request it never opened")
    forge = _client(client)
    if isinstance(action, act.AddLabels):
        forge.add_labels(repo, number, action.labels)
    elif isinstance(action, act.AddAssignees):
        forge.add_assignees(repo, number, action.assignees)
    elif isinstance(action, act.RequestReviewers):
        forge.request_reviewers(
            repo, number, reviewers=action.reviewers, team_reviewers=action.team_reviewers
        )
    elif isinstance(action, act.SetMilestone):
        forge.set_milestone(repo, number, action.milestone)
    else:
        forge.mark_ready_for_review(repo, number)
    return ActionResult(
        index=index, kind=action.kind, status=ActionStatus.DONE, pull_request=number
    )
