"""GitHub's REST answers read into prplan's values: a pull request, a
commit's person, a merge GitHub refuses (and the one it refuses only for
now, "Base branch was modified", tried again the same way by both
transports). Separate from the client so that what a payload means is read
in one place."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, NoReturn

from github.PullRequest import PullRequest

from prplan.core.snapshot import PullRequestInfo
from prplan.errors import MergeBlocked
from prplan.forges.github.arming import rest_arming


def person(answer: object) -> str | None:
    """A commit's author or committer in GitHub's answer, as git writes it."""
    if not isinstance(answer, dict) or not answer.get("name"):
        return None
    email = answer.get("email")
    return f"{answer['name']} <{email}>" if email else str(answer["name"])


def raise_blocked(number: int, message: str) -> NoReturn:
    raise MergeBlocked(number, message)


#: How often a merge GitHub refuses with "Base branch was modified" (a
#: transient refusal while base moves) is tried in all, 1 then 2 s apart.
MERGE_TRIES = 3


def base_was_modified(message: str) -> bool:
    """GitHub's transient merge refusal: "Base branch was modified. Review
    and try the merge again." (REST's 405, GraphQL's ``UNPROCESSABLE``)."""
    return "base branch was modified" in message.lower()


def merge_tries(sleep: Callable[[float], None]) -> Iterator[bool]:
    """One item per merge try (``MERGE_TRIES``), True for the last one; the
    pause before a try again is slept between. Both transports' merges loop
    over it, going on to the next try only on ``base_was_modified``."""
    for attempt in range(MERGE_TRIES):
        if attempt:
            sleep(1.0 * attempt)
        yield attempt == MERGE_TRIES - 1


#: The JSON of the open pull requests this thread listed last ((repo,
#: number) -> JSON): their labels, assignees, reviewers, milestone and
#: draft, which pull-request metadata reads without a request of its own.
_LISTED = threading.local()
_LISTED_MAX = 300


def listed_pull(repo: str, number: int) -> dict[str, Any] | None:
    """The JSON of open pull request ``number`` from this thread's last
    listing of it, taken (a second call reads the forge again), or None."""
    found: dict[str, Any] | None = _LISTED.__dict__.get("pulls", {}).pop((repo, number), None)
    return found


def peeked_pull(repo: str, number: int) -> dict[str, Any] | None:
    """As ``listed_pull``, but left for the next reader (a pull request's
    title and body are read from the same JSON as its metadata)."""
    found: dict[str, Any] | None = _LISTED.__dict__.get("pulls", {}).get((repo, number))
    return found


def _remember(pr: PullRequest) -> None:
    raw = getattr(pr, "_rawData", None)  # the answer as read: no request (raw_data may complete)
    if not isinstance(raw, dict) or raw.get("state") != "open" or "labels" not in raw:
        return
    full_name = ((raw.get("base") or {}).get("repo") or {}).get("full_name")
    pulls: dict[tuple[str, int], dict[str, Any]] = _LISTED.__dict__.setdefault("pulls", {})
    if len(pulls) >= _LISTED_MAX:
        pulls.clear()
    pulls[(str(full_name), int(pr.number))] = raw


def pull_request_info(pr: PullRequest) -> PullRequestInfo:
    """From a list item or a created pull request: no extra request (list
    items lack ``merged``, so ``merged_at`` tells merged from closed)."""
    _remember(pr)
    merged = pr.merged_at is not None
    info = PullRequestInfo(
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
    # The answer's own ``auto_merge`` (read as received: PyGithub's property
    # would fetch the pull request again where a server left it out).
    return rest_arming(info, pr._rawData)
