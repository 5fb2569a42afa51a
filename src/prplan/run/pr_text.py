"""A pull request's text at run time: what ``observe`` reads of it (only
for ``update_pr`` or ``close_superseded``), what the recheck compares, the
body the executor writes (the request's body, prplan's marker, a human's
text kept) and the rewrite and closing actions.
"""

from __future__ import annotations

import attrs

from prplan.core import actions as act
from prplan.core.plan import Plan
from prplan.core.pr_text import compose, request_id_of, split_body
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import RepoSnapshot
from prplan.errors import ForgeError
from prplan.run.outcome import ActionResult, ActionStatus
from prplan.run.port import ForgeClient, PullTextClient, WriterClient

__all__ = ["observe_pr_text", "pr_text_moved", "body_to_write", "apply_pr_text"]


def _client(client: ForgeClient) -> PullTextClient:
    if not isinstance(client, PullTextClient):
        raise ForgeError(
            f"{type(client).__name__} cannot read, rewrite or close a pull request "
            "(update_pr, close_superseded)"
        )
    return client


def observe_pr_text(
    client: ForgeClient, request: ChangeRequest, snapshot: RepoSnapshot
) -> RepoSnapshot:
    """The snapshot with the open pull request's title and body, read only
    when the request says ``update_pr`` or ``close_superseded``: a request
    without them costs what it cost before, and its plan keeps its bytes."""
    if not (request.update_pr or request.close_superseded) or request.branch == snapshot.base:
        return snapshot
    open_pr = next((pr for pr in snapshot.pull_requests if pr.is_open), None)
    if open_pr is None:
        return snapshot
    seen = _client(client).pull_request_text(request.repo, open_pr.number)
    snapshot = attrs.evolve(snapshot, pr_text=seen)
    if snapshot.viewer is None and not isinstance(client, WriterClient):
        # Whose pull request it is compares its author with the login prplan
        # acts as: a client that states no writer (the in-process forge)
        # names it here, at no cost; a WriterClient states it as its writer.
        snapshot = attrs.evolve(snapshot, viewer=client.viewer_login())
    return snapshot


def pr_text_moved(planned: RepoSnapshot, current: RepoSnapshot) -> list[tuple[str, str, str]]:
    """The recheck: the open pull request's title and body the plan relies
    on (a human may have edited them, or written below prplan's line)."""
    was, now = planned.pr_text, current.pr_text
    if was == now:
        return []
    said = [
        ("pull request title", repr(was.title if was else None), repr(now.title if now else None)),
        (
            "pull request body",
            f"{len(was.body)} characters" if was else "not read",
            f"{len(now.body)} characters" if now else "not read",
        ),
    ]
    return [fact for fact in said if fact[1] != fact[2]] or [said[1]]


def body_to_write(plan: Plan, body: str) -> str:
    """The body prplan writes for ``body`` (a plan's CreatePullRequest or
    UpdatePullRequest): with its marker, cut to GitHub's limit, and, on an
    open pull request, the human's text below prplan's line as observed."""
    seen = plan.observed.pr_text
    human = split_body(seen.body)[2] if seen is not None else ""
    return compose(body, request_id_of(plan.request, plan.resolved), human)[0]


def apply_pr_text(
    client: ForgeClient,
    plan: Plan,
    index: int,
    action: act.ClosePullRequest | act.UpdatePullRequest,
) -> ActionResult:
    """Rewrite or close prplan's own pull request (the plan names it)."""
    forge, repo = _client(client), plan.request.repo
    if isinstance(action, act.UpdatePullRequest):
        forge.update_pull_request(
            repo, action.number, title=action.title, body=body_to_write(plan, action.body)
        )
    else:
        forge.close_pull_request(repo, action.number, comment=action.comment)
    return ActionResult(
        index=index, kind=action.kind, status=ActionStatus.DONE, pull_request=action.number
    )
