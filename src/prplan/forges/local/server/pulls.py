"""Routes for pull requests: list, open, read, edit, merge, and their files.

GitHub's ``pulls`` endpoints, with its pagination (``Link`` headers) and its
"Validation Failed" answers for a pull request that cannot be opened.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from werkzeug.wrappers import Request

from prplan import errors
from prplan.core.request import MAX_BODY_CHARS
from prplan.forges.local.server.checks import gate_fields
from prplan.forges.local.server.metadata import metadata_fields
from prplan.forges.local.server.payloads import JSON, Urls
from prplan.forges.local.server.routes import Answer, Fail, Routes, invalid

__all__ = ["PullRoutes"]


class PullRoutes(Routes):
    """Pull requests: what prplan opens and merges, and what a human does to them."""

    # --- pull requests ----------------------------------------------------------------------

    def _pull_json(
        self, repo: str, default: str, urls: Urls, row: dict[str, Any], *, full: bool
    ) -> JSON:
        base_sha = self.forge.branches(repo).get(row["base"]) or row["head_sha"]
        stats = None
        if full:
            merge_base = self.forge.merge_base(repo, base_sha, row["head_sha"]) or base_sha
            files = self.forge.changed_files(repo, merge_base, row["head_sha"])
            commits = self.forge.compare_commits(repo, merge_base, row["head_sha"]).ahead_by
            stats = (
                commits,
                sum(f.additions for f in files),
                sum(f.deletions for f in files),
                len(files),
            )
        # A forge made by an older prplan did not record authors: its own login.
        out = urls.pull_request(
            repo,
            default,
            row,
            base_sha=base_sha,
            full=full,
            author=row.get("author") or self._login,
            merged_by=row.get("merged_by") or self._login,
            stats=stats,
        )
        out.update(gate_fields(self.forge, urls, repo, row, full=full))
        out.update(metadata_fields(self.forge, urls, repo, row))
        return out

    def _h_pulls(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        state = request.args.get("state", "open")
        head = request.args.get("head")
        base = request.args.get("base")
        rows = self.forge.pull_rows(repo)
        if state in {"open", "closed"}:
            rows = [r for r in rows if r["state"] == state]
        if head and ":" in head:  # GitHub ignores a head without 'owner:'
            head_owner, _, head_branch = head.partition(":")
            rows = [r for r in rows if r["head"] == head_branch and head_owner == owner]
        if base:
            rows = [r for r in rows if r["base"] == base]
        rows.sort(key=lambda r: r["number"], reverse=request.args.get("direction", "desc") != "asc")
        # Not a number: GitHub falls back to the default, so do we.
        per_page = min(max(request.args.get("per_page", 30, type=int), 1), 100)
        page = max(request.args.get("page", 1, type=int), 1)
        chunk = rows[(page - 1) * per_page : page * per_page]
        body = [self._pull_json(repo, default, urls, r, full=False) for r in chunk]
        return 200, body, self._links(request, urls, page, math.ceil(len(rows) / per_page))

    @staticmethod
    def _links(request: Request, urls: Urls, page: int, last: int) -> dict[str, str] | None:
        """GitHub's ``Link`` header for paginated lists."""
        if last <= 1:
            return None
        base = urls.web.rstrip("/") + request.path
        args = {k: v for k, v in request.args.items() if k != "page"}

        def link(number: int, rel: str) -> str:
            return f'<{base}?{urlencode({**args, "page": number})}>; rel="{rel}"'

        parts = []
        if page < last:
            parts += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            parts += [link(1, "first"), link(page - 1, "prev")]
        return {"Link": ", ".join(parts)}

    def _h_create_pull(self, request: Request, urls: Urls, owner: str, name: str) -> Answer:
        repo, default = self._target(owner, name)
        body = self._body(request)
        title, head, base = body.get("title"), body.get("head"), body.get("base")
        if not all(isinstance(v, str) and v for v in (title, head, base)):
            raise invalid(
                "title, head and base are required", "PullRequest", "title", "missing_field"
            )
        assert isinstance(head, str) and isinstance(base, str) and isinstance(title, str)
        head_branch = head.split(":", 1)[1] if ":" in head else head
        try:
            number = self.forge.open_pr(
                repo,
                head_branch,
                base,
                title=title,
                body=str(body.get("body") or ""),
                author=self._who(request),
                draft=body.get("draft") is True,
            )
        except errors.ConflictError:
            owner = repo.split("/")[0]
            raise Fail(422, "Validation Failed", [{
                "resource": "PullRequest", "code": "custom",
                "message": f"A pull request already exists for {owner}:{head_branch}.",
            }]) from None  # fmt: skip
        except errors.ForgeError as error:
            raise Fail(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                     "message": str(error).split(": ", 1)[-1]}]) from None  # fmt: skip
        row = self.forge.pull_row(repo, number)
        headers = {"Location": f"{urls.api}/repos/{repo}/pulls/{number}"}
        return 201, self._pull_json(repo, default, urls, row, full=True), headers

    def _h_edit_pull(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        body = self._body(request)
        state = self._optional_text(body, "state", "PullRequest")
        if state is not None and state not in {"open", "closed"}:
            raise invalid("state must be open or closed", "PullRequest", "state")
        title = self._optional_text(body, "title", "PullRequest")
        text = self._optional_text(body, "body", "PullRequest")
        if text is not None and len(text) > MAX_BODY_CHARS:  # GitHub's limit
            raise invalid(
                f"body is too long (maximum is {MAX_BODY_CHARS} characters)", "PullRequest", "body"
            )
        self.forge.edit_pull(repo, number, title=title, body=text, state=state)
        return self._h_pull(request, urls, owner, name, number)

    def _h_pull(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, default = self._target(owner, name)
        return (
            200,
            self._pull_json(repo, default, urls, self.forge.pull_row(repo, number), full=True),
            None,
        )

    def _h_merged(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        return (204 if self.forge.pull_row(repo, number)["merged"] else 404), None, None

    def _h_merge(self, request: Request, urls: Urls, owner: str, name: str, number: int) -> Answer:
        repo, _ = self._target(owner, name)
        row = self.forge.pull_row(repo, number)
        body = self._body(request)
        method = self._text(body, "merge_method", "PullRequest", default="merge")
        if method not in {"merge", "squash", "rebase"}:
            raise invalid(
                f"merge_method {method!r} is not merge, squash or rebase",
                "PullRequest",
                "merge_method",
            )
        expected = self._optional_text(body, "sha", "PullRequest")
        if row["state"] != "open":
            raise Fail(405, "Pull Request is not mergeable")
        if isinstance(expected, str) and expected != row["head_sha"]:
            raise Fail(409, "Head branch was modified. Review and try the merge again.")
        sha = self.forge.merge_pr(
            repo,
            number,
            method,
            by=self._who(request),
            expected_head_sha=expected if isinstance(expected, str) else None,
        )
        return (
            200,
            {"sha": sha, "merged": True, "message": "Pull Request successfully merged"},
            None,
        )

    def _h_pull_files(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        row = self.forge.pull_row(repo, number)
        base_sha = self.forge.branches(repo).get(row["base"]) or row["head_sha"]
        merge_base = self.forge.merge_base(repo, base_sha, row["head_sha"]) or base_sha
        return 200, self._files(repo, urls, merge_base, row["head_sha"]), None
