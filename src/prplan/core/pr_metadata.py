"""Pull-request metadata: what a request asks for (labels, assignees,
reviewers, team reviewers, draft, milestone), what observe saw of the open
pull request, and the checks of a request's metadata fields.

Plain values and pure checks, below the request and the snapshot (both use
them). What the planner makes of them is in ``metadata``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import attrs

from prplan.core.names import CONTROL_RE, INVISIBLE_RE
from prplan.errors import Problem

__all__ = [
    "PullMetadata",
    "Milestone",
    "NAME_FIELDS",
    "names",
    "has_metadata",
    "metadata_problems",
    "folded",
    "MAX_LABELS",
    "MAX_ASSIGNEES",
    "count_limits",
]

#: The request's list fields, in the order actions and documents name them.
NAME_FIELDS = ("labels", "assignees", "reviewers", "team_reviewers")

#: GitHub's logins: letters, digits and single hyphens, at most 39
#: characters; an App's bot is ``name[bot]``.
_LOGIN = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})(?:\[bot\])?$")
#: A team's slug (lower-case on GitHub; compared without case).
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
#: GitHub's longest label name.
MAX_LABEL_CHARS = 50


@attrs.frozen(kw_only=True)
class PullMetadata:
    """The open pull request's metadata as observed (read only when the
    request names some). ``reviewed_by``: the logins whose review is on it
    (GitHub drops them from ``requested_reviewers``); read only when the
    request names reviewers. Every tuple is sorted."""

    number: int
    labels: tuple[str, ...] = ()
    assignees: tuple[str, ...] = ()
    requested_reviewers: tuple[str, ...] = ()
    requested_teams: tuple[str, ...] = ()
    reviewed_by: tuple[str, ...] = ()
    milestone: str | None = None
    draft: bool = False
    #: the login that opened it (GitHub refuses to request its review)
    author: str | None = None


@attrs.frozen(kw_only=True)
class Milestone:
    """A repository's milestone: its title, number (what GitHub sets) and
    state (``open`` or ``closed``: only an open one is set)."""

    title: str
    number: int
    state: str = "open"


def names(value: object) -> Any:
    """A list or tuple of names as a tuple (what the request stores); any
    other value is kept for ``metadata_problems`` to report."""
    if isinstance(value, list | tuple):
        return tuple(value)
    return value


def folded(value: str) -> str:
    """How GitHub compares logins, labels and team slugs: without case."""
    return value.casefold()


def has_metadata(request: Any) -> bool:
    """The request names some pull-request metadata."""
    return bool(
        any(getattr(request, name) for name in NAME_FIELDS)
        or request.draft is not None
        or request.milestone is not None
    )


def _team_ok(value: str) -> bool:
    org, _, slug = value.rpartition("/")
    return bool(_SLUG.match(slug)) and (not org or bool(_LOGIN.match(org)))


def _name_problem(field: str, value: str) -> str | None:
    if not value.strip():
        return "an empty name: give each one as text"
    if value != value.strip() or CONTROL_RE.search(value) or INVISIBLE_RE.search(value):
        return f"{value!r} has surrounding spaces or a control character: give the bare name"
    if field == "labels":
        if len(value) > MAX_LABEL_CHARS:
            return f"{value!r} is {len(value)} characters; GitHub allows at most {MAX_LABEL_CHARS}"
        return None
    if field == "team_reviewers":
        if not _team_ok(value):
            return f"{value!r} is not a team: give its slug (platform) or org/slug (acme/platform)"
        return None
    if not _LOGIN.match(value):
        return f"{value!r} is not a GitHub login (letters, digits and hyphens, e.g. octocat)"
    return None


def _list_problems(field: str, value: object) -> list[Problem]:
    if not isinstance(value, tuple):
        return [Problem(field, f"must be a list of names, got {type(value).__name__}")]
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for item in value:
        if not isinstance(item, str):
            problems.append(Problem(field, f"{item!r} is not a name: give text"))
            continue
        why = _name_problem(field, item)
        if why is not None:
            problems.append(Problem(field, why))
            continue
        key = folded(item.rpartition("/")[2] if field == "team_reviewers" else item)
        if key in seen:
            problems.append(
                Problem(
                    field,
                    f"{seen[key]!r} and {item!r} are the same for GitHub (it compares them "
                    "without case): give it once",
                )
            )
        seen.setdefault(key, item)
    return problems


def metadata_problems(request: Any) -> list[Problem]:
    """Every problem with the request's metadata fields, each naming its
    field and the fix."""
    problems: list[Problem] = []
    for field in NAME_FIELDS:
        problems += _list_problems(field, getattr(request, field))
    problems += _team_org_problems(request.team_reviewers, request.repo)
    problems += _count_problems(request)
    draft, milestone = request.draft, request.milestone
    if draft is not None and not isinstance(draft, bool):
        problems.append(Problem("draft", "must be True, False or None (leave it as it is)"))
    if draft is True and request.automerge is True:
        problems.append(
            Problem(
                "draft",
                "draft=True with automerge=True: a draft cannot be merged. Drop automerge "
                "(merge once it is ready) or draft",
            )
        )
    if milestone is not None:
        if not isinstance(milestone, str) or not milestone.strip():
            problems.append(Problem("milestone", "must be a milestone's title (text) or None"))
        elif CONTROL_RE.search(milestone):
            problems.append(Problem("milestone", f"{milestone!r} contains a control character"))
    if request.create_pr is False and has_metadata(request) and not problems:
        problems.append(
            Problem(
                _first_named(request),
                "is pull-request metadata, but create_pr is off: there is no pull request "
                "to set it on. Turn create_pr on or drop it",
            )
        )
    return problems


def _team_org_problems(teams: object, repo: object) -> list[Problem]:
    """``org/slug`` must name the repository's owner: GitHub requests a
    review only from the owner organisation's teams, by slug, so another
    organisation's ``platform`` would silently be the owner's ``platform``."""
    if not isinstance(teams, tuple) or not isinstance(repo, str) or "/" not in repo:
        return []
    owner = repo.partition("/")[0]
    return [
        Problem(
            "team_reviewers",
            f"{team!r} names the organisation {team.rpartition('/')[0]!r}, but {repo} belongs "
            f"to {owner!r}: only {owner}'s teams can review it. Give the slug of one of "
            f"{owner}'s teams ({team.rpartition('/')[2]} or {owner}/{team.rpartition('/')[2]})",
        )
        for team in teams
        if isinstance(team, str)
        and "/" in team
        and _team_ok(team)
        and folded(team.rpartition("/")[0]) != folded(owner)
    ]


#: GitHub's limits per issue or pull request (docs/github.md, "Metadata
#: limits"): past them it answers 422 after prplan's commit and pull request
#: are made, so a request over them is refused before any write.
MAX_LABELS = 100
MAX_ASSIGNEES = 10


def count_limits() -> tuple[tuple[str, int], ...]:
    """(field, GitHub's limit per pull request) for the limited lists."""
    return (("labels", MAX_LABELS), ("assignees", MAX_ASSIGNEES))


def _count_problems(request: Any) -> list[Problem]:
    problems: list[Problem] = []
    for field, limit in count_limits():
        value = getattr(request, field)
        if isinstance(value, tuple) and len(value) > limit:
            problems.append(
                Problem(
                    field,
                    f"names {len(value)}; GitHub allows at most {limit} per pull request: "
                    f"name at most {limit}",
                )
            )
    return problems


def _first_named(request: Any) -> str:
    named: Iterable[str] = (
        *(name for name in NAME_FIELDS if getattr(request, name)),
        *(name for name in ("draft", "milestone") if getattr(request, name) is not None),
    )
    return next(iter(named), "labels")
