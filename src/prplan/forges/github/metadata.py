"""Pull-request metadata on GitHub: ``GitHubClient``'s ``MetadataClient``
methods (``run/port.py``), kept out of ``client.py``.

Reads: over GraphQL the observe query carries the open pull request's
labels, assignees, review requests, latest reviews, milestone and draft
state (``graphql_documents.METADATA_FIELDS``), and the repository's
milestones when the request names one: no request of their own. Over REST
the pulls listing observe already made holds all but the reviews (kept per
thread by ``answers``; else ``GET pulls/{n}``, 1 request), plus ``GET
pulls/{n}/reviews`` (1 per 100) only when the request names reviewers, and
``GET milestones`` (1 per 100) only when it names a milestone.

Writes, one request each, under both transports (GitHub has them as REST):
``POST issues/{n}/labels``, ``POST issues/{n}/assignees``, ``POST
pulls/{n}/requested_reviewers`` (users and teams together), ``PATCH
issues/{n}`` (milestone); marking a draft ready is GraphQL only
(``markPullRequestReadyForReview``; its node id is known for a pull request
this client opened over GraphQL, else read first: 1 more request).

Right after a pull request is opened GitHub can answer a write on it with
422 "Could not resolve to a node" (its replicas have not seen it yet): the
write is sent again after 0.5, 1 and 2 s (``RESOLVE_TRIES`` in all, at most
3.5 s of waiting); nothing was done by the refused tries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import urlencode

import attrs

from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.errors import ForgeError, NotFoundError
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.answers import listed_pull
from prplan.forges.github.graphql_reads import GraphQLReads, prefetched_answer
from prplan.forges.github.graphql_writes import GraphQLWrites
from prplan.forges.github.transport import Transport

__all__ = ["MetadataMethods", "RESOLVE_TRIES", "RESOLVE_PAUSE", "metadata_from_graphql"]

T = TypeVar("T")

#: Tries of a write answered "Could not resolve to a node", and the first pause.
RESOLVE_TRIES = 4
RESOLVE_PAUSE = 0.5
_UNRESOLVED = "could not resolve to a node"
_PAGE = 100


def _logins(items: Sequence[Mapping[str, Any]] | None, key: str = "login") -> tuple[str, ...]:
    return tuple(str(item[key]) for item in items or () if item and item.get(key))


def metadata_from_rest(number: int, pull: Mapping[str, Any]) -> PullMetadata:
    """A pull request's REST JSON (list item or full) as prplan's metadata."""
    milestone = pull.get("milestone") or {}
    return PullMetadata(
        number=number,
        labels=_logins(pull.get("labels"), "name"),
        assignees=_logins(pull.get("assignees")),
        requested_reviewers=_logins(pull.get("requested_reviewers")),
        requested_teams=_logins(pull.get("requested_teams"), "slug"),
        milestone=milestone.get("title"),
        draft=pull.get("draft") is True,
        author=(pull.get("user") or {}).get("login"),
    )


def _nodes(connection: Mapping[str, Any] | None) -> list[Any]:
    """A connection's nodes; KeyError when it had more than were read."""
    if connection is None or connection["totalCount"] > len(connection["nodes"]):
        raise KeyError("more than one page")
    return list(connection["nodes"])


def metadata_from_graphql(number: int, node: Mapping[str, Any]) -> PullMetadata:
    """``METADATA_FIELDS`` of a pull request as prplan's metadata."""
    requested = [n.get("requestedReviewer") or {} for n in _nodes(node["reviewRequests"])]
    return PullMetadata(
        number=number,
        labels=_logins(_nodes(node["labels"]), "name"),
        assignees=_logins(_nodes(node["assignees"])),
        requested_reviewers=_logins([r for r in requested if r.get("__typename") == "User"]),
        requested_teams=_logins([r for r in requested if r.get("__typename") == "Team"], "slug"),
        reviewed_by=_logins([n.get("author") for n in _nodes(node["latestReviews"])]),
        milestone=(node.get("milestone") or {}).get("title"),
        draft=node.get("isDraft") is True,
        author=(node.get("author") or {}).get("login"),
    )


