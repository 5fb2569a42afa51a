"""``PullTextClient`` for ``GitHubClient``: a pull request's title and
body, rewritten, and closed with a comment (``update_pr``,
``close_superseded``); and ``WriterClient``: who its writes are attributed
to, signed or not.

Reads cost nothing inside an observation: over GraphQL the observe query's
pull requests carry ``title`` and ``body``; over REST the listing of the
pull requests just read carries them. Otherwise ``GET /pulls/{n}``. Writes
are REST under both transports, one request each (``PATCH /pulls/{n}`` for
title and body, or for ``state=closed``; ``POST /issues/{n}/comments``):
GraphQL's ``updatePullRequest`` and ``closePullRequest`` would first need
the pull request's node id, which REST does not.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from github import InputGitAuthor

from prplan.core.pull_text import PullText
from prplan.core.writer import PERSON_RE, Writer
from prplan.errors import PrplanError
from prplan.forges.github.answers import peeked_pull
from prplan.forges.github.graphql_reads import GraphQLReads, prefetched_answer
from prplan.forges.github.graphql_writes import GraphQLWrites
from prplan.forges.github.transport import Transport

__all__ = ["PullTextMethods", "WriterMethods", "git_author"]


def _text(number: int, node: Any) -> PullText:
    """From GraphQL's ``PullRequest`` (``author { login }``) or REST's pull
    request (``user.login``); a deleted account is null in both."""
    who = node.get("author") if "author" in node else node.get("user")
    login = str((who or {}).get("login") or "") or None
    return PullText(
        number=number, title=str(node["title"]), body=str(node.get("body") or ""), author=login
    )


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


def git_author(author: str | None) -> dict[str, Any]:
    """PyGithub's ``author`` argument of a REST commit, for ``Name <email>``
    (none: the token's identity, and a commit GitHub may sign)."""
    found = PERSON_RE.match(author or "")
    if found is None:
        return {}
    return {"author": InputGitAuthor(found["name"], found["email"])}


_UNREAD = object()


class WriterMethods:
    """``WriterClient`` for ``GitHubClient``: who its writes are attributed
    to and whether GitHub signs its commits (see ``prplan.core.writer``).

    The login is read once per client: an App's client answers its bot
    (``SLUG[bot]``, from ``GET /app``, read once already); over GraphQL
    ``viewer_login()``, the arming check's reading: the observe query's
    ``viewer`` (no request); over REST ``GET /user`` (1 request, the first
    time: the REST transport sends no GraphQL for it).
    A login that cannot be read (a token without the right) is None: "the
    token's identity (not read)", never a failure."""

    _http: Transport
    _reads: GraphQLReads | None
    _graphql: GraphQLWrites | None

    def writer(self) -> Writer:
        app = callable(getattr(self, "app_login", None))
        rest = "REST, a GitHub App's installation token" if app else "REST with a user's token"
        if self._graphql is not None:
            signs, how = True, "GraphQL createCommitOnBranch"
        else:
            signs, how = app, rest
        return Writer(
            login=self._writer_login(app),
            signs=signs,
            how=how,
            falls_back=self._graphql is not None,
            rest_signs=app,
        )

    if TYPE_CHECKING:  # GateMethods' (the arming check's reading, shared)

        def viewer_login(self) -> str | None: ...

    def _writer_login(self, app: bool) -> str | None:
        known = self.__dict__.get("_writer_login_read", _UNREAD)
        if known is not _UNREAD:
            return None if known is None else str(known)
        try:
            if app:
                login: str | None = str(getattr(self, "app_login")())  # noqa: B009
            elif self._graphql is not None:  # the observe query's viewer (no request)
                login = self.viewer_login()
            else:  # REST stays REST: GET /user (what viewer answers)
                with self._http.errors("reading the login the token acts as"):
                    _, user = self._http.raw("GET", "/user")
                login = str(user.get("login") or "") or None
        except PrplanError:
            login = None
        self.__dict__["_writer_login_read"] = login
        return login
