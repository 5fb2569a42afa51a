"""GitHub's REST answers read into prplan's values: a pull request, a
commit's person, a merge GitHub refuses. Separate from the client so that
what a payload means is read in one place."""

from __future__ import annotations

from typing import NoReturn

from github.PullRequest import PullRequest

from prplan.core.snapshot import PullRequestInfo
from prplan.errors import MergeBlocked


def person(answer: object) -> str | None:
    """A commit's author or committer in GitHub's answer, as git writes it."""
    if not isinstance(answer, dict) or not answer.get("name"):
        return None
    email = answer.get("email")
    return f"{answer['name']} <{email}>" if email else str(answer["name"])


def raise_blocked(number: int, message: str) -> NoReturn:
    raise MergeBlocked(number, message)


def pull_request_info(pr: PullRequest) -> PullRequestInfo:
    """From a list item or a created pull request: no extra request (list
    items lack ``merged``, so ``merged_at`` tells merged from closed)."""
    merged = pr.merged_at is not None
    return PullRequestInfo(
        number=pr.number,
        state=pr.state,
        merged=merged,
        head_branch=pr.head.ref,
        base_branch=pr.base.ref,
        head_sha=pr.head.sha,
        title=pr.title,
        url=pr.html_url,
        merge_sha=pr.merge_commit_sha if merged else None,
    )
