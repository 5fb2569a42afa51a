"""Routes for pull-request metadata: labels, assignees, review requests and
milestones, with GitHub's shapes (the OpenAPI contract holds them).

``POST /issues/{n}/labels`` (200, the issue's labels; a new name creates
the label), ``POST /issues/{n}/assignees`` (201, the issue), ``POST
/pulls/{n}/requested_reviewers`` (201, the pull request), ``PATCH
/issues/{n}`` (``milestone`` only; 200, the issue), ``GET``/``POST
/milestones``. A pull request's JSON carries its labels, assignees,
requested reviewers and teams and milestone (``metadata_fields``). Issues
are pull requests here: the forge has no other issues.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local.server.payloads import JSON, Urls, iso, node_id, numeric_id
from prplan.forges.local.server.routes import Answer, Fail, Routes, invalid

__all__ = ["MetadataRoutes", "metadata_fields", "METADATA_RULES"]

#: (path under /repos/{owner}/{repo}, endpoint, method): registered by ``app``.
METADATA_RULES = (
    ("/issues/<int:number>", "issue", "GET"),
    ("/issues/<int:number>", "edit_issue", "PATCH"),
    ("/issues/<int:number>/labels", "add_labels", "POST"),
    ("/issues/<int:number>/assignees", "add_assignees", "POST"),
    ("/pulls/<int:number>/requested_reviewers", "request_reviewers", "POST"),
    ("/milestones", "milestones", "GET"),
    ("/milestones", "create_milestone", "POST"),
)


def _label(urls: Urls, repo: str, row: dict[str, Any]) -> JSON:
    return {
        "id": int(row["id"]),
        "node_id": node_id("Label", repo, row["id"]),
        "url": f"{urls.api}/repos/{repo}/labels/{row['name']}",
        "name": row["name"],
        "description": row.get("description") or "",
        "color": row["color"],
        "default": False,
    }


def _team(urls: Urls, org: str, slug: str) -> JSON:
    api = f"{urls.api}/orgs/{org}/teams/{slug}"
    return {
        "id": numeric_id("team", org, slug),
        "node_id": node_id("Team", org, slug),
        "url": api,
        "members_url": f"{api}/members{{/member}}",
        "name": slug,
        "slug": slug,
        "description": None,
        "permission": "pull",
        "html_url": f"{urls.web}orgs/{org}/teams/{slug}",
        "repositories_url": f"{api}/repos",
        "parent": None,
        "type": "organization",
    }


def milestone_json(forge: Any, urls: Urls, repo: str, row: dict[str, Any]) -> JSON:
    number = row["number"]
    opened, closed = forge.milestone_counts(repo, number)
    return {
        "url": f"{urls.api}/repos/{repo}/milestones/{number}",
        "html_url": f"{urls.web}{repo}/milestone/{number}",
        "labels_url": f"{urls.api}/repos/{repo}/milestones/{number}/labels",
        "id": numeric_id("milestone", repo, number),
        "node_id": node_id("Milestone", repo, number),
        "number": number,
        "state": row["state"],
        "title": row["title"],
        "description": row.get("description"),
        "creator": urls.user(row["creator"]),
        "open_issues": opened,
        "closed_issues": closed,
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["created_at"]),
        "closed_at": None,
        "due_on": None,
    }


def metadata_fields(forge: Any, urls: Urls, repo: str, row: dict[str, Any]) -> JSON:
    """What a pull request's JSON says of its metadata."""
    number, org = row["number"], repo.split("/")[0]
    users, teams = forge.review_requests(repo, number)
    assignees = [urls.user(login) for login in forge.pull_assignees(repo, number)]
    milestone = forge.pull_milestone(repo, number)
    return {
        "labels": [_label(urls, repo, label) for label in forge.pull_labels(repo, number)],
        "assignee": assignees[0] if assignees else None,
        "assignees": assignees,
        "requested_reviewers": [urls.user(login) for login in users],
        "requested_teams": [_team(urls, org, slug) for slug in teams],
        "milestone": None if milestone is None else milestone_json(forge, urls, repo, milestone),
    }


def _names(body: dict[str, Any], key: str, resource: str, *, optional: bool = False) -> list[str]:
    value = body.get(key, [] if optional else None)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise invalid(f"{key} must be a list of names", resource, key)
    return value


