"""Pull-request metadata on the local forge: labels, assignees, review
requests, milestones and draft, with GitHub's rules.

* A label is created the first time it is added (as GitHub's REST does),
  with a grey colour; names compare without case (the stored spelling wins).
* Assignees and review requests are logins; a team review request is its
  slug (``org/slug`` is taken as ``slug``). The pull request's author cannot
  be requested (422, GitHub's words). A review by a requested login removes
  its request, as on GitHub.
* Milestones are numbered per repository, apart from pull requests;
  ``create_milestone`` makes one (a human's act, not counted).
* Draft: ``mark_ready_for_review``; a draft is not mergeable (the gates'
  ``DRAFT``), ``set_draft`` converts back (a human's act).

prplan's calls (``MetadataClient``) are counted as the one request each
would be on GitHub; the rest is what the REST and GraphQL servers and tests
read and do.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from prplan import errors
from prplan.core.pr_metadata import Milestone, PullMetadata
from prplan.forges.local.gate_side import GateSide
from prplan.forges.local.store import counted, locked

__all__ = ["MetadataSide", "METADATA_SCHEMA", "LABEL_COLOR"]

METADATA_SCHEMA = """
CREATE TABLE IF NOT EXISTS labels (
    repo TEXT NOT NULL, id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL COLLATE NOCASE, color TEXT NOT NULL, description TEXT,
    UNIQUE (repo, name)
);
CREATE TABLE IF NOT EXISTS pull_labels (
    repo TEXT NOT NULL, number INTEGER NOT NULL, label INTEGER NOT NULL,
    PRIMARY KEY (repo, number, label)
);
CREATE TABLE IF NOT EXISTS pull_assignees (
    repo TEXT NOT NULL, number INTEGER NOT NULL, login TEXT NOT NULL COLLATE NOCASE,
    PRIMARY KEY (repo, number, login)
);
CREATE TABLE IF NOT EXISTS review_requests (
    repo TEXT NOT NULL, number INTEGER NOT NULL, name TEXT NOT NULL COLLATE NOCASE,
    team INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, number, name, team)
);
CREATE TABLE IF NOT EXISTS milestones (
    repo TEXT NOT NULL, number INTEGER NOT NULL, title TEXT NOT NULL,
    description TEXT, state TEXT NOT NULL DEFAULT 'open', creator TEXT NOT NULL,
    created_at REAL NOT NULL, PRIMARY KEY (repo, number), UNIQUE (repo, title)
);
CREATE TABLE IF NOT EXISTS pull_milestones (
    repo TEXT NOT NULL, number INTEGER NOT NULL, milestone INTEGER NOT NULL,
    PRIMARY KEY (repo, number)
);
"""

#: The colour of a label made by adding it (GitHub's default grey).
LABEL_COLOR = "ededed"


def _unprocessable(message: str) -> errors.ForgeError:
    return errors.ForgeError(message, status=422)


class MetadataSide(GateSide):
    """Labels, assignees, review requests, milestones, ready for review."""

    _EXTRA_SCHEMA = GateSide._EXTRA_SCHEMA + METADATA_SCHEMA

    # --- what the servers and tests read ----------------------------------------------

    @locked
    def pull_labels(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The pull request's labels (id, name, color, description), by name."""
        self._pull(repo, number)
        rows = self._db.execute(
            "SELECT l.* FROM labels l JOIN pull_labels p ON p.label = l.id "
            "WHERE p.repo = ? AND p.number = ? ORDER BY l.name",
            (repo, number),
        )
        return [dict(row) for row in rows]

    @locked
    def pull_assignees(self, repo: str, number: int) -> list[str]:
        self._pull(repo, number)
        rows = self._db.execute(
            "SELECT login FROM pull_assignees WHERE repo = ? AND number = ? ORDER BY login",
            (repo, number),
        )
        return [str(row["login"]) for row in rows]

    @locked
    def review_requests(self, repo: str, number: int) -> tuple[list[str], list[str]]:
        """(requested logins, requested team slugs)."""
        self._pull(repo, number)
        rows = self._db.execute(
            "SELECT name, team FROM review_requests WHERE repo = ? AND number = ? ORDER BY name",
            (repo, number),
        ).fetchall()
        return [r["name"] for r in rows if not r["team"]], [r["name"] for r in rows if r["team"]]

    @locked
    def pull_milestone(self, repo: str, number: int) -> dict[str, Any] | None:
        """The pull request's milestone row, or None."""
        self._pull(repo, number)
        row = self._db.execute(
            "SELECT m.* FROM milestones m JOIN pull_milestones p "
            "ON p.repo = m.repo AND p.milestone = m.number WHERE p.repo = ? AND p.number = ?",
            (repo, number),
        ).fetchone()
        return None if row is None else dict(row)

    @locked
    def milestone_rows(self, repo: str, state: str = "open") -> list[dict[str, Any]]:
        """The repository's milestones (``state``: open, closed or all), by number."""
        self._git(repo)
        rows = self._db.execute(
            "SELECT * FROM milestones WHERE repo = ? ORDER BY number", (repo,)
        ).fetchall()
        return [dict(r) for r in rows if state == "all" or r["state"] == state]

    @locked
    def milestone_counts(self, repo: str, number: int) -> tuple[int, int]:
        """(open, closed) pull requests with the milestone."""
        rows = self._db.execute(
            "SELECT p.state FROM pulls p JOIN pull_milestones m "
            "ON m.repo = p.repo AND m.number = p.number WHERE m.repo = ? AND m.milestone = ?",
            (repo, number),
        ).fetchall()
        opened = sum(1 for row in rows if row["state"] == "open")
        return opened, len(rows) - opened

    @locked
    def create_milestone(
        self, repo: str, title: str, *, description: str = "", creator: str = "octocat"
    ) -> int:
        """A new open milestone; its number. 422 if the title is taken."""
        self._git(repo)
        if not title.strip():
            raise _unprocessable(f"{repo}: a milestone needs a title")
        taken = self._db.execute(
            "SELECT 1 FROM milestones WHERE repo = ? AND title = ?", (repo, title)
        ).fetchone()
        if taken is not None:
            raise _unprocessable(f"{repo}: a milestone titled {title!r} already exists")
        row = self._db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 AS n FROM milestones WHERE repo = ?", (repo,)
        ).fetchone()
        number = int(row["n"])
        self._db.execute(
            "INSERT INTO milestones (repo, number, title, description, creator, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (repo, number, title, description or None, creator, self._now()),
        )
        return number

    @locked
    def remove_label(self, repo: str, number: int, name: str) -> None:
        """Take a label off the pull request, as a human does (GitHub's
        ``DELETE /issues/{number}/labels/{name}``): the name compares without
        case, the label stays in the repository, 404 if the pull request
        does not carry it. A human's act, not counted."""
        self._pull(repo, number)
        label = self._db.execute(
            "SELECT l.id FROM labels l JOIN pull_labels p ON p.label = l.id "
            "WHERE p.repo = ? AND p.number = ? AND l.name = ?",
            (repo, number, name),
        ).fetchone()
        if label is None:
            raise errors.ForgeError(f"{repo}: #{number} has no label {name!r}", status=404)
        self._db.execute(
            "DELETE FROM pull_labels WHERE repo = ? AND number = ? AND label = ?",
            (repo, number, label["id"]),
        )
        self._touch(repo, number)

    # --- prplan's calls (MetadataClient) ------------------------------------------------

    @counted("reads")
    @locked
    def pull_request_metadata(self, repo: str, number: int, *, reviews: bool) -> PullMetadata:
        row = self._pull(repo, number)
        users, teams = self.review_requests(repo, number)
        milestone = self.pull_milestone(repo, number)
        reviewed = {r["login"] for r in self.reviews(repo, number)} if reviews else set()
        return PullMetadata(
            number=number,
            labels=tuple(label["name"] for label in self.pull_labels(repo, number)),
            assignees=tuple(self.pull_assignees(repo, number)),
            requested_reviewers=tuple(users),
            requested_teams=tuple(teams),
            reviewed_by=tuple(sorted(reviewed)),
            milestone=None if milestone is None else milestone["title"],
            draft=bool(row["draft"]),
            author=row["author"],
        )

    @counted("reads")
    @locked
    def milestones(self, repo: str) -> list[Milestone]:
        return [
            Milestone(title=m["title"], number=m["number"], state=m["state"])
            for m in self.milestone_rows(repo, "all")
        ]

    @counted("writes")
    @locked
    def add_labels(self, repo: str, number: int, labels: Sequence[str]) -> None:
        self._pull(repo, number)
        for name in labels:
            if not name.strip():
                raise _unprocessable(f"{repo}: a label needs a name")
            self._db.execute(
                "INSERT OR IGNORE INTO labels (repo, name, color) VALUES (?, ?, ?)",
                (repo, name, LABEL_COLOR),
            )
            label = self._db.execute(
                "SELECT id FROM labels WHERE repo = ? AND name = ?", (repo, name)
            ).fetchone()
            self._db.execute(
                "INSERT OR IGNORE INTO pull_labels (repo, number, label) VALUES (?, ?, ?)",
                (repo, number, label["id"]),
            )
        self._touch(repo, number)

    @counted("writes")
    @locked
    def add_assignees(self, repo: str, number: int, assignees: Sequence[str]) -> None:
        self._pull(repo, number)
        self._db.executemany(
            "INSERT OR IGNORE INTO pull_assignees (repo, number, login) VALUES (?, ?, ?)",
            [(repo, number, login) for login in assignees],
        )
        self._touch(repo, number)

    @counted("writes")
    @locked
    def request_reviewers(
        self, repo: str, number: int, *, reviewers: Sequence[str], team_reviewers: Sequence[str]
    ) -> None:
        row = self._pull(repo, number)
        if row["state"] != "open":
            raise _unprocessable(f"{repo}: #{number} is not open: reviews cannot be requested")
        if any(login.casefold() == str(row["author"]).casefold() for login in reviewers):
            raise _unprocessable(
                f"{repo}: Review cannot be requested from pull request author ({row['author']})."
            )
        wanted = [(login, 0) for login in reviewers]
        wanted += [(team.rpartition("/")[2], 1) for team in team_reviewers]
        self._db.executemany(
            "INSERT OR IGNORE INTO review_requests (repo, number, name, team) VALUES (?, ?, ?, ?)",
            [(repo, number, name, team) for name, team in wanted],
        )
        self._touch(repo, number)

    @counted("writes")
    @locked
    def set_milestone(self, repo: str, number: int, milestone: int) -> None:
        self._pull(repo, number)
        found = self._db.execute(
            "SELECT 1 FROM milestones WHERE repo = ? AND number = ?", (repo, milestone)
        ).fetchone()
        if found is None:
            raise _unprocessable(f"{repo}: no milestone #{milestone}")
        self._db.execute(
            "INSERT OR REPLACE INTO pull_milestones (repo, number, milestone) VALUES (?, ?, ?)",
            (repo, number, milestone),
        )
        self._touch(repo, number)

    @counted("writes")
    @locked
    def mark_ready_for_review(self, repo: str, number: int) -> None:
        self.set_draft(repo, number, False)

    # --- GitHub's rule: a review answers the request --------------------------------------

    @locked
    def review(self, repo: str, number: int, login: str, event: str, body: str = "") -> int:
        review_id = super().review(repo, number, login, event, body)
        self._db.execute(
            "DELETE FROM review_requests WHERE repo = ? AND number = ? AND name = ? AND team = 0",
            (repo, number, login),
        )
        return review_id

    def _touch(self, repo: str, number: int) -> None:
        self._db.execute(
            "UPDATE pulls SET updated_at = ? WHERE repo = ? AND number = ?",
            (self._now(), repo, number),
        )
