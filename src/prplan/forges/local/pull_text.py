"""A pull request's title, body and comments on the local forge, with
GitHub's rules: a body holds at most 65,536 characters (422 past it, as
GitHub answers), comments are the pull request's issue comments
(``/issues/{n}/comments``), and a closed pull request can be commented on.

prplan's calls (``PullTextClient``) are counted as the requests they would
be on GitHub: closing with a comment is two. The rest is what the REST
server and tests read and do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prplan import errors
from prplan.core.pull_text import PullText
from prplan.core.request import MAX_BODY_CHARS
from prplan.forges.local.metadata import MetadataSide
from prplan.forges.local.store import counted, locked

__all__ = ["PullTextSide", "COMMENTS_SCHEMA"]

COMMENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS issue_comments (
    id INTEGER PRIMARY KEY AUTOINCREMENT, repo TEXT NOT NULL, number INTEGER NOT NULL,
    author TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL
);
"""


def check_body(body: str | None) -> None:
    """GitHub refuses a pull request's body over 65,536 characters (422)."""
    if body is not None and len(body) > MAX_BODY_CHARS:
        raise errors.ForgeError(
            f"Validation Failed: body is too long (maximum is {MAX_BODY_CHARS} characters)",
            status=422,
        )


class PullTextSide(MetadataSide):
    """Titles and bodies read and rewritten, comments, closing with one."""

    _EXTRA_SCHEMA = MetadataSide._EXTRA_SCHEMA + COMMENTS_SCHEMA

    if TYPE_CHECKING:  # GitData's, beside this side in LocalForge

        def edit_pull(
            self,
            repo: str,
            number: int,
            *,
            title: str | None = None,
            body: str | None = None,
            state: str | None = None,
        ) -> None: ...

        def _verified_table(self) -> None: ...

    # --- what the servers and tests read and do ----------------------------------------

    @locked
    def issue_comments(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The pull request's comments (id, author, body, created_at), oldest first."""
        self._pull(repo, number)
        rows = self._db.execute(
            "SELECT id, author, body, created_at FROM issue_comments "
            "WHERE repo = ? AND number = ? ORDER BY id",
            (repo, number),
        )
        return [dict(row) for row in rows]

    @locked
    def add_issue_comment(self, repo: str, number: int, author: str, body: str) -> dict[str, Any]:
        """Comment on the pull request as ``author``; the new comment's row."""
        self._pull(repo, number)
        if not body.strip():
            raise errors.ForgeError("Validation Failed: body cannot be blank", status=422)
        check_body(body)
        cursor = self._db.execute(
            "INSERT INTO issue_comments (repo, number, author, body, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (repo, number, author, body, self._now()),
        )
        return {"id": cursor.lastrowid, "author": author, "body": body, "created_at": self._now()}

    @locked
    def mark_verified(self, repo: str, sha: str) -> None:
        """Record a commit as signed by the forge, as GitHub signs a REST
        commit an App's installation token makes without a custom author."""
        self._verified_table()
        self._db.execute("INSERT OR IGNORE INTO verified_commits VALUES (?, ?)", (repo, sha))

    # --- prplan's calls (PullTextClient) -------------------------------------------------

    @counted("reads")
    @locked
    def pull_request_text(self, repo: str, number: int) -> PullText:
        row = self._pull(repo, number)
        return PullText(
            number=number,
            title=str(row["title"]),
            body=str(row["body"] or ""),
            author=str(row["author"]) if row["author"] else None,
        )

    @counted("writes")
    @locked
    def update_pull_request(self, repo: str, number: int, *, title: str, body: str) -> None:
        check_body(body)
        self.edit_pull(repo, number, title=title, body=body)

    @locked
    def close_pull_request(self, repo: str, number: int, *, comment: str) -> None:
        self._comment_counted(repo, number, comment)
        self._close_counted(repo, number)

    @counted("writes")
    def _comment_counted(self, repo: str, number: int, comment: str) -> None:
        self.add_issue_comment(repo, number, self.login, comment)

    @counted("writes")
    def _close_counted(self, repo: str, number: int) -> None:
        self.edit_pull(repo, number, state="closed")
