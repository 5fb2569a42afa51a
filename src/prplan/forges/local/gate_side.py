"""The merge gates' public side: protect a branch, report checks, review,
read a pull request's gate, and GitHub's native auto-merge and merge queue.

Every call is locked and none is counted as prplan's request (they are what
a person, a CI system or a reviewer does; the GitHub client and the REST and
GraphQL servers read and drive them). After any call that changed a branch,
a pull request, a check, a review or a protection, the forge looks at every
pull request with auto-merge on or in a merge queue, still under the same
lock, and merges those whose gate turned clean (``_before_release``): as
GitHub does, the moment it can.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from typing import Any

from prplan import errors
from prplan.core.names import branch_problems
from prplan.forges.local.gates import CheckView, GateView, Protection
from prplan.forges.local.rules import ForgeRules
from prplan.forges.local.store import locked

__all__ = ["GateSide", "STATUS_STATES", "CHECK_STATUSES", "CHECK_CONCLUSIONS", "MERGE_METHODS"]

STATUS_STATES = ("error", "failure", "pending", "success")
CHECK_STATUSES = ("queued", "in_progress", "completed", "waiting", "requested", "pending")
CHECK_CONCLUSIONS = (
    "action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out",
)  # fmt: skip
MERGE_METHODS = ("merge", "squash", "rebase")
REVIEW_EVENTS = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
}
#: Merge states in which the forge merges an auto-merge pull request.
_MERGEABLE = frozenset({"CLEAN", "UNSTABLE", "HAS_HOOKS"})


def _invalid(field: str, message: str) -> errors.InvalidRequestError:
    return errors.InvalidRequestError([errors.Problem(field, message)])


class GateSide(ForgeRules):
    """Protection, checks, reviews, the gate, auto-merge and the merge queue."""

    _settling = False

    # --- protection and settings ------------------------------------------------------

    @locked
    def protect_branch(
        self,
        repo: str,
        branch: str,
        *,
        required_checks: Sequence[str] = (),
        strict: bool = False,
        required_approvals: int = 0,
        merge_queue: bool = False,
        enforce_admins: bool = False,
    ) -> None:
        """Protect ``branch`` (replacing its protection): these status check
        contexts (or check run names) must pass, ``strict``: the branch must
        contain its base's head, ``required_approvals`` approving reviews,
        ``merge_queue``: merges go through the base's merge queue,
        ``enforce_admins``: the rules hold for the repository's
        administrators too (``set_admin``; off, as GitHub's default, an
        administrator's merge passes them). A protected branch can be
        neither deleted nor force-pushed."""
        self._default(repo)
        problems = branch_problems("branch", branch)
        checks = list(dict.fromkeys(required_checks))
        for index, name in enumerate(checks):
            if not isinstance(name, str) or not name.strip():
                problems.append(
                    errors.Problem(f"required_checks[{index}]", "a check's name cannot be empty")
                )
        if not isinstance(required_approvals, int) or not 0 <= required_approvals <= 6:
            problems.append(
                errors.Problem(
                    "required_approvals", "must be a whole number from 0 to 6 (GitHub's range)"
                )
            )
        if problems:
            raise errors.InvalidRequestError(problems)
        self._db.execute(
            "INSERT OR REPLACE INTO protections (repo, branch, required_checks, strict, "
            "required_approvals, merge_queue, enforce_admins) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (repo, branch, json.dumps(checks), int(strict), required_approvals,
             int(merge_queue), int(enforce_admins)),
        )  # fmt: skip
        self._gates_dirty = True

    @locked
    def set_admin(self, repo: str, login: str, admin: bool = True) -> None:
        """Make ``login`` an administrator of ``repo`` (``admin=False``: no
        longer one). An administrator's merge passes branch protection that
        does not enforce itself on administrators (``enforce_admins``)."""
        self._default(repo)
        if not login:
            raise _invalid("login", "give the login of a user")
        if admin:
            self._db.execute("INSERT OR IGNORE INTO repo_admins VALUES (?, ?)", (repo, login))
        else:
            self._db.execute("DELETE FROM repo_admins WHERE repo = ? AND login = ?", (repo, login))

    @locked
    def is_admin(self, repo: str, login: str) -> bool:
        """Is ``login`` an administrator of ``repo`` (``set_admin``)?"""
        self._default(repo)
        return self._is_admin(repo, login)

    @locked
    def unprotect_branch(self, repo: str, branch: str) -> None:
        """Lift ``branch``'s protection (NotFoundError if it has none)."""
        self._default(repo)
        if self._protection(repo, branch) is None:
            raise errors.NotFoundError(f"{repo}: Branch not protected ({branch!r})")
        self._db.execute("DELETE FROM protections WHERE repo = ? AND branch = ?", (repo, branch))
        self._gates_dirty = True

    @locked
    def branch_protection(self, repo: str, branch: str) -> Protection | None:
        """``branch``'s protection, or None when it is not protected."""
        self._default(repo)
        return self._protection(repo, branch)

    @locked
    def merge_queue_enabled(self, repo: str, branch: str) -> bool:
        """Do merges into ``branch`` go through a merge queue?"""
        protection = self.branch_protection(repo, branch)
        return protection is not None and protection.merge_queue

    @locked
    def set_allow_auto_merge(self, repo: str, allowed: bool = True) -> None:
        """The repository setting "Allow auto-merge" (on unless turned off)."""
        self._default(repo)
        self._db.execute("INSERT OR REPLACE INTO repo_settings VALUES (?, ?)", (repo, int(allowed)))

    @locked
    def auto_merge_allowed(self, repo: str) -> bool:
        self._default(repo)
        row = self._db.execute(
            "SELECT allow_auto_merge FROM repo_settings WHERE repo = ?", (repo,)
        ).fetchone()
        return row is None or bool(row["allow_auto_merge"])

    # --- checks and reviews -------------------------------------------------------------

    @locked
    def set_status(
        self,
        repo: str,
        sha: str,
        context: str,
        state: str,
        *,
        description: str | None = None,
        target_url: str | None = None,
        creator: str = "ci",
    ) -> int:
        """Report a commit status on ``sha`` (a commit, or a branch: its head),
        as a CI system's ``POST /statuses/{sha}``; the latest of a context
        counts. Returns the status's id."""
        if state not in STATUS_STATES:
            raise _invalid("state", f"{state!r} is not one of {', '.join(STATUS_STATES)}")
        if not context:
            raise _invalid("context", "a status needs a context (its check's name)")
        commit = self._resolve(repo, sha)
        cursor = self._db.execute(
            "INSERT INTO statuses (repo, sha, context, state, description, target_url, creator, "
            "created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (repo, commit, context, state, description, target_url, creator, self._now()),
        )
        self._gates_dirty = True
        return int(cursor.lastrowid or 0)

    @locked
    def add_check_run(
        self,
        repo: str,
        sha: str,
        name: str,
        status: str = "completed",
        conclusion: str | None = None,
    ) -> int:
        """Report a check run on ``sha`` (``POST /check-runs``); a completed
        one needs a conclusion. The latest run of a name counts."""
        if status not in CHECK_STATUSES:
            raise _invalid("status", f"{status!r} is not one of {', '.join(CHECK_STATUSES)}")
        if conclusion is not None and conclusion not in CHECK_CONCLUSIONS:
            raise _invalid(
                "conclusion", f"{conclusion!r} is not one of {', '.join(CHECK_CONCLUSIONS)}"
            )
        if (status == "completed") != (conclusion is not None):
            raise _invalid("conclusion", "give a conclusion exactly when status is completed")
        if not name:
            raise _invalid("name", "a check run needs a name")
        commit = self._resolve(repo, sha)
        now = self._now()
        cursor = self._db.execute(
            "INSERT INTO check_runs (repo, sha, name, status, conclusion, started_at, "
            "completed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (repo, commit, name, status, conclusion, now, now if conclusion else None),
        )
        self._gates_dirty = True
        return int(cursor.lastrowid or 0)

    @locked
    def commit_checks(
        self, repo: str, ref: str, required: Sequence[str] = ()
    ) -> tuple[CheckView, ...]:
        """The latest status of each context and run of each check name on a
        commit (or a branch's head), and the ``required`` names nobody
        reported (state ``expected``)."""
        return self._checks(repo, self._resolve(repo, ref), tuple(required))

    @locked
    def statuses(self, repo: str, ref: str) -> list[dict[str, Any]]:
        """The statuses reported on a commit (or a branch's head), newest first."""
        rows = self._db.execute(
            "SELECT * FROM statuses WHERE repo = ? AND sha = ? ORDER BY id DESC",
            (repo, self._resolve(repo, ref)),
        )
        return [dict(row) for row in rows]

    @locked
    def check_runs(self, repo: str, ref: str) -> list[dict[str, Any]]:
        """The check runs reported on a commit (or a branch's head), newest first."""
        rows = self._db.execute(
            "SELECT * FROM check_runs WHERE repo = ? AND sha = ? ORDER BY id DESC",
            (repo, self._resolve(repo, ref)),
        )
        return [dict(row) for row in rows]

    @locked
    def review(self, repo: str, number: int, login: str, event: str, body: str = "") -> int:
        """A review by ``login``: APPROVE, REQUEST_CHANGES or COMMENT, on the
        pull request's head as it is. Its author cannot approve it or request
        changes on it, as on GitHub. Returns the review's id."""
        if event not in REVIEW_EVENTS:
            raise _invalid("event", f"{event!r} is not one of {', '.join(REVIEW_EVENTS)}")
        row = self._pull(repo, number)
        if row["state"] != "open":
            raise errors.ForgeError(
                f"{repo}: #{number} is closed: it cannot be reviewed", status=422
            )
        if event != "COMMENT" and login == row["author"]:
            verb = "approve" if event == "APPROVE" else "request changes on"
            raise errors.ForgeError(f"{repo}: Can not {verb} your own pull request", status=422)
        cursor = self._db.execute(
            "INSERT INTO reviews (repo, number, login, state, body, commit_sha, submitted_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (repo, number, login, REVIEW_EVENTS[event], body, row["head_sha"], self._now()),
        )
        self._gates_dirty = True
        return int(cursor.lastrowid or 0)

    def approve(self, repo: str, number: int, login: str = "reviewer") -> int:
        """``login`` approves the pull request (``review(..., "APPROVE")``)."""
        return self.review(repo, number, login, "APPROVE")

    @locked
    def reviews(self, repo: str, number: int) -> list[dict[str, Any]]:
        """The pull request's reviews, oldest first."""
        self._pull(repo, number)
        rows = self._db.execute(
            "SELECT * FROM reviews WHERE repo = ? AND number = ? ORDER BY id", (repo, number)
        )
        return [dict(row) for row in rows]

    @locked
    def set_draft(self, repo: str, number: int, draft: bool) -> None:
        """Convert an open pull request to a draft, or mark it ready for review."""
        if self._pull(repo, number)["state"] != "open":
            raise errors.ForgeError(f"{repo}: #{number} is not open", status=422)
        self._db.execute(
            "UPDATE pulls SET draft = ?, updated_at = ? WHERE repo = ? AND number = ?",
            (int(draft), self._now(), repo, number),
        )
        self._gates_dirty = True

    # --- the gate, auto-merge, the queue -------------------------------------------------

    @locked
    def gate_view(self, repo: str, number: int) -> GateView:
        """What GitHub says about the pull request's way to its base now."""
        return self._gate(repo, self._pull(repo, number))

    @locked
    def auto_merge_request(self, repo: str, number: int) -> dict[str, Any] | None:
        """{method, enabled_by, enabled_at} while auto-merge is on, else None."""
        row = self._db.execute(
            "SELECT * FROM auto_merges WHERE repo = ? AND number = ?", (repo, number)
        ).fetchone()
        return None if row is None else dict(row)

    @locked
    def queue_entry(self, repo: str, number: int) -> dict[str, Any] | None:
        """{base, enqueued_by, enqueued_at, head_sha, position} while queued,
        else None. ``head_sha``: the head it was enqueued at; a push that
        changes the head drops the entry, as GitHub does."""
        row = self._db.execute(
            "SELECT * FROM merge_queue WHERE repo = ? AND number = ?", (repo, number)
        ).fetchone()
        if row is None:
            return None
        position = self._queue_position(repo, number, row["base"])
        return {**dict(row), "position": position}

    def _open_for(self, repo: str, number: int, expected_head: str | None) -> GateView:
        row = self._pull(repo, number)
        if row["state"] != "open":
            raise errors.ForgeError("Pull request is not open", status=422)
        if expected_head is not None and expected_head != row["head_sha"]:
            raise errors.ConflictError(
                f"{repo}: Head branch was modified. Review and try again. (#{number} head is "
                f"{row['head_sha'][:7]}, expected {expected_head[:7]})"
            )
        return self._gate(repo, row)

    @locked
    def enable_auto_merge(
        self,
        repo: str,
        number: int,
        method: str = "merge",
        expected_head: str | None = None,
        *,
        by: str | None = None,
    ) -> GateView:
        """GitHub's ``enablePullRequestAutoMerge``: the forge merges the pull
        request with ``method`` the moment its gate turns clean (on a base
        with a merge queue: it joins the queue then). Refused (ForgeError
        422, GitHub's words) where the repository does not allow auto-merge
        and where the pull request is a draft, conflicts, or could merge now
        ("Pull request is in clean status": merge it instead)."""
        if method not in MERGE_METHODS:
            raise _invalid("method", f"{method!r} is not one of {', '.join(MERGE_METHODS)}")
        if not self.auto_merge_allowed(repo):
            raise errors.ForgeError("Auto merge is not allowed for this repository", status=422)
        gate = self._open_for(repo, number, expected_head)
        if gate.merge_state_status not in {"BLOCKED", "BEHIND"}:
            state = gate.merge_state_status.lower()
            if gate.merge_state_status in _MERGEABLE:
                raise errors.MergeableNow(number, f"Pull request is in {state} status")
            raise errors.ForgeError(f"Pull request is in {state} status", status=422)
        self._db.execute(
            "INSERT OR REPLACE INTO auto_merges VALUES (?, ?, ?, ?, ?)",
            (repo, number, method, by or self.login, self._now()),
        )
        return self._gate(repo, self._pull(repo, number))

    @locked
    def disable_auto_merge(self, repo: str, number: int) -> None:
        """GitHub's ``disablePullRequestAutoMerge`` (nothing if it was off)."""
        self._pull(repo, number)
        self._db.execute("DELETE FROM auto_merges WHERE repo = ? AND number = ?", (repo, number))

    @locked
    def enqueue(
        self, repo: str, number: int, expected_head: str | None = None, *, by: str | None = None
    ) -> int:
        """GitHub's ``enqueuePullRequest``: add the pull request to its base's
        merge queue; returns its position (0: next). The queue merges its
        entries in order, each once its required checks pass (the queue's
        method: merge), and drops one whose required check fails. Refused
        (ForgeError 422) where the base has no merge queue, and for a draft,
        a conflict or missing approvals."""
        gate = self._open_for(repo, number, expected_head)
        base = str(self._pull(repo, number)["base"])
        if not self.merge_queue_enabled(repo, base):
            raise errors.ForgeError(
                f"Pull request's base branch {base!r} does not use a merge queue", status=422
            )
        if gate.queued:
            return int(gate.queue_position or 0)
        if gate.merge_state_status in {"DRAFT", "DIRTY"}:
            raise errors.ForgeError(
                f"Pull request is in {gate.merge_state_status.lower()} status", status=422
            )
        if gate.review_decision not in {None, "APPROVED"}:
            raise errors.ForgeError(str(gate.blocked_by), status=422)
        self._db.execute(
            "INSERT INTO merge_queue (repo, number, base, enqueued_by, enqueued_at, head_sha) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (repo, number, base, by or self.login, self._now(), gate.head_sha),
        )
        self._gates_dirty = True
        return int(self._queue_position(repo, number, base) or 0)

    @locked
    def dequeue(self, repo: str, number: int) -> None:
        """GitHub's ``dequeuePullRequest`` (NotFoundError if it is not queued)."""
        gone = self._db.execute(
            "DELETE FROM merge_queue WHERE repo = ? AND number = ?", (repo, number)
        ).rowcount
        if not gone:
            raise errors.NotFoundError(f"{repo}: #{number} is not in a merge queue")
        self._gates_dirty = True

    # --- the forge acting on its gates ----------------------------------------------------

    def _before_release(self) -> None:
        """Merge what auto-merge and the merge queues may merge now, until
        nothing more moves (a merge moves a base, which may unblock or block
        others). Runs under the lock, at the end of the call that changed
        something."""
        if not self._gates_dirty or self._settling:
            return
        self._settling = True
        try:
            for _ in range(10_000):  # each round merges or drops at least one, or stops
                if not self._gates_dirty:
                    break
                self._gates_dirty = False
                self._settle()
        finally:
            self._settling = False

    def _settle(self) -> None:
        for table in ("auto_merges", "merge_queue"):  # a closed pull request loses both
            self._db.execute(
                f"DELETE FROM {table} WHERE NOT EXISTS (SELECT 1 FROM pulls p WHERE "  # table: fixed names
                f"p.repo = {table}.repo AND p.number = {table}.number AND p.state = 'open')"
            )
        # GitHub drops a queued pull request whose head changed (a push); its
        # auto-merge, if any, stays on.
        self._db.execute(
            "DELETE FROM merge_queue WHERE head_sha IS NOT NULL AND EXISTS (SELECT 1 FROM "
            "pulls p WHERE p.repo = merge_queue.repo AND p.number = merge_queue.number "
            "AND p.head_sha != merge_queue.head_sha)"
        )
        for auto in self._db.execute("SELECT * FROM auto_merges ORDER BY enabled_at").fetchall():
            self._auto_merge(auto["repo"], int(auto["number"]), auto["method"], auto["enabled_by"])
        heads = self._db.execute(
            "SELECT repo, number, enqueued_by, MIN(seq) FROM merge_queue GROUP BY repo, base"
        ).fetchall()
        for head in heads:
            self._queue_step(head["repo"], int(head["number"]), head["enqueued_by"])

    def _auto_merge(self, repo: str, number: int, method: str, by: str) -> None:
        row = self._pull(repo, number)
        gate = self._gate(repo, row)
        if gate.merge_state_status not in _MERGEABLE:
            return
        self._db.execute("DELETE FROM auto_merges WHERE repo = ? AND number = ?", (repo, number))
        if self.merge_queue_enabled(repo, str(row["base"])):
            self._db.execute(
                "INSERT OR IGNORE INTO merge_queue (repo, number, base, enqueued_by, "
                "enqueued_at, head_sha) VALUES (?, ?, ?, ?, ?, ?)",
                (repo, number, row["base"], by, self._now(), gate.head_sha),
            )
            self._gates_dirty = True
            return
        # A failed merge (the base moved meanwhile): the next look decides again.
        with contextlib.suppress(errors.PrplanError):
            self._merge(repo, number, method, gate.head_sha, by=by)

    def _queue_step(self, repo: str, number: int, by: str) -> None:
        """The first entry of a queue: merged when it may, dropped when a
        required check failed or it conflicts, left waiting otherwise."""
        gate = self._gate(repo, self._pull(repo, number))
        failed = any(c.required and c.state in {"failure", "error"} for c in gate.checks)
        if failed or gate.merge_state_status in {"DIRTY", "DRAFT"}:
            self._db.execute(
                "DELETE FROM merge_queue WHERE repo = ? AND number = ?", (repo, number)
            )
            self._gates_dirty = True
            return
        if gate.merge_state_status not in _MERGEABLE | {"BEHIND"}:
            return
        if gate.protection_blocks is not None:  # behind, and its checks still running
            return
        try:
            self._merge(repo, number, "merge", gate.head_sha, by=by, via_queue=True)
        except errors.PrplanError:
            self._db.execute(
                "DELETE FROM merge_queue WHERE repo = ? AND number = ?", (repo, number)
            )
            self._gates_dirty = True