class MetadataMethods:
    """``MetadataClient`` for ``GitHubClient`` (see this module's doc)."""

    _http: Transport
    _reads: GraphQLReads | None
    _graphql: GraphQLWrites | None

    # --- reads ---------------------------------------------------------------------

    def pull_request_metadata(self, repo: str, number: int, *, reviews: bool) -> PullMetadata:
        node = prefetched_answer(self._reads, "pull_metadata", repo, number)
        if node is not None:
            return metadata_from_graphql(number, node)
        pull = listed_pull(repo, number)
        if pull is None:
            with self._http.errors(f"reading pull request #{number} of {repo}"):
                _, pull = self._http.raw("GET", f"/repos/{repo}/pulls/{number}")
        found = metadata_from_rest(number, pull)
        if not reviews:
            return found
        listed = self._pages(f"/repos/{repo}/pulls/{number}/reviews", {}, f"reviews of #{number}")
        reviewed = _logins([r.get("user") for r in listed])
        return attrs.evolve(found, reviewed_by=reviewed)

    def milestones(self, repo: str) -> list[Milestone]:
        nodes = prefetched_answer(self._reads, "milestones", repo)
        if nodes is None:
            nodes = self._pages(f"/repos/{repo}/milestones", {"state": "all"}, "milestones")
        return [
            Milestone(title=str(n["title"]), number=int(n["number"]), state=str(n["state"]).lower())
            for n in nodes
        ]

    def _pages(self, path: str, query: dict[str, str], what: str) -> list[Any]:
        out: list[Any] = []
        page = 1
        with self._http.errors(f"reading the {what} of {path.split('/')[2]}/{path.split('/')[3]}"):
            while True:
                args = urlencode({**query, "per_page": _PAGE, "page": page})
                _, items = self._http.raw("GET", f"{path}?{args}")
                out += items
                if len(items) < _PAGE:
                    return out
                page += 1

    # --- writes --------------------------------------------------------------------

    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self._rest_write(
            f"adding labels to #{number} of {repo}",
            "POST", f"/repos/{repo}/issues/{number}/labels", {"labels": list(labels)},
        )  # fmt: skip

    def add_assignees(self, repo: str, number: int, assignees: Sequence[str]) -> None:
        self._rest_write(
            f"assigning #{number} of {repo}",
            "POST", f"/repos/{repo}/issues/{number}/assignees", {"assignees": list(assignees)},
        )  # fmt: skip

    def request_reviewers(
        self, repo: str, number: int, *, reviewers: Sequence[str], team_reviewers: Sequence[str]
    ) -> None:
        body = {
            "reviewers": list(reviewers),
            "team_reviewers": [team.rpartition("/")[2] for team in team_reviewers],
        }
        path = f"/repos/{repo}/pulls/{number}/requested_reviewers"
        self._rest_write(f"requesting reviews of #{number} of {repo}", "POST", path, body)

    def set_milestone(self, repo: str, number: int, milestone: int) -> None:
        self._rest_write(
            f"setting the milestone of #{number} of {repo}",
            "PATCH", f"/repos/{repo}/issues/{number}", {"milestone": milestone},
        )  # fmt: skip

    def mark_ready_for_review(self, repo: str, number: int) -> None:
        what = f"marking #{number} of {repo} ready for review"
        node = self._pull_node_id(repo, number)

        def send() -> None:
            with self._http.errors(what):
                _, problems = self._http.graphql(
                    documents.MARK_READY_FOR_REVIEW, {"pullRequestId": node}, mutation=True
                )
            if problems:
                message = str(problems[0].get("message") or "")
                raise ForgeError(f"{what}: {problems[0].get('type') or 'error'}: {message}")

        self._resolving(send)

    def _rest_write(self, what: str, verb: str, path: str, body: dict[str, Any]) -> None:
        def send() -> None:
            self._http.space_writes()
            with self._http.errors(what):
                self._http.raw(verb, path, body)

        self._resolving(send)

    def _resolving(self, send: Callable[[], T]) -> T:
        """``send()``, again after a pause while GitHub answers "Could not
        resolve to a node" (bounded: see this module's doc)."""
        for attempt in range(RESOLVE_TRIES):
            try:
                return send()
            except ForgeError as error:
                if _UNRESOLVED not in str(error).lower() or attempt == RESOLVE_TRIES - 1:
                    raise
                self._http.sleep(RESOLVE_PAUSE * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def _pull_node_id(self, repo: str, number: int) -> str:
        known = {} if self._graphql is None else self._graphql.known_pulls
        if (repo, number) in known:
            return known[(repo, number)][0]
        owner, name = repo.split("/", 1)
        what = f"reading pull request #{number} of {repo}"
        with self._http.errors(what):
            data, _ = self._http.graphql(
                documents.PULL_REQUEST_ID,
                {"owner": owner, "name": name, "number": number},
                mutation=False,
            )
        found = (data.get("repository") or {}).get("pullRequest")
        if not isinstance(found, dict):
            raise NotFoundError(f"{what}: no such pull request")
        return str(found["id"])
