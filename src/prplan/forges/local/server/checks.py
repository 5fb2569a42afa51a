"""Routes for merge gates: commit statuses, check runs and reviews.

``POST /statuses/{sha}``, ``GET /commits/{ref}/status`` (the combined
status), ``POST /check-runs``, ``GET /commits/{ref}/check-runs`` and
``GET``/``POST /pulls/{n}/reviews``, with GitHub's shapes (the OpenAPI
contract holds them); ``gate_fields`` is what a pull request's JSON says
about its gate (``draft``, ``mergeable_state``, ``auto_merge``).
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local.gate_side import CHECK_CONCLUSIONS, STATUS_STATES
from prplan.forges.local.server.payloads import JSON, Urls, iso, node_id, numeric_id
from prplan.forges.local.server.routes import Answer, Fail, Routes, invalid

__all__ = ["CheckRoutes", "gate_fields"]


def gate_fields(forge: Any, urls: Urls, repo: str, row: JSON, *, full: bool) -> JSON:
    """``draft`` and ``auto_merge`` of a pull request, and for the full one
    (not a list item) ``mergeable`` and ``mergeable_state``."""
    out: JSON = {"draft": bool(row.get("draft"))}
    auto = forge.auto_merge_request(repo, row["number"])
    out["auto_merge"] = (
        None
        if auto is None
        else {
            "enabled_by": urls.user(auto["enabled_by"]),
            "merge_method": auto["method"],
            # GitHub's schema: strings (the forge merges with its default message)
            "commit_title": "",
            "commit_message": "",
        }
    )
    if full and row["state"] == "open":
        state = forge.gate_view(repo, row["number"]).merge_state_status.lower()
        out["mergeable_state"] = state
        out["mergeable"] = state != "dirty"
    return out


class CheckRoutes(Routes):
    """Statuses, check runs, reviews."""

    def _status_json(self, urls: Urls, repo: str, status: JSON) -> JSON:
        return {
            "url": f"{urls.api}/repos/{repo}/statuses/{status['sha']}",
            "avatar_url": None,
            "id": int(status["id"]),
            "node_id": node_id("StatusContext", repo, status["id"]),
            "state": status["state"],
            "description": status["description"],
            "target_url": status["target_url"],
            "context": status["context"],
            "created_at": iso(status["created_at"]),
            "updated_at": iso(status["created_at"]),
            "creator": urls.user(status["creator"]),
        }

    def _h_create_status(
        self, request: Request, urls: Urls, owner: str, name: str, sha: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        state = self._text(body, "state", "Status")
        if state not in STATUS_STATES:
            raise invalid(f"state must be one of {', '.join(STATUS_STATES)}", "Status", "state")
        context = self._text(body, "context", "Status", default="default")
        sha = self._commit_obj(repo, sha).id.decode()
        number = self.forge.set_status(
            repo,
            sha,
            context,
            state,
            description=self._optional_text(body, "description", "Status"),
            target_url=self._optional_text(body, "target_url", "Status"),
            creator=self._who(request),
        )
        found = next(s for s in self.forge.statuses(repo, sha) if s["id"] == number)
        return 201, self._status_json(urls, repo, found), None

    def _h_combined_status(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, default = self._target(owner, name)
        sha = self._commit_obj(repo, ref).id.decode()
        latest: dict[str, JSON] = {}
        for status in self.forge.statuses(repo, sha):  # newest first
            latest.setdefault(status["context"], status)
        states = {s["state"] for s in latest.values()}
        combined = (
            "failure"
            if states & {"failure", "error"}
            else "pending"
            if "pending" in states or not states
            else "success"
        )
        statuses = []
        for status in sorted(latest.values(), key=lambda s: s["context"]):
            item = self._status_json(urls, repo, status)
            del item["creator"]
            statuses.append(item)
        repository = urls.repository(repo, default)
        return (
            200,
            {
                "state": combined,
                "statuses": statuses,
                "sha": sha,
                "total_count": len(statuses),
                "repository": repository,
                "commit_url": f"{urls.api}/repos/{repo}/commits/{sha}",
                "url": f"{urls.api}/repos/{repo}/commits/{sha}/status",
            },
            None,
        )

    def _check_run_json(self, urls: Urls, repo: str, run: JSON) -> JSON:
        api = f"{urls.api}/repos/{repo}/check-runs/{run['id']}"
        return {
            "id": int(run["id"]),
            "head_sha": run["sha"],
            "node_id": node_id("CheckRun", repo, run["id"]),
            "external_id": None,
            "url": api,
            "html_url": f"{urls.web}{repo}/runs/{run['id']}",
            "details_url": None,
            "status": run["status"],
            "conclusion": run["conclusion"],
            "started_at": iso(run["started_at"]),
            "completed_at": iso(run["completed_at"]),
            "output": {
                "title": None,
                "summary": None,
                "text": None,
                "annotations_count": 0,
                "annotations_url": f"{api}/annotations",
            },
            "name": run["name"],
            "check_suite": None,
            "app": None,
            "pull_requests": [],
        }

    def _h_create_check_run(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        run_name = self._text(body, "name", "CheckRun")
        head = self._sha(self._text(body, "head_sha", "CheckRun"), "CheckRun", "head_sha")
        conclusion = self._optional_text(body, "conclusion", "CheckRun")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            raise invalid(
                f"conclusion must be one of {', '.join(CHECK_CONCLUSIONS)}",
                "CheckRun",
                "conclusion",
            )
        # GitHub: a conclusion makes the run completed.
        status = (
            "completed" if conclusion else self._text(body, "status", "CheckRun", default="queued")
        )
        if status not in {"queued", "in_progress", "completed"}:
            raise invalid("status must be queued, in_progress or completed", "CheckRun", "status")
        if status == "completed" and conclusion is None:
            raise invalid("a completed check run needs a conclusion", "CheckRun", "conclusion")
        self._commit_obj(repo, head)
        number = self.forge.add_check_run(repo, head, run_name, status, conclusion)
        run = next(r for r in self.forge.check_runs(repo, head) if r["id"] == number)
        return 201, self._check_run_json(urls, repo, run), None

    def _h_check_runs(
        self, request: Request, urls: Urls, owner: str, name: str, ref: str
    ) -> Answer:
        repo, _ = self._target(owner, name)
        sha = self._commit_obj(repo, ref).id.decode()
        runs = self.forge.check_runs(repo, sha)  # newest first
        wanted = request.args.get("check_name")
        if request.args.get("filter", "latest") == "latest":
            latest: dict[str, JSON] = {}
            for run in runs:
                latest.setdefault(run["name"], run)
            runs = list(latest.values())
        runs = [r for r in runs if wanted in (None, r["name"])]
        body = [self._check_run_json(urls, repo, r) for r in runs]
        return 200, {"total_count": len(body), "check_runs": body}, None

    def _review_json(self, urls: Urls, repo: str, review: JSON) -> JSON:
        pull = f"{urls.api}/repos/{repo}/pulls/{review['number']}"
        html = f"{urls.web}{repo}/pull/{review['number']}#pullrequestreview-{review['id']}"
        return {
            "id": numeric_id("review", repo, review["id"]),
            "node_id": node_id("PullRequestReview", repo, review["id"]),
            "user": urls.user(review["login"]),
            "body": review["body"],
            "state": review["state"],
            "html_url": html,
            "pull_request_url": pull,
            "_links": {"html": {"href": html}, "pull_request": {"href": pull}},
            "submitted_at": iso(review["submitted_at"]),
            "commit_id": review["commit_sha"],
            "author_association": "COLLABORATOR",
        }

    def _h_reviews(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        reviews = self.forge.reviews(repo, number)
        return 200, [self._review_json(urls, repo, r) for r in reviews], None

    def _h_create_review(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        event = self._optional_text(body, "event", "PullRequestReview")
        if event is None:  # GitHub keeps a review without an event pending: not modelled
            raise invalid("event is required (APPROVE, REQUEST_CHANGES or COMMENT)",
                          "PullRequestReview", "event", "missing_field")  # fmt: skip
        text = self._optional_text(body, "body", "PullRequestReview") or ""
        if event in {"REQUEST_CHANGES", "COMMENT"} and not text:
            raise Fail(
                422, "Unprocessable Entity", [f"Review Can not {event.lower()} without a body"]
            )
        try:
            review_id = self.forge.review(repo, number, self._who(request), event, text)
        except errors.InvalidRequestError as error:
            raise invalid(str(error.problems[0].message), "PullRequestReview", "event") from None
        except errors.ForgeError as error:
            # GitHub's "validation error simple": its errors are sentences.
            raise Fail(422, "Unprocessable Entity", [str(error).split(": ", 1)[-1]]) from None
        review = next(r for r in self.forge.reviews(repo, number) if r["id"] == review_id)
        return 200, self._review_json(urls, repo, review), None
