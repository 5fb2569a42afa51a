"""Merge gates: what stands between an open pull request and its merge.

GitHub's branch protection (required status checks, strict or not,
required approving reviews, a merge queue), the commit statuses and check
runs that satisfy required checks, reviews, and the ``mergeStateStatus`` /
``reviewDecision`` GitHub computes from them. ``Gates`` reads them; the
rules (``rules``) refuse a merge the gate does not allow, and ``gate_side``
holds the public calls that change them and the native auto-merge and merge
queue that act on them.

Which state wins when several hold, as GitHub reports them: ``DRAFT``, then
``DIRTY`` (the three-way merge of base and head conflicts), then ``BEHIND``
(strict checks and the base moved past the pull request's fork point: the
branch must be brought up to date first, whatever its checks say, as GitHub
reports it), then ``BLOCKED`` (a required check missing, pending or failed,
approvals missing, changes requested), then ``UNSTABLE`` (a check that is not required
failed), else ``CLEAN``. ``HAS_HOOKS`` and ``UNKNOWN`` are never produced.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence

import attrs
from dulwich.graph import find_merge_base

from prplan import errors
from prplan.forges.local.merging import Merging

__all__ = ["CheckView", "GateView", "Gates", "Protection", "GATES_SCHEMA", "check_state"]

GATES_SCHEMA = """
CREATE TABLE IF NOT EXISTS protections (
    repo TEXT NOT NULL,
    branch TEXT NOT NULL,
    required_checks TEXT NOT NULL DEFAULT '[]',
    strict INTEGER NOT NULL DEFAULT 0,
    required_approvals INTEGER NOT NULL DEFAULT 0,
    merge_queue INTEGER NOT NULL DEFAULT 0,
    enforce_admins INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (repo, branch)
);
CREATE TABLE IF NOT EXISTS repo_admins (
    repo TEXT NOT NULL,
    login TEXT NOT NULL,
    PRIMARY KEY (repo, login)
);
CREATE TABLE IF NOT EXISTS repo_settings (
    repo TEXT PRIMARY KEY,
    allow_auto_merge INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    sha TEXT NOT NULL,
    context TEXT NOT NULL,
    state TEXT NOT NULL,
    description TEXT,
    target_url TEXT,
    creator TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS check_runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    sha TEXT NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    conclusion TEXT,
    started_at REAL NOT NULL,
    completed_at REAL
);
CREATE TABLE IF NOT EXISTS reviews (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    login TEXT NOT NULL,
    state TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    commit_sha TEXT NOT NULL,
    submitted_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS auto_merges (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    method TEXT NOT NULL,
    enabled_by TEXT NOT NULL,
    enabled_at REAL NOT NULL,
    PRIMARY KEY (repo, number)
);
CREATE TABLE IF NOT EXISTS merge_queue (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    base TEXT NOT NULL,
    enqueued_by TEXT NOT NULL,
    enqueued_at REAL NOT NULL,
    head_sha TEXT,
    UNIQUE (repo, number)
);
"""

#: A check run's conclusions that pass a required check (GitHub's rule).
_PASSING_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})


@attrs.frozen
class Protection:
    """A protected branch's rules (``LocalForge.protect_branch``)."""

    required_checks: tuple[str, ...] = ()
    strict: bool = False
    required_approvals: int = 0
    merge_queue: bool = False
    #: GitHub's "Do not allow bypassing the above settings" ("include
    #: administrators"): off, an administrator's merge passes the gate
    enforce_admins: bool = False


@attrs.frozen
class CheckView:
    """One check on a commit: a commit status (``kind="status"``, ``state``
    GitHub's error|failure|pending|success) or a check run
    (``kind="check_run"``, with its ``status`` and ``conclusion``), or a
    required one nobody reported yet (``kind="expected"``). ``state`` is
    the rollup's word for it, lowercase: success | pending | failure |
    error | expected."""

    name: str
    state: str
    required: bool
    kind: str
    status: str | None = None
    conclusion: str | None = None


@attrs.frozen
class GateView:
    """What GitHub says about an open pull request's way to its base.

    ``merge_state_status``: CLEAN | UNSTABLE | BLOCKED | BEHIND | DIRTY |
    DRAFT (UNKNOWN for a closed one); ``review_decision``: APPROVED |
    REVIEW_REQUIRED | CHANGES_REQUESTED, or None when the base requires no
    review; ``checks``: the head commit's checks, required ones nobody
    reported included (state ``expected``); ``auto_merge_method``: merge |
    squash | rebase when native auto-merge is on; ``queued``: in its base's
    merge queue (``queue_position``: 0 is next). ``blocked_by``: GitHub's
    message for why a merge is refused now (None when it would merge)."""

    number: int
    head_sha: str
    merge_state_status: str
    review_decision: str | None
    is_draft: bool
    checks: tuple[CheckView, ...]
    auto_merge_method: str | None
    queued: bool
    queue_position: int | None = None
    blocked_by: str | None = None
    #: what protection asks beyond being up to date (checks, reviews), the
    #: message ``BLOCKED`` would give; None when nothing (a merge queue merges
    #: a ``BEHIND`` pull request onto base as it is once this is None)
    protection_blocks: str | None = None

    @property
    def rollup_state(self) -> str | None:
        """The head commit's ``statusCheckRollup.state`` (None: no checks)."""
        return rollup(self.checks)


def check_state(status: str, conclusion: str | None) -> str:
    """A check run's state in the rollup: success, failure or pending."""
    if status != "completed":
        return "pending"
    return "success" if conclusion in _PASSING_CONCLUSIONS else "failure"


def rollup(checks: Sequence[CheckView]) -> str | None:
    """GitHub's combined state: failure/error beat pending and expected,
    which beat success; None when there is no check at all."""
    states = {c.state for c in checks}
    for state in ("error", "failure", "expected", "pending"):
        if state in states:
            return "failure" if state == "error" else state
    return "success" if states else None


def _plural(count: int, one: str, many: str) -> str:
    return one if count == 1 else many


class Gates(Merging):
    """Reading the gates: protections, checks, reviews, the merge state."""

    _EXTRA_SCHEMA = GATES_SCHEMA

    def _protection(self, repo: str, branch: str) -> Protection | None:
        row = self._db.execute(
            "SELECT * FROM protections WHERE repo = ? AND branch = ?", (repo, branch)
        ).fetchone()
        if row is None:
            return None
        return Protection(
            required_checks=tuple(json.loads(row["required_checks"])),
            strict=bool(row["strict"]),
            required_approvals=int(row["required_approvals"]),
            merge_queue=bool(row["merge_queue"]),
            enforce_admins=bool(row["enforce_admins"]),
        )

    def _is_admin(self, repo: str, login: str) -> bool:
        row = self._db.execute(
            "SELECT 1 FROM repo_admins WHERE repo = ? AND login = ?", (repo, login)
        ).fetchone()
        return row is not None

    def _admin_bypasses(self, repo: str, base: str, login: str) -> bool:
        """Does ``login``'s merge into ``base`` pass its protection? As on
        GitHub: an administrator of the repository, where the protection
        does not enforce itself on administrators (``enforce_admins``)."""
        protection = self._protection(repo, base)
        return (
            protection is not None and not protection.enforce_admins and self._is_admin(repo, login)
        )

    def _checks(self, repo: str, sha: str, required: Sequence[str]) -> tuple[CheckView, ...]:
        """The latest status of each context and the latest run of each check
        name on ``sha``, then each required name nobody reported (expected)."""
        found: dict[str, CheckView] = {}
        for row in self._db.execute(
            "SELECT context, state FROM statuses WHERE repo = ? AND sha = ? ORDER BY id",
            (repo, sha),
        ):
            name = row["context"]
            found[name] = CheckView(name, row["state"], name in required, "status")
        for row in self._db.execute(
            "SELECT name, status, conclusion FROM check_runs WHERE repo = ? AND sha = ? "
            "ORDER BY id",
            (repo, sha),
        ):
            name, status, conclusion = row["name"], row["status"], row["conclusion"]
            state = check_state(status, conclusion)
            found[name] = CheckView(
                name, state, name in required, "check_run", status=status, conclusion=conclusion
            )
        for name in required:
            found.setdefault(name, CheckView(name, "expected", True, "expected"))
        return tuple(sorted(found.values(), key=lambda c: c.name))

    def _review_decision(self, repo: str, row: sqlite3.Row, needed: int) -> str | None:
        if needed <= 0:
            return None
        latest: dict[str, str] = {}
        for review in self._db.execute(
            "SELECT login, state FROM reviews WHERE repo = ? AND number = ? ORDER BY id",
            (repo, row["number"]),
        ):
            if review["state"] in {"APPROVED", "CHANGES_REQUESTED", "DISMISSED"}:
                latest[review["login"]] = review["state"]
        if "CHANGES_REQUESTED" in latest.values():
            return "CHANGES_REQUESTED"
        approvals = sum(1 for state in latest.values() if state == "APPROVED")
        return "APPROVED" if approvals >= needed else "REVIEW_REQUIRED"

    def _conflicts(self, repo: str, base_sha: str, head_sha: str) -> bool:
        git = self._git(repo)
        bases = find_merge_base(git, [base_sha.encode(), head_sha.encode()])
        base = self._commit(repo, bases[0].decode()) if bases else None
        _, conflicts = self._three_way(
            repo, base, self._commit(repo, base_sha), self._commit(repo, head_sha)
        )
        return bool(conflicts)

    def _behind(self, repo: str, base_sha: str, head_sha: str) -> bool:
        """Is the base's head not part of the pull request's history?"""
        bases = find_merge_base(self._git(repo), [base_sha.encode(), head_sha.encode()])
        return not bases or bases[0].decode() != base_sha

    def _gate(self, repo: str, row: sqlite3.Row, *, conflicts: bool = True) -> GateView:
        """The pull request's gate. ``conflicts=False`` skips the three-way
        merge (a merge makes it anyway and names the conflicting paths)."""
        number, head_sha, base = int(row["number"]), str(row["head_sha"]), str(row["base"])
        protection = self._protection(repo, base) or Protection()
        checks = self._checks(repo, head_sha, protection.required_checks)
        decision = self._review_decision(repo, row, protection.required_approvals)
        auto = self._db.execute(
            "SELECT method FROM auto_merges WHERE repo = ? AND number = ?", (repo, number)
        ).fetchone()
        position = self._queue_position(repo, number, base)
        draft = bool(row["draft"])
        blocked = asks = self._blocking(protection, checks, decision)
        base_sha = self._head(repo, base)
        if row["state"] != "open" or base_sha is None:
            status = "UNKNOWN"
        elif draft:
            status, blocked = "DRAFT", "Pull Request is still a draft"
        elif conflicts and self._conflicts(repo, base_sha, head_sha):
            status, blocked = "DIRTY", "Pull Request is not mergeable"
        elif protection.strict and self._behind(repo, base_sha, head_sha):
            status, blocked = "BEHIND", "Head branch is out of date with the base branch."
        elif blocked is not None:
            status = "BLOCKED"
        elif any(c.state in {"failure", "error"} for c in checks):
            status = "UNSTABLE"
        else:
            status = "CLEAN"
        return GateView(
            number=number,
            head_sha=head_sha,
            merge_state_status=status,
            review_decision=decision,
            is_draft=draft,
            checks=checks,
            auto_merge_method=None if auto is None else str(auto["method"]),
            queued=position is not None,
            queue_position=position,
            blocked_by=blocked,
            protection_blocks=asks,
        )

    @staticmethod
    def _blocking(
        protection: Protection, checks: Sequence[CheckView], decision: str | None
    ) -> str | None:
        """GitHub's message for what protection still asks for, or None."""
        required = [c for c in checks if c.required]
        failing = [c.name for c in required if c.state in {"failure", "error"}]
        waiting = [c.name for c in required if c.state in {"pending", "expected"}]
        if failing:
            names = ", ".join(f'"{name}"' for name in failing)
            return f"Required status check{_plural(len(failing), '', 's')} {names} " + _plural(
                len(failing), "is failing.", "are failing."
            )
        if waiting:
            if len(waiting) == 1:
                return f'Required status check "{waiting[0]}" is expected.'
            return f"{len(waiting)} of {len(required)} required status checks are expected."
        if decision == "CHANGES_REQUESTED":
            return "Changes were requested by a reviewer with write access."
        if decision == "REVIEW_REQUIRED":
            n = protection.required_approvals
            return (
                f"At least {n} approving review{_plural(n, ' is', 's are')} required by "
                "reviewers with write access."
            )
        return None

    def _queue_position(self, repo: str, number: int, base: str) -> int | None:
        numbers = [
            int(r["number"])
            for r in self._db.execute(
                "SELECT number FROM merge_queue WHERE repo = ? AND base = ? ORDER BY seq",
                (repo, base),
            )
        ]
        return numbers.index(number) if number in numbers else None

    def _merge_refusal(self, repo: str, row: sqlite3.Row, *, via_queue: bool) -> str | None:
        """Why the forge refuses to merge the open pull request now (GitHub's
        405 message), or None. Conflicts are left to the merge itself."""
        protection = self._protection(repo, str(row["base"]))
        if protection is None and not row["draft"]:
            return None  # the common case: no protection, nothing to read
        if protection is not None and protection.merge_queue and not via_queue:
            return "Changes must be made through the merge queue"
        gate = self._gate(repo, row, conflicts=False)
        if via_queue and gate.merge_state_status == "BEHIND":
            return gate.protection_blocks  # the queue merges onto the base as it is
        return gate.blocked_by

    def _set_branch(self, repo: str, branch: str, new: str, *, expected: str | None) -> None:
        """A protected branch only moves forward: GitHub's protection refuses
        force-pushes (and deletions, in ``rules``)."""
        if expected is not None and expected != new and self._protection(repo, branch):
            bases = find_merge_base(self._git(repo), [expected.encode(), new.encode()])
            if not bases or bases[0].decode() != expected:
                raise errors.ForgeError(
                    f"{repo}: Cannot force-push to this branch: {branch!r} is protected", status=422
                )
        super()._set_branch(repo, branch, new, expected=expected)
