"""Views of plans and outcomes for people: plain text for terminals.

(JSON is ``Plan.to_json``; Markdown with diffs comes with the command-line
issue.) Rendering is pure: it reads the plan and nothing else.
"""

from __future__ import annotations

from ._outcome import Outcome
from ._plan import (
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    MergePullRequest,
    Plan,
    ResetBranch,
)
from ._planner import short

__all__ = ["plan_text", "outcome_text", "action_summary"]

_MARK = {"add": "+", "modify": "~", "delete": "-"}


def action_summary(action: object) -> str:
    if isinstance(action, CreateBranch):
        return f"create branch {action.branch} at {short(action.sha)}"
    if isinstance(action, ResetBranch):
        return (
            f"reset branch {action.branch} from {short(action.from_sha)} to {short(action.to_sha)}"
        )
    if isinstance(action, Commit):
        return f"commit {len(action.files)} file(s) on {action.branch} (parent {short(action.parent_sha)})"
    if isinstance(action, CreatePullRequest):
        return f"open pull request {action.head} -> {action.base}: {action.title!r}"
    if isinstance(action, MergePullRequest):
        which = f"#{action.number}" if action.number is not None else "the new pull request"
        head = short(action.expected_head_sha) if action.expected_head_sha else "the commit above"
        return f"merge {which} ({action.method}) if its head is {head}"
    assert isinstance(action, DeleteBranch)
    return f"delete branch {action.branch}"


def plan_text(plan: Plan) -> str:
    seen = plan.observed
    lines = [
        f"prplan plan for {plan.request.repo}: {plan.request.branch} -> {seen.base}",
        f"  pull requests: {plan.pr_state.value}"
        + "".join(
            f"  #{pr.number} {'merged' if pr.merged else pr.state}" for pr in seen.pull_requests
        ),
        f"  branch: {short(seen.branch_sha) if seen.branch_sha else 'absent'}"
        f"   base: {seen.base} at {short(seen.base_sha)}",
        f"  stage: {plan.start.value}   rule: {plan.rule}",
    ]
    if plan.refusal is not None:
        lines.append(f"REFUSED ({plan.refusal.code.value}): {plan.refusal.message}")
    elif not plan.actions:
        lines.append("Nothing to do.")
    else:
        lines.append(f"{len(plan.actions)} action(s):")
        for number, action in enumerate(plan.actions, 1):
            lines.append(f"  {number}. {action_summary(action)}")
            if isinstance(action, Commit):
                for change in action.files:
                    lines.append(f"       {_MARK[change.change]} {change.path}")
            if isinstance(action, ResetBranch):
                for commit in action.dropped:
                    lines.append(
                        f"       drops {short(commit.sha)} {commit.summary!r} by {commit.author}"
                    )
            lines.append(f"     why: {action.reason}")
    for note in plan.notes:
        lines.append(f"  note: {note}")
    lines.append(f"  digest: sha256:{plan.digest}")
    return "\n".join(lines) + "\n"


def outcome_text(outcome: Outcome) -> str:
    lines = [f"prplan apply {outcome.repo}: {outcome.status.value}"]
    for result in outcome.actions:
        extra = []
        if result.sha:
            extra.append(short(result.sha))
        if result.pull_request is not None:
            extra.append(f"#{result.pull_request}")
        detail = f" ({', '.join(extra)})" if extra else ""
        lines.append(f"  {result.index + 1}. {result.kind.value}: {result.status.value}{detail}")
        if result.detail:
            lines.append(f"     {result.detail}")
    if outcome.pull_request is not None:
        lines.append(f"  pull request: #{outcome.pull_request} {outcome.pull_request_url}".rstrip())
    if outcome.error:
        lines.append(f"  error ({outcome.error_type}): {outcome.error}")
    lines.append(
        f"  requests: {outcome.requests.reads} read(s), {outcome.requests.writes} write(s)"
    )
    return "\n".join(lines) + "\n"
