"""GitHub's words for a pull request's mergeability, as a ``Gate``.

Both forge clients call ``gate_from_github`` with what they read (GraphQL's
``mergeStateStatus``, ``reviewDecision``, ``isDraft`` and the head commit's
required checks), so they cannot disagree. ``GITHUB_GATE_TABLE`` is the
mapping as rows, written into ``specs/gates.md`` and tested against the
function row by row.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from prplan.core.snapshot import Gate

__all__ = [
    "Check",
    "gate_from_github",
    "GITHUB_GATE_TABLE",
    "FAILED_STATES",
    "PENDING_STATES",
]

#: A check's state (``StatusState`` of a commit status, or a check run's
#: ``CheckConclusionState`` once completed, else its ``CheckStatusState``)
#: that counts as failed, and as not finished yet. Any other state
#: (SUCCESS, NEUTRAL, SKIPPED) counts as passed.
FAILED_STATES = frozenset(
    {"FAILURE", "ERROR", "CANCELLED", "TIMED_OUT", "ACTION_REQUIRED", "STARTUP_FAILURE", "STALE"}
)
PENDING_STATES = frozenset({"PENDING", "EXPECTED", "QUEUED", "IN_PROGRESS", "WAITING", "REQUESTED"})


@attrs.frozen(kw_only=True)
class Check:
    """One check on the pull request's head: a commit status's context or a
    check run's name, its state in GitHub's upper-case words, and whether
    base's protection requires it (``isRequired``)."""

    name: str
    state: str
    required: bool = True


#: (what GitHub says, the gate): the issue's mapping, first match wins.
GITHUB_GATE_TABLE: tuple[tuple[str, Gate], ...] = (
    ("`isDraft` (or `mergeStateStatus` `DRAFT`)", Gate.DRAFT),
    ("`CLEAN`, `UNSTABLE` (only non-required checks failing), `HAS_HOOKS`", Gate.CLEAN),
    ("`BLOCKED` + a required check failed or errored", Gate.FAILING),
    ("`BLOCKED` + required checks pending or expected, none failed", Gate.PENDING),
    (
        "`BLOCKED` + checks fine + `reviewDecision` `REVIEW_REQUIRED` or `CHANGES_REQUESTED`",
        Gate.NEEDS_REVIEW,
    ),
    (
        "`BLOCKED` + checks fine + `reviewDecision` `APPROVED` or null (no review required):"
        " a required check nobody has reported yet (GitHub lists only reported ones),"
        " or a rule prplan does not read",
        Gate.PENDING,
    ),
    ("`BEHIND`", Gate.BEHIND),
    ("`DIRTY`", Gate.CONFLICT),
    (
        "`UNKNOWN` (GitHub still computing; observe re-reads briefly), or a status not listed",
        Gate.PENDING,
    ),
)

_CLEAN = {"CLEAN", "UNSTABLE", "HAS_HOOKS"}
_REVIEW_MISSING = {"REVIEW_REQUIRED", "CHANGES_REQUESTED"}
_PLAIN = {"BEHIND": Gate.BEHIND, "DIRTY": Gate.CONFLICT, "DRAFT": Gate.DRAFT}


def gate_from_github(
    merge_state_status: str,
    review_decision: str | None,
    is_draft: bool,
    checks: Iterable[Check],
) -> tuple[Gate, tuple[str, ...], tuple[str, ...]]:
    """The gate, and the required checks that failed and that are pending
    (names, sorted, each once), from what GitHub reports of a pull request.
    The two lists are returned whatever the gate (they are facts)."""
    required = [check for check in checks if check.required]
    failing = tuple(sorted({c.name for c in required if c.state.upper() in FAILED_STATES}))
    pending = tuple(sorted({c.name for c in required if c.state.upper() in PENDING_STATES}))
    status = merge_state_status.upper()
    if is_draft:
        return Gate.DRAFT, failing, pending
    if status in _CLEAN:
        return Gate.CLEAN, failing, pending
    if status in _PLAIN:
        return _PLAIN[status], failing, pending
    if status == "BLOCKED":
        if failing:
            return Gate.FAILING, failing, pending
        # reviewDecision is null when base requires no review: what blocks
        # is then a required check not reported yet (not in the rollup).
        if not pending and (review_decision or "").upper() in _REVIEW_MISSING:
            return Gate.NEEDS_REVIEW, failing, pending
        return Gate.PENDING, failing, pending
    return Gate.PENDING, failing, pending
