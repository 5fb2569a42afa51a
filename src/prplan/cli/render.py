"""Views of plans and outcomes for a terminal (Markdown is ``render_md``,
JSON is ``Plan.to_json``).

Rendering is pure. A plan carries the new content of every file and, from
format version 4, the old contents its diffs start from (``Plan.review``,
read when the plan was made); a caller that read them for an older plan
passes them as ``review``. Where a diff cannot be shown the view says why:
a redacted plan (digests only), a version 3 plan, a file past ``MAX_DIFFS``
(``diffs``). Every name a forge returned is shown with its control
characters escaped (``escape_controls``), never obeyed by the terminal.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from prplan.cli.diffs import (
    DEFAULT_VIEW,
    Diff,
    View,
    brings_only_ours,
    brought_diff,
    file_diff,
    why_missing,
)
from prplan.core import actions as p
from prplan.core.actions import Review
from prplan.core.plan import Plan
from prplan.core.text import short
from prplan.run.outcome import Outcome
from prplan.run.review import MAX_DIFFS

__all__ = [
    "plan_text",
    "outcome_text",
    "action_summary",
    "brings_lines",
    "escape_controls",
    "Style",
    "View",
    "DEFAULT_VIEW",
    "MAX_DIFFS",
]

#: ``style(text, role)`` colours a piece of text; roles: title, refused,
#: action, add, modify, delete, note, ok, failed. The default adds nothing.
Style = Callable[[str, str], str]


def _plain(text: str, role: str) -> str:
    return text


_MARK = {"add": "+", "modify": "~", "delete": "-"}


def action_summary(action: object) -> str:
    if isinstance(action, p.CreateBranch):
        return f"create branch {action.branch} at {short(action.sha)}"
    if isinstance(action, p.ResetBranch):
        return (
            f"reset branch {action.branch} from {short(action.from_sha)} to {short(action.to_sha)}"
        )
    if isinstance(action, p.Commit):
        return f"commit {len(action.files)} file(s) on {action.branch} (parent {short(action.parent_sha)})"
    if isinstance(action, p.CreatePullRequest):
        draft = " as a draft" if action.draft else ""
        return f"open pull request {action.head} -> {action.base}{draft}: {action.title!r}"
    if isinstance(action, p.METADATA_ACTIONS):
        return metadata_summary(action)
    if isinstance(action, p.MergePullRequest):
        which = f"#{action.number}" if action.number is not None else "the new pull request"
        head = short(action.expected_head_sha) if action.expected_head_sha else "the commit above"
        return f"merge {which} ({action.method}) if its head is {head}"
    if isinstance(action, p.EnableAutoMerge | p.Enqueue):
        which = f"#{action.number}" if action.number is not None else "the new pull request"
        head = short(action.expected_head_sha) if action.expected_head_sha else "the commit above"
        if isinstance(action, p.Enqueue):
            return f"enqueue {which} in the merge queue if its head is {head}"
        return f"enable auto-merge ({action.method}) on {which} if its head is {head}"
    if isinstance(action, p.DisarmMerge):
        what = (
            "take #{n} out of the merge queue"
            if action.armed == "queued"
            else ("turn off auto-merge on #{n}")
        )
        return what.format(n=action.number) + f" (armed by {action.armed_by}: prplan)"
    if isinstance(action, p.ClosePullRequest):
        return f"comment on #{action.number} and close it: {action.comment!r}"
    if isinstance(action, p.UpdatePullRequest):
        return f"rewrite the title and body of #{action.number}: {action.title!r}"
    assert isinstance(action, p.DeleteBranch)
    return f"delete branch {action.branch}"


def metadata_summary(action: p.MetadataAction) -> str:
    """One line for a pull-request metadata action."""
    which = f"#{action.number}" if action.number is not None else "the new pull request"
    if isinstance(action, p.AddLabels):
        return f"add label(s) {', '.join(action.labels)} to {which}"
    if isinstance(action, p.AddAssignees):
        return f"assign {which} to {', '.join(action.assignees)}"
    if isinstance(action, p.RequestReviewers):
        teams = [f"team {team}" for team in action.team_reviewers]
        return f"request review of {which} from {', '.join([*action.reviewers, *teams])}"
    if isinstance(action, p.SetMilestone):
        return f"set milestone {action.title!r} (#{action.milestone}) on {which}"
    return f"mark {which} ready for review"


# --- text -------------------------------------------------------------------------

_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text: str) -> str:
    """No terminal control sequences from names a forge returned."""
    return _CONTROL.sub(_escaped, text)


def _text_diff(diff: Diff, style: Style) -> list[str]:
    indent = " " * 9
    if diff.missing or diff.binary:
        return [style(f"{indent}({diff.missing or diff.binary})", "note")]
    out = []
    for line in diff.lines:
        role = (
            "add" if line.startswith("+") else
            "delete" if line.startswith("-") else
            "note" if line.startswith("@@") else ""
        )  # fmt: skip
        out.append(style(indent + line, role) if role else escape_controls(indent + line))
    return out


def plan_text(
    plan: Plan, style: Style = _plain, *, review: Review | None = None, view: View = DEFAULT_VIEW
) -> str:
    """The plan for a terminal, with a diff under each file (as ``terraform
    plan``) unless ``view.diffs`` is off. ``review``: the old contents, when
    not in the plan itself."""
    review = review or plan.review
    seen = plan.observed

    colour = style

    def safe(text: str, role: str) -> str:  # names from a forge: no control sequences
        return colour(escape_controls(text), role)

    lines = [
        safe(f"prplan plan for {plan.request.repo}: {plan.request.branch} -> {seen.base}", "title"),
        f"  pull requests: {plan.pr_state.value}"
        + "".join(
            f"  #{pr.number} {'merged' if pr.merged else pr.state}" for pr in seen.pull_requests
        ),
        f"  branch: {short(seen.branch_sha) if seen.branch_sha else 'absent'}"
        f"   base: {seen.base} at {short(seen.base_sha)}",
        f"  stage: {plan.start.value}   rule: {plan.rule}",
        *([f"  writes: {plan.writes}"] if plan.writes else []),  # who, signed or not
    ]
    lines = [lines[0], *(escape_controls(line) for line in lines[1:])]
    if plan.refusal is not None:
        lines.append(
            safe(f"REFUSED ({plan.refusal.code.value}): {plan.refusal.message}", "refused")
        )
    elif not plan.actions:
        lines.append(safe("Nothing to do.", "ok"))
    else:
        lines.append(f"{len(plan.actions)} action(s):")
        for number, action in enumerate(plan.actions, 1):
            lines.append(safe(f"  {number}. {action_summary(action)}", "action"))
            lines += _action_details(plan, action, review, view, safe)
            lines.append(escape_controls(f"     why: {action.reason}"))
    for note in plan.notes:
        lines.append(safe(f"  note: {note}", "note"))
    lines.append(f"  digest: sha256:{plan.digest}")
    return "\n".join(lines) + "\n"


def _action_details(
    plan: Plan, action: object, review: Review | None, view: View, safe: Style
) -> list[str]:
    """Under an action: a commit's files and their diffs, the commits a reset
    drops, what a merge brings."""
    lines: list[str] = []
    if isinstance(action, p.Commit):
        for index, change in enumerate(action.files):
            lines.append(safe(f"       {_MARK[change.change]} {change.path}", change.change))
            if view.diffs:
                diff = file_diff(plan, change, index, review, view, context=3)
                lines += _text_diff(diff, safe)
    if isinstance(action, p.ResetBranch):
        for commit in action.dropped:
            lines.append(
                escape_controls(
                    f"       drops {short(commit.sha)} {commit.summary!r} by {commit.author}"
                )
            )
    if isinstance(action, p.MERGE_ACTIONS):
        lines += [escape_controls(f"       {line}") for line in brings_lines(plan, action)]
        if view.diffs and not brings_only_ours(plan, action):
            lines += _text_brought(plan, review, view, safe)
    return lines


def _text_brought(plan: Plan, review: Review | None, view: View, style: Style) -> list[str]:
    missing = why_missing(plan, review, view)
    if missing:
        return [style(f"         ({missing})", "note")]
    assert review is not None
    out = []
    for brought in review.brought:
        out.append(style(f"       brought by the branch: {brought.path}", "modify"))
        out += _text_diff(brought_diff(review, brought.before, brought.after, 3), style)
    return out


def brings_lines(plan: Plan, action: p.MergeAction) -> list[str]:
    """What a merge brings into base: one line when it is exactly prplan's
    own commit, else every commit (prplan's or not) and every path."""
    if brings_only_ours(plan, action):
        return ["brings only prplan's commit: the changes above"]
    lines = [
        f"brings {short(c.sha)} {c.summary!r} by {c.author}"
        + ("" if c.by_prplan else "  [not prplan's]")
        for c in action.brings_commits
    ]
    more = "" if action.brings_complete else " (and more the forge did not list)"
    lines.append(f"changes on base: {', '.join(action.brings_paths) or 'nothing'}{more}")
    return lines


def outcome_text(outcome: Outcome, style: Style = _plain) -> str:
    role = "failed" if not outcome.ok else "ok"
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
    # Escape what the forge said first, then colour: escaping after styling
    # would print the colour codes themselves.
    safe = [escape_controls(line) for line in lines]
    return "\n".join([style(safe[0], role), *safe[1:]]) + "\n"
