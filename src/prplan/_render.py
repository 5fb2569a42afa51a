"""Views of plans and outcomes for people: text for terminals, Markdown for
pull requests and design reviews (JSON is ``Plan.to_json``).

Rendering is pure. A plan carries the new content of every file; the old
content needed for diffs is passed in (``old``: blob sha -> bytes), read by
the caller only for the files a diff shows.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping

from ._lifecycle import mermaid, walk
from ._outcome import Outcome
from ._plan import (
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    FileChange,
    MergePullRequest,
    Plan,
    ResetBranch,
)
from ._planner import short

__all__ = ["plan_text", "outcome_text", "action_summary", "plan_markdown", "diff_paths", "Style"]

#: ``style(text, role)`` colours a piece of text; roles: title, refused,
#: action, add, modify, delete, note, ok, failed. The default adds nothing.
Style = Callable[[str, str], str]


def _plain(text: str, role: str) -> str:
    return text


#: Past this many files a Markdown plan lists changes without diffs: a
#: review page of thousands of diffs helps nobody, and each costs a read.
MAX_DIFFS = 50

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


def plan_text(plan: Plan, style: Style = _plain) -> str:
    seen = plan.observed
    lines = [
        style(
            f"prplan plan for {plan.request.repo}: {plan.request.branch} -> {seen.base}", "title"
        ),
        f"  pull requests: {plan.pr_state.value}"
        + "".join(
            f"  #{pr.number} {'merged' if pr.merged else pr.state}" for pr in seen.pull_requests
        ),
        f"  branch: {short(seen.branch_sha) if seen.branch_sha else 'absent'}"
        f"   base: {seen.base} at {short(seen.base_sha)}",
        f"  stage: {plan.start.value}   rule: {plan.rule}",
    ]
    if plan.refusal is not None:
        lines.append(
            style(f"REFUSED ({plan.refusal.code.value}): {plan.refusal.message}", "refused")
        )
    elif not plan.actions:
        lines.append(style("Nothing to do.", "ok"))
    else:
        lines.append(f"{len(plan.actions)} action(s):")
        for number, action in enumerate(plan.actions, 1):
            lines.append(style(f"  {number}. {action_summary(action)}", "action"))
            if isinstance(action, Commit):
                for change in action.files:
                    lines.append(
                        style(f"       {_MARK[change.change]} {change.path}", change.change)
                    )
            if isinstance(action, ResetBranch):
                for commit in action.dropped:
                    lines.append(
                        f"       drops {short(commit.sha)} {commit.summary!r} by {commit.author}"
                    )
            if isinstance(action, MergePullRequest):
                lines += [f"       {line}" for line in brings_lines(action)]
            lines.append(f"     why: {action.reason}")
    for note in plan.notes:
        lines.append(style(f"  note: {note}", "note"))
    lines.append(f"  digest: sha256:{plan.digest}")
    return "\n".join(lines) + "\n"


def brings_lines(action: MergePullRequest) -> list[str]:
    """What a merge brings into base besides this plan's commit: every
    commit (prplan's or not) and every path it changes."""
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
    lines = [style(f"prplan apply {outcome.repo}: {outcome.status.value}", role)]
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


# --- Markdown ---------------------------------------------------------------------


def _changes(plan: Plan) -> list[FileChange]:
    return [
        change for action in plan.actions if isinstance(action, Commit) for change in action.files
    ]


def diff_paths(plan: Plan) -> list[FileChange]:
    """The changes a Markdown view shows as diffs: those whose old content the
    caller should read (at most ``MAX_DIFFS``)."""
    return _changes(plan)[:MAX_DIFFS]


def _text(content: bytes | None) -> list[str] | None:
    if content is None:
        return []
    try:
        return content.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _size(content: bytes | None) -> str:
    return "absent" if content is None else f"{len(content)} bytes"


def _diff(change: FileChange, before: bytes | None, after: bytes | None) -> str:
    old, new = _text(before), _text(after)
    if old is None or new is None:
        return f"Binary file: {_size(before)} -> {_size(after)}.\n"
    lines = difflib.unified_diff(
        old, new,
        fromfile="/dev/null" if change.old_sha is None else f"a/{change.path}",
        tofile="/dev/null" if change.new_sha is None else f"b/{change.path}",
    )  # fmt: skip
    body = "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
    fence = "````" if "```" in body else "```"
    return f"{fence}diff\n{body}{fence}\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def merge_of(plan: Plan) -> MergePullRequest | None:
    return next((a for a in plan.actions if isinstance(a, MergePullRequest)), None)


def brought_paths(plan: Plan) -> list[str]:
    """Paths a merge in this plan brings that the plan's own commit does not
    write: their diffs (base -> branch head) are read by the caller."""
    merge = merge_of(plan)
    if merge is None:
        return []
    ours = {change.path for change in _changes(plan)}
    return [path for path in merge.brings_paths if path not in ours][:MAX_DIFFS]


def _brings_markdown(
    merge: MergePullRequest, brought: Mapping[str, tuple[bytes | None, bytes | None]]
) -> list[str]:
    out = ["### What the merge brings into base", ""]
    if merge.brings_commits:
        out += ["| commit | author | summary | prplan's |", "|---|---|---|---|"]
        for c in merge.brings_commits:
            out.append(
                f"| `{short(c.sha)}` | {_cell(c.author)} | {_cell(c.summary)} | "
                f"{'yes' if c.by_prplan else '**no**'} |"
            )
        out.append("")
    more = "" if merge.brings_complete else " (and more the forge did not list)"
    paths = ", ".join(f"`{_cell(p)}`" for p in merge.brings_paths) or "nothing"
    out += [f"Paths the merge changes on base: {paths}{more}", ""]
    for path, (before, after) in sorted(brought.items()):
        change = FileChange(
            path=path,
            old_sha=None if before is None else "old",
            new_sha=None if after is None else "new",
        )
        out += [
            f"#### `{_cell(path)}` (brought by the branch's commits)",
            "",
            _diff(change, before, after),
        ]
    return out


def plan_markdown(
    plan: Plan,
    old: Mapping[str, bytes] | None = None,
    brought: Mapping[str, tuple[bytes | None, bytes | None]] | None = None,
) -> str:
    """The plan as Markdown: state, actions with reasons, a diff per file,
    what a merge brings (with diffs of ``brought``: path -> (on base, on the
    branch)), notes, the facts it relies on, the lifecycle diagram, the digest."""
    old = old or {}
    seen, request = plan.observed, plan.request
    prs = (
        ", ".join(f"#{p.number} {'merged' if p.merged else p.state}" for p in seen.pull_requests)
        or "none"
    )
    out = [
        f"## prplan plan: `{request.repo}`, `{request.branch}` → `{seen.base}`",
        "",
        f"**Pull requests:** {plan.pr_state.value} ({prs}) · **stage:** `{plan.start.value}` · "
        f"**rule:** [`{plan.rule}`](specs/decision-table.md)",
        "",
    ]
    if plan.refusal is not None:
        out += [f"### ⛔ Refused: `{plan.refusal.code.value}`", "", plan.refusal.message, ""]
    elif not plan.actions:
        out += ["### ✅ Nothing to do", ""]
    else:
        out += ["### Actions", ""]
        for number, action in enumerate(plan.actions, 1):
            out.append(f"{number}. **{action.kind.value}**: {action_summary(action)}  ")
            out.append(f"   _why:_ {action.reason}")
        out.append("")
        changes = _changes(plan)
        shown = diff_paths(plan)
        out += ["### Changes", ""]
        for change in changes:
            out.append(f"#### `{change.path}` ({change.change})")
            out.append("")
            if change in shown and (change.old_sha is None or change.old_sha in old):
                before = None if change.old_sha is None else old[change.old_sha]
                out.append(_diff(change, before, plan.content(change.path)))
            else:
                out.append(
                    f"Blob `{short(change.old_sha)}` → `{short(change.new_sha)}` (diff not shown)."
                )
                out.append("")
    merge = merge_of(plan)
    if merge is not None and plan.refusal is None:
        out += _brings_markdown(merge, brought or {})
    if plan.notes:
        out += ["### Notes", ""] + [f"- {note}" for note in plan.notes] + [""]
    out += ["### Facts this plan relies on", "", "| fact | value |", "|---|---|"]
    out.append(f"| base `{seen.base}` | `{seen.base_sha}` |")
    out.append(f"| branch `{_cell(seen.branch)}` | `{seen.branch_sha or 'absent'}` |")
    out.append(f"| pull requests | {_cell(prs)} |")
    for path in sorted(seen.base_blobs):
        out.append(f"| `{_cell(path)}` on base | `{seen.base_blobs[path] or 'absent'}` |")
    for path in sorted(seen.branch_blobs):
        if seen.branch_sha is not None and seen.branch_sha != seen.base_sha:
            out.append(f"| `{_cell(path)}` on branch | `{seen.branch_blobs[path] or 'absent'}` |")
    out.append("")
    stages = walk(plan.start, [a.kind for a in plan.actions])
    out += [
        "### Lifecycle",
        "",
        "```mermaid",
        mermaid(highlight=stages[1:], current=plan.start, end=stages[-1]).rstrip(),
        "```",
        "",
        f"Plan digest: `sha256:{plan.digest}` (format version {plan.format_version})",
        "",
    ]
    return "\n".join(out)
