"""``PullTextClient`` for ``GitHubClient``: a pull request's title and
body, rewritten, and closed with a comment (``update_pr``,
``close_superseded``).

Reads cost nothing inside an observation: over GraphQL the observe query's
pull requests carry ``title`` and ``body``; over REST the listing of the
pull requests just read carries them. Otherwise ``GET /pulls/{n}``. Writes
are REST under both transports, one request each (``PATCH /pulls/{n}`` for
title and body, or for ``state=closed``; ``POST /issues/{n}/comments``):
GraphQL's ``updatePullRequest`` and ``closePullRequest`` would first need
the pull request's node id, which REST does not.
"""

from __future__ import annotations

from typing import Any

from prplan.core.pull_text import PullText
from prplan.forges.github.answers import peeked_pull
from prplan.forges.github.graphql_reads import GraphQLReads, prefetched_answer
from prplan.forges.github.transport import Transport

__all__ = ["PullTextMethods"]


def _text(number: int, node: Any) -> PullText:
    return PullText(number=number, title=str(node["title"]), body=str(node.get("body") or ""))


class PullTextMethods:
    """``PullTextClient`` for ``GitHubClient`` (see this module's doc)."""

    _http: Transport
    _reads: GraphQLReads | None

    def pull_request_text(self, repo: str, number: int) -> PullText:
        node = prefetched_answer(self._reads, "pull_request_text", repo, number)
        if node is None:
            node = peeked_pull(repo, number)
        if node is None:
            with self._http.errors(f"reading pull request #{number} of {repo}"):
                _, node = self._http.raw("GET", f"/repos/{repo}/pulls/{number}")
        return _text(number, node)

    def update_pull_request(self, repo: str, number: int, *, title: str, body: str) -> None:
        self._pull_write(
            f"rewriting the title and body of #{number} of {repo}",
            "PATCH", f"/repos/{repo}/pulls/{number}", {"title": title, "body": body},
        )  # fmt: skip

    def close_pull_request(self, repo: str, number: int, *, comment: str) -> None:
        self._pull_write(
            f"commenting on #{number} of {repo}",
            "POST", f"/repos/{repo}/issues/{number}/comments", {"body": comment},
        )  # fmt: skip
        self._pull_write(
            f"closing #{number} of {repo}",
            "PATCH", f"/repos/{repo}/pulls/{number}", {"state": "closed"},
        )  # fmt: skip

    def _pull_write(self, what: str, verb: str, path: str, body: dict[str, Any]) -> None:
        self._http.space_writes()
        with self._http.errors(what):
            self._http.raw(verb, path, body)
