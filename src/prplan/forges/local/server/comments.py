"""Routes for a pull request's comments, with GitHub's shapes (the OpenAPI
contract holds them): ``GET`` and ``POST /issues/{n}/comments`` (200, the
list oldest first; 201, the new comment). Issues are pull requests here: a
number that is no pull request is 404. A blank body is 422.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from prplan import errors
from prplan.forges.local.server.payloads import JSON, Urls, iso, node_id
from prplan.forges.local.server.routes import Answer, Fail, Routes

__all__ = ["CommentRoutes", "COMMENT_RULES"]

#: (path under /repos/{owner}/{repo}, endpoint, method): registered by ``app``.
COMMENT_RULES = (
    ("/issues/<int:number>/comments", "issue_comments", "GET"),
    ("/issues/<int:number>/comments", "create_issue_comment", "POST"),
)


def _comment(urls: Urls, repo: str, number: int, row: dict[str, Any]) -> JSON:
    at = iso(row["created_at"])
    return {
        "id": int(row["id"]),
        "node_id": node_id("IssueComment", repo, row["id"]),
        "url": f"{urls.api}/repos/{repo}/issues/comments/{row['id']}",
        "html_url": f"{urls.web}{repo}/pull/{number}#issuecomment-{row['id']}",
        "issue_url": f"{urls.api}/repos/{repo}/issues/{number}",
        "body": row["body"],
        "user": urls.user(str(row["author"])),
        "created_at": at,
        "updated_at": at,
        "author_association": "OWNER",
    }


class CommentRoutes(Routes):
    """A pull request's (issue) comments."""

    def _h_issue_comments(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        rows = self.forge.issue_comments(repo, number)
        return 200, [_comment(urls, repo, number, row) for row in rows], None

    def _h_create_issue_comment(
        self, request: Request, urls: Urls, owner: str, name: str, number: int
    ) -> Answer:
        repo, _ = self._target(owner, name)
        text = self._text(self._body(request), "body", "IssueComment")
        try:
            row = self.forge.add_issue_comment(repo, number, self._who(request), text)
        except errors.NotFoundError:
            raise
        except errors.ForgeError as error:
            raise Fail(422, str(error).split(": ", 1)[-1]) from None
        headers = {"Location": f"{urls.api}/repos/{repo}/issues/comments/{row['id']}"}
        return 201, _comment(urls, repo, number, row), headers
