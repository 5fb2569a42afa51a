"""What ``apply`` did: one ``Outcome`` per plan, one ``ActionResult`` per action."""

from __future__ import annotations

import enum
import json
from typing import Any

import attrs
import cattrs

from prplan.core.actions import Refusal
from prplan.core.states import ActionKind
from prplan.errors import ApplyFailedError, RefusedError
from prplan.run.port import RequestCount

__all__ = ["OutcomeStatus", "ActionStatus", "ActionResult", "Outcome", "Reporter"]


class OutcomeStatus(enum.StrEnum):
    CREATED = "created"  # a pull request was opened (and not merged)
    UPDATED = "updated"  # an open pull request got a new commit
    MERGED = "merged"  # a pull request was merged
    #: GitHub's native auto-merge is on: GitHub merges once the gate is clean
    AUTO_MERGE_ENABLED = "auto_merge_enabled"
    QUEUED = "queued"  # the pull request is in base's merge queue
    #: prplan turned off the merge it had armed (its branch holds commits
    #: prplan did not make) and did nothing else: not ok (the command exits 3)
    DISARMED = "disarmed"
    COMMITTED = "committed"  # a commit landed without a pull request
    #: prplan closed its own pull request: base already held the change
    #: (``close_superseded``)
    CLOSED = "closed"
    UNCHANGED = "unchanged"  # nothing to do
    REFUSED = "refused"  # the plan was a refusal; nothing was done
    FAILED = "failed"  # an action failed; see the action results


class ActionStatus(enum.StrEnum):
    DONE = "done"
    FAILED = "failed"
    NOT_RUN = "not_run"


@attrs.frozen(kw_only=True)
class ActionResult:
    index: int
    kind: ActionKind
    status: ActionStatus
    detail: str = ""
    sha: str | None = None
    pull_request: int | None = None
    #: who wrote, as the forge named it in its answer to this write (a
    #: commit's committer, a pull request's author); None when the answer
    #: names no one (branch moves, merges, deletions) or was lost
    actor: str | None = None


@attrs.frozen(kw_only=True)
class Outcome:
    repo: str
    status: OutcomeStatus
    plan_digest: str
    actions: tuple[ActionResult, ...] = ()
    pull_request: int | None = None
    pull_request_url: str = ""
    commit_sha: str | None = None
    merge_sha: str | None = None
    error: str = ""
    error_type: str = ""
    requests: RequestCount = attrs.field(factory=RequestCount)
    #: the planner's refusal, when ``status`` is ``refused``
    refusal: Refusal | None = None

    @property
    def ok(self) -> bool:
        return self.status not in {
            OutcomeStatus.FAILED,
            OutcomeStatus.REFUSED,
            OutcomeStatus.DISARMED,
        }

    def raise_for_status(self) -> None:
        """For callers who prefer exceptions: raise if refused, failed or disarmed."""
        if self.status is OutcomeStatus.REFUSED:
            raise RefusedError(
                self.refusal, f"{self.repo}: refused ({self.error_type}): {self.error}"
            )
        if self.status in {OutcomeStatus.FAILED, OutcomeStatus.DISARMED}:
            message = f"{self.repo}: failed ({self.error_type}): {self.error}"
            raise ApplyFailedError(self, self.error_type, message)

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = cattrs.unstructure(self)
        return document

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, indent=2) + "\n"


class Reporter:
    """Progress and audit hooks (resolvelib's reporter idea): subclass and
    override what you need; every hook is a no-op here."""

    def action_started(self, repo: str, index: int, action: object) -> None:
        """An action is about to run."""

    def action_finished(self, repo: str, action: object, result: ActionResult) -> None:
        """An action ran (done or failed)."""

    def finished(self, outcome: Outcome) -> None:
        """``apply`` is returning this outcome."""
