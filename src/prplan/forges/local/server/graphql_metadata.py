"""GraphQL for pull-request metadata: a pull request's ``labels``,
``assignees``, ``reviewRequests``, ``latestReviews`` and ``milestone``, a
repository's ``milestones``, and ``markPullRequestReadyForReview``; as
GitHub's schema has them (``graphql_schema.graphql`` holds the subset).
``markPullRequestReadyForReview`` is in ``graphql_mutations``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prplan.forges.local.server.payloads import node_id

__all__ = ["pull_request_metadata", "repository_metadata"]

Obj = dict[str, Any]
#: ``graphql_objects.Context`` (not imported: that module imports this one)
Context = Any


def _page(nodes: Sequence[Obj], page: dict[str, Any]) -> Obj:
    chosen = list(nodes)
    if page.get("first") is not None:
        chosen = chosen[: max(int(page["first"]), 0)]
    if page.get("last") is not None:
        chosen = chosen[len(chosen) - max(int(page["last"]), 0) :]
    return {"totalCount": len(nodes), "nodes": chosen}


def _user(login: str) -> Obj:
    return {"__typename": "User", "login": login, "id": node_id("User", login)}


def _milestone(repo: str, row: dict[str, Any]) -> Obj:
    return {
        "__typename": "Milestone",
        "id": node_id("Milestone", repo, row["number"]),
        "number": row["number"],
        "state": str(row["state"]).upper(),
        "title": row["title"],
    }


def _latest_reviews(ctx: Context, repo: str, number: int) -> list[Obj]:
    latest: dict[str, Obj] = {}
    for review in ctx.forge.reviews(repo, number):  # oldest first: the last one wins
        latest[review["login"]] = {
            "__typename": "PullRequestReview",
            "id": node_id("PullRequestReview", repo, review["id"]),
            "author": _user(review["login"]),
        }
    return list(latest.values())


def _requests(repo: str, users: list[str], teams: list[str]) -> list[Obj]:
    org = repo.split("/")[0]
    out = [{"requestedReviewer": _user(login)} for login in users]
    out += [
        {
            "requestedReviewer": {
                "__typename": "Team",
                "slug": slug,
                "id": node_id("Team", org, slug),
            }
        }
        for slug in teams
    ]
    return [{"__typename": "ReviewRequest", "id": node_id("ReviewRequest", repo, i), **r}
            for i, r in enumerate(out)]  # fmt: skip


def pull_request_metadata(ctx: Context, repo: str, row: dict[str, Any]) -> Obj:
    """The metadata fields of one pull request (each read when asked)."""
    number, forge = row["number"], ctx.forge

    def labels(info: Any, **page: Any) -> Obj:
        found = [
            {
                "__typename": "Label",
                "id": node_id("Label", repo, label["id"]),
                "name": label["name"],
            }
            for label in forge.pull_labels(repo, number)
        ]
        return _page(found, page)

    def milestone(info: Any) -> Obj | None:
        found = forge.pull_milestone(repo, number)
        return None if found is None else _milestone(repo, found)

    return {
        "labels": labels,
        "assignees": lambda info, **page: _page(
            [_user(login) for login in forge.pull_assignees(repo, number)], page
        ),
        "reviewRequests": lambda info, **page: _page(
            _requests(repo, *forge.review_requests(repo, number)), page
        ),
        "latestReviews": lambda info, **page: _page(_latest_reviews(ctx, repo, number), page),
        "milestone": milestone,
    }


def repository_metadata(ctx: Context, repo: str) -> Obj:
    """A repository's ``milestones`` (``states``: OPEN and/or CLOSED)."""

    def milestones(info: Any, states: Sequence[str] | None = None, **page: Any) -> Obj:
        wanted = {s.lower() for s in states} if states else {"open", "closed"}
        rows = [m for m in ctx.forge.milestone_rows(repo, "all") if m["state"] in wanted]
        page = {k: v for k, v in page.items() if k in ("first", "last")}
        return _page([_milestone(repo, m) for m in rows], page)

    return {"milestones": milestones}