class MetadataRoutes(Routes):
    """Labels, assignees, review requests, milestones."""

    def _issue(self, urls: Urls, repo: str, number: int) -> JSON:
        row = self.forge.pull_row(repo, number)
        api = f"{urls.api}/repos/{repo}/issues/{number}"
        return {
            "id": numeric_id("issue", repo, number),
            "node_id": node_id("PullRequest", repo, number),
            "url": api,
            "repository_url": f"{urls.api}/repos/{repo}",
            "labels_url": f"{api}/labels{{/name}}",
            "comments_url": f"{api}/comments",
            "events_url": f"{api}/events",
            "html_url": f"{urls.web}{repo}/pull/{number}",
            "number": number,
            "state": row["state"],
            "title": row["title"],
            "body": row["body"] or None,
            "user": urls.user(row.get("author") or self._login),
            "locked": False,
            "comments": 0,
            "created_at": iso(row["created_at"]),
            "updated_at": iso(row["updated_at"]),
            "closed_at": iso(row["closed_at"]),
            "author_association": "OWNER",
            "pull_request": {
                "url": f"{urls.api}/repos/{repo}/pulls/{number}",
                "html_url": f"{urls.web}{repo}/pull/{number}",
                "diff_url": f"{urls.web}{repo}/pull/{number}.diff",
                "patch_url": f"{urls.web}{repo}/pull/{number}.patch",
                "merged_at": iso(row["merged_at"]),
            },
            **{k: v for k, v in metadata_fields(self.forge, urls, repo, row).items()
               if k not in ("requested_reviewers", "requested_teams")},
        }  # fmt: skip

    def _h_issue(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        return 200, self._issue(urls, repo, number), None

    def _h_edit_issue(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        milestone = body.get("milestone")
        if set(body) - {"milestone"}:
            raise invalid("only milestone can be edited here", "Issue", sorted(body)[0])
        if milestone is not None and (type(milestone) is not int):
            raise invalid("milestone must be a milestone's number or null", "Issue", "milestone")
        if milestone is not None:
            try:
                self.forge.set_milestone(repo, number, milestone)
            except errors.ForgeError:
                raise invalid(f"no milestone #{milestone}", "Issue", "milestone") from None
        return 200, self._issue(urls, repo, number), None

    def _h_add_labels(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        self.forge.add_labels(repo, number, _names(body, "labels", "Label"))
        return 200, [_label(urls, repo, row) for row in self.forge.pull_labels(repo, number)], None

    def _h_add_assignees(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        self.forge.add_assignees(repo, number, _names(body, "assignees", "Issue"))
        return 201, self._issue(urls, repo, number), None

    def _h_request_reviewers(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, default = self._target(owner, name)
        body = self._body(request)
        users = _names(body, "reviewers", "PullRequest", optional=True)
        teams = _names(body, "team_reviewers", "PullRequest", optional=True)
        try:
            self.forge.request_reviewers(repo, number, reviewers=users, team_reviewers=teams)
        except errors.NotFoundError:
            raise
        except errors.ForgeError as error:
            raise Fail(422, str(error).split(": ", 1)[-1]) from None
        row = self.forge.pull_row(repo, number)
        return 201, self._pull_json(repo, default, urls, row, full=False), None  # type: ignore[attr-defined]

    def _h_milestones(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        state = request.args.get("state", "open")
        rows = self.forge.milestone_rows(repo, state if state in ("open", "closed") else "all")
        per_page = min(max(request.args.get("per_page", 30, type=int), 1), 100)
        page = max(request.args.get("page", 1, type=int), 1)
        chunk = rows[(page - 1) * per_page : page * per_page]
        return 200, [milestone_json(self.forge, urls, repo, row) for row in chunk], None

    def _h_create_milestone(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        title = self._text(body, "title", "Milestone")
        description = self._optional_text(body, "description", "Milestone") or ""
        try:
            number = self.forge.create_milestone(
                repo, title, description=description, creator=self._who(request)
            )
        except errors.ForgeError:
            raise Fail(422, "Validation Failed", [{"resource": "Milestone", "code": "already_exists",
                                                     "field": "title"}]) from None  # fmt: skip
        row = next(m for m in self.forge.milestone_rows(repo, "all") if m["number"] == number)
        return 201, milestone_json(self.forge, urls, repo, row), None
