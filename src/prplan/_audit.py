"""The audit trail: one JSON line per action executed, one for the outcome.

Appended to a file (``prplan apply --audit-log FILE``), so several runs
accumulate; each line stands alone. A line carries the time, the repository,
the plan's digest, the action and its reason, the result, shas and pull
request. Never a token (the audit log never sees one) and never file
contents (only blob shas).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import IO, Any

from ._outcome import ActionResult, Outcome, Reporter
from ._plan import Commit, CreatePullRequest, MergePullRequest, Plan

__all__ = ["AuditLog"]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class AuditLog(Reporter):
    """A ``Reporter`` that appends JSON lines to ``path``."""

    def __init__(self, path: str | Path, plan: Plan) -> None:
        self.path = Path(path)
        self.plan = plan
        self._file: IO[str] = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, sort_keys=True) + "\n")
        self._file.flush()  # a crash must not lose the lines of what was done

    def action_finished(self, repo: str, action: object, result: ActionResult) -> None:
        record: dict[str, Any] = {
            "type": "action",
            "time": _now(),
            "repo": repo,
            "plan_digest": self.plan.digest,
            "index": result.index,
            "action": result.kind.value,
            "reason": getattr(action, "reason", ""),
            "result": result.status.value,
            "detail": result.detail,
            "sha": result.sha,
            "pull_request": result.pull_request,
        }
        if isinstance(action, Commit):
            record["branch"] = action.branch
            record["parent_sha"] = action.parent_sha
            record["files"] = [
                {"path": c.path, "change": c.change, "old_sha": c.old_sha, "new_sha": c.new_sha}
                for c in action.files
            ]
        elif isinstance(action, CreatePullRequest):
            record["head"], record["base"], record["title"] = action.head, action.base, action.title
        elif isinstance(action, MergePullRequest):
            record["method"] = action.method
        self._write(record)

    def finished(self, outcome: Outcome) -> None:
        self._write(
            {
                "type": "outcome",
                "time": _now(),
                "repo": outcome.repo,
                "plan_digest": outcome.plan_digest,
                "status": outcome.status.value,
                "pull_request": outcome.pull_request,
                "pull_request_url": outcome.pull_request_url,
                "commit_sha": outcome.commit_sha,
                "merge_sha": outcome.merge_sha,
                "error": outcome.error,
                "error_type": outcome.error_type,
                "requests": {"reads": outcome.requests.reads, "writes": outcome.requests.writes},
            }
        )
        self._file.close()

    def refused_before_apply(self, repo: str, error: Exception) -> None:
        """A stale plan never reaches ``apply``'s actions: still on the record."""
        self._write(
            {
                "type": "outcome",
                "time": _now(),
                "repo": repo,
                "plan_digest": self.plan.digest,
                "status": "stale",
                "error": str(error),
                "error_type": type(error).__name__,
            }
        )
        self._file.close()
