"""Views of plans and change sets in Markdown, for pull requests and design
reviews (text is ``render``).

Markdown is written for a pull-request comment: one summary table, then a
section per change (in stages for a change set), long diffs folded in
``<details>``, one lifecycle diagram, the rules quoted from the decision
table. Every name that comes from a user or a forge (paths, branches,
titles, commit summaries, authors) goes through ``code``/``prose``/``cell``
so it cannot break out of its code span, table cell or block.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence

import attrs

from prplan.cli import diffs
from prplan.cli.diffs import DEFAULT_VIEW, Diff, View
from prplan.cli.render import action_summary, escape_controls
from prplan.cli.table_doc import rule_condition, rule_outcome
from prplan.core.actions import MERGE_ACTIONS, CreatePullRequest, MergeAction, Review
from prplan.core.plan import Plan
from prplan.core.states import OFF_LIFECYCLE_KINDS, ActionKind, Stage
from prplan.core.text import short

__all__ = ["plan_markdown", "changeset_markdown", "lifecycle_diagram", "code", "prose"]

# --- Markdown-safe pieces ---------------------------------------------------------


def _one_line(text: str) -> str:
    """Newlines and other control characters made visible: a name never
    starts a new line (a new paragraph, table row or heading)."""
    return escape_controls(text.replace("\r\n", "\\n").replace("\n", "\\n")).replace("\r", "\\r")


def code(text: str, *, cell: bool = False) -> str:
    """``text`` as a code span that nothing in it can close: the fence is
    longer than any run of backticks inside; in a table cell a pipe is
    escaped (GitHub splits cells before it reads code spans)."""
    text = _one_line(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip(" ") else ""
    if cell:
        text = text.replace("|", "\\|")
    return f"{fence}{pad}{text}{pad}{fence}"


_PUNCTUATION = re.compile(r"([\\`*_\[\]{}#+!~|])")


def prose(text: str, *, cell: bool = False) -> str:
    """``text`` as literal Markdown text: HTML escaped, Markdown's
    punctuation backslash-escaped, on one line (cell: same)."""
    escaped = _PUNCTUATION.sub(r"\\\1", html.escape(_one_line(text), quote=False))
    # GitHub links bare URLs and pings @handles even in escaped text: a name
    # from the forge must neither link nor notify anyone.
    return escaped.replace("@", "@\u200b").replace("://", ":\u200b//")


def _html(text: str) -> str:
    """``text`` inside an HTML element (a ``<summary>``)."""
    return html.escape(_one_line(text))


def _fenced(lines: Sequence[str], info: str = "diff") -> list[str]:
    """Lines in a fenced block no line of theirs can close."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}{info}", *lines, fence]


# --- Markdown -----------------------------------------------------------------------

#: Diffs longer than this many lines are folded in ``<details>``.
FOLD_AFTER = 12

#: Lines of context around a change in Markdown (a comment is read in full).
_CONTEXT = 2

_SHORT_KIND = {
    ActionKind.CREATE_BRANCH: "branch",
    ActionKind.RESET_BRANCH: "reset",
    ActionKind.COMMIT: "commit",
    ActionKind.CREATE_PULL_REQUEST: "open PR",
    ActionKind.MERGE_PULL_REQUEST: "merge",
    ActionKind.ENABLE_AUTO_MERGE: "auto-merge",
    ActionKind.ENQUEUE: "enqueue",
    ActionKind.DISARM_MERGE: "disarm",
    ActionKind.DELETE_BRANCH: "delete branch",
    ActionKind.CLOSE_PULL_REQUEST: "close PR",
    ActionKind.UPDATE_PULL_REQUEST: "rewrite PR",
    ActionKind.ADD_LABELS: "labels",
    ActionKind.ADD_ASSIGNEES: "assignees",
    ActionKind.REQUEST_REVIEWERS: "reviewers",
    ActionKind.SET_MILESTONE: "milestone",
    ActionKind.MARK_READY_FOR_REVIEW: "ready",
}


@attrs.frozen
class _Entry:
    plan: Plan
    review: Review | None


def _pull_request(plan: Plan) -> str:
    """The pull request a change goes through, as a summary cell."""
    merge = diffs.merge_of(plan)
    if merge is not None and merge.number is not None:
        return f"#{merge.number}"
    if any(isinstance(a, CreatePullRequest) for a in plan.actions):
        return "new"
    open_ = [p for p in plan.observed.pull_requests if p.state == "open" and not p.merged]
    return ", ".join(f"#{p.number}" for p in open_) or "—"


def _counts(entry: _Entry, view: View) -> str:
    plan = entry.plan
    changes = diffs.changes_of(plan)
    if not changes:
        return "—"
    if not view.diffs:
        return "—"
    added = removed = 0
    for index, change in enumerate(changes):
        diff = diffs.file_diff(plan, change, index, entry.review, view, _CONTEXT)
        if diff.missing:
            return "?"
        added, removed = added + diff.added, removed + diff.removed
    return f"+{added} -{removed}"


def _summary_row(number: int, stage: str | None, entry: _Entry, view: View) -> str:
    plan = entry.plan
    if plan.refusal is not None:
        actions = f"⛔ refused: {code(plan.refusal.code.value, cell=True)}"
    elif not plan.actions:
        actions = "✅ nothing to do"
    else:
        actions = " → ".join(_SHORT_KIND[a.kind] for a in plan.actions)
    cells = [
        str(number),
        *([code(stage, cell=True)] if stage is not None else []),
        code(plan.request.repo, cell=True),
        f"{code(plan.request.branch, cell=True)} → {code(plan.observed.base, cell=True)}",
        code(plan.rule, cell=True),
        actions,
        str(len(diffs.changes_of(plan))),
        _counts(entry, view),
        _pull_request(plan),
    ]
    return "| " + " | ".join(cells) + " |"


def _summary(groups: Sequence[tuple[str | None, Sequence[_Entry]]], view: View) -> list[str]:
    staged = any(name is not None for name, _ in groups)
    head = ["#", *(["stage"] if staged else []), "repository", "branch → base", "rule",
            "actions", "files", "lines", "pull request"]  # fmt: skip
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    number = 0
    for name, entries in groups:
        for entry in entries:
            number += 1
            out.append(_summary_row(number, name, entry, view))
    return [*out, ""]


def _diff_block(label: str, summary: str, diff: Diff) -> list[str]:
    """One file: its label, then its diff inline, or folded when long."""
    if diff.missing or diff.binary:
        return [f"{label}): {diff.missing or diff.binary}.", ""]
    if len(diff.lines) <= FOLD_AFTER:  # a fence may follow its label's line directly
        return [f"{label}, +{diff.added} -{diff.removed})", *_fenced(diff.lines), ""]
    return [
        f"<details><summary>{summary}, +{diff.added} -{diff.removed}, "
        f"{len(diff.lines)} lines)</summary>",
        "",
        *_fenced(diff.lines),
        "",
        "</details>",
        "",
    ]


def _file_markdown(plan: Plan, entry: _Entry, view: View) -> list[str]:
    out: list[str] = []
    for index, change in enumerate(diffs.changes_of(plan)):
        label = f"{code(change.path)} ({change.change}"
        summary = f"<code>{_html(change.path)}</code> ({change.change}"
        if not view.diffs:
            out += [f"{label})", ""]
            continue
        diff = diffs.file_diff(plan, change, index, entry.review, view, _CONTEXT)
        out += _diff_block(label, summary, diff)
    return out


def _brings_markdown(plan: Plan, entry: _Entry, merge: MergeAction, view: View) -> list[str]:
    if diffs.brings_only_ours(plan, merge):
        return []  # said in one line, on the merge's own
    out = ["**What the merge brings into base:**", ""]
    if merge.brings_commits:
        out += ["| commit | author | summary | prplan's |", "|---|---|---|---|"]
        for c in merge.brings_commits:
            out.append(
                f"| {code(short(c.sha), cell=True)} | {prose(c.author, cell=True)} | "
                f"{prose(c.summary, cell=True)} | {'yes' if c.by_prplan else '**no**'} |"
            )
        out.append("")
    more = "" if merge.brings_complete else " (and more the forge did not list)"
    paths = ", ".join(code(p) for p in merge.brings_paths) or "nothing"
    out += [f"Paths the merge changes on base: {paths}{more}", ""]
    if not view.diffs:
        return out
    missing = diffs.why_missing(plan, entry.review, view)
    if missing:
        return [*out, f"Brought by the branch's commits: {missing}.", ""]
    assert entry.review is not None
    for brought in entry.review.brought:
        diff = diffs.brought_diff(entry.review, brought.before, brought.after, _CONTEXT)
        out += _diff_block(
            f"{code(brought.path)} (brought by the branch's commits",
            f"<code>{_html(brought.path)}</code> (brought by the branch's commits",
            diff,
        )
    return out


def _facts(plan: Plan) -> str:
    """The facts the plan relies on, in one line (every blob is in the JSON)."""
    seen = plan.observed
    prs = ", ".join(f"#{p.number} {'merged' if p.merged else p.state}" for p in seen.pull_requests)
    branch = code(short(seen.branch_sha)) if seen.branch_sha else "absent"
    return (
        f"Seen: base at {code(short(seen.base_sha))}, branch {branch}, "
        f"pull requests {plan.pr_state.value}{f' ({prs})' if prs else ''}; "
        f"stage {code(plan.start.value)}; rule {code(plan.rule)}."
        + (f" Writes: {prose(plan.writes)}." if plan.writes else "")
    )


def _change_markdown(entry: _Entry, level: int, view: View) -> list[str]:
    plan, request = entry.plan, entry.plan.request
    hashes = "#" * level
    out = [
        f"{hashes} {code(request.repo)}: {code(request.branch)} → {code(plan.observed.base)}",
        "",
        _facts(plan),
        "",
    ]
    if plan.refusal is not None:
        out += [
            f"⛔ **Refused** {code(plan.refusal.code.value)}: {prose(plan.refusal.message)}",
            "",
        ]
    elif not plan.actions:
        out += ["✅ Nothing to do: the repository already is as asked.", ""]
    else:
        for number, action in enumerate(plan.actions, 1):
            ours = isinstance(action, MERGE_ACTIONS) and diffs.brings_only_ours(plan, action)
            out.append(
                f"{number}. **{action.kind.value}**: {prose(action_summary(action))}. "
                f"_Why:_ {prose(action.reason)}"
                + (
                    ". The merge brings only prplan's own commit: the changes below."
                    if ours
                    else ""
                )
            )
        out.append("")
        out += _file_markdown(plan, entry, view)
        merge = diffs.merge_of(plan)
        if merge is not None:
            out += _brings_markdown(plan, entry, merge, view)
    out += [f"- _note:_ {prose(note)}" for note in plan.notes]
    if plan.notes:
        out.append("")
    return out


def _rules_markdown(plans: Sequence[Plan]) -> list[str]:
    """The decision table's rows these plans were decided by, quoted: a
    link into prplan's own repository would not work pasted elsewhere."""
    from prplan.core.table import RULES

    used = {p.rule for p in plans}
    rows = [(n, r) for n, r in enumerate(RULES, 1) if r.name in used]
    if not rows:
        return []
    out = [
        "Rules applied, quoted from prplan's decision table (first match wins):",
        "",
        "| # | rule | when | then |",
        "|---|---|---|---|",
    ]
    for number, rule in rows:
        condition = rule_condition(rule).replace("|", "\\|")
        out.append(f"| {number} | `{rule.name}` | {condition} | {rule_outcome(rule)} |")
    return [*out, ""]


# Stage classes of the diagram, by precedence: where a plan ends, where one
# starts, what one passes through.
_CLASSES = (
    ("goal", "fill:palegreen,color:darkgreen"),
    ("start", "fill:darksalmon,color:black"),
    ("taken", "fill:azure,color:blue"),
)


def lifecycle_diagram(plans: Sequence[Plan]) -> list[str]:
    """One Mermaid diagram for every plan: the union of the paths they take
    through the lifecycle (their start, the stages passed, their end)."""
    from prplan.core.lifecycle import walk
    from prplan.core.table import TRANSITIONS

    starts: set[Stage] = set()
    taken: set[Stage] = set()
    goals: set[Stage] = set()
    for plan in plans:
        stages = walk(
            plan.start, [a.kind for a in plan.actions if a.kind not in OFF_LIFECYCLE_KINDS]
        )
        starts.add(stages[0])
        taken |= set(stages[1:-1])
        goals.add(stages[-1])
    out = [
        "```mermaid",
        "%% prplan lifecycle. start: salmon, passed: blue, end: green",
        "stateDiagram-v2",
        "  direction LR",
    ]
    out += [f"  classDef {name} {style}" for name, style in _CLASSES]
    out += [f"  [*] --> {stage.value}" for stage in Stage if stage in starts]
    out += [f"  {src.value} --> {dst.value}: {kind.value}" for kind, src, dst in TRANSITIONS]
    marked: set[Stage] = set()
    for name, members in (("goal", goals), ("start", starts), ("taken", taken)):
        chosen = [s.value for s in Stage if s in members and s not in marked]
        marked |= members
        if chosen:
            out.append(f"  class {','.join(chosen)} {name}")
    return [*out, "```", ""]


def _document(
    title: str,
    digest_line: str,
    groups: Sequence[tuple[str | None, Sequence[_Entry]]],
    view: View,
) -> str:
    entries = [e for _, group in groups for e in group]
    staged = any(name is not None for name, _ in groups)
    out = [f"# {title}", "", digest_line, ""]
    out += _summary(groups, view)
    for name, group in groups:
        if name is not None:
            out += [f"## Stage {code(name)}", ""]
        for entry in group:
            out += _change_markdown(entry, 3 if staged else 2, view)
    plans = [e.plan for e in entries]
    out += _rules_markdown(plans)
    if view.diagram:
        out += lifecycle_diagram(plans)
    return "\n".join(out).rstrip("\n") + "\n"


def _digest_line(digest: str, view: View, version: int, what: str = "Plan") -> str:
    if view.redacted:
        return (
            f"{what} digest `sha256:{digest}` as the plan states it (format version {version}); "
            "not checked: the plan carries digests only (--redact-content), and its digest "
            "covers the contents"
        )
    return f"{what} digest `sha256:{digest}` (format version {version})"


def plan_markdown(plan: Plan, *, review: Review | None = None, view: View = DEFAULT_VIEW) -> str:
    """One plan as a Markdown document: summary, the change with its diffs,
    the rule quoted, the lifecycle diagram. ``review``: the old contents,
    when the plan does not carry them."""
    entry = _Entry(plan, review or plan.review)
    request = plan.request
    title = f"prplan plan: {code(request.repo)}"
    return _document(
        title, _digest_line(plan.digest, view, plan.format_version), [(None, [entry])], view
    )


def changeset_markdown(
    stages: Sequence[tuple[str, Sequence[Plan]]],
    digest: str,
    *,
    format_version: int,
    reviews: Callable[[Plan], Review | None] = lambda plan: plan.review,
    view: View = DEFAULT_VIEW,
) -> str:
    """A change set as one Markdown document: one summary table of every
    change, then a section per stage and per change, one diagram."""
    groups = [(name, [_Entry(p, reviews(p)) for p in plans]) for name, plans in stages]
    count = sum(len(plans) for _, plans in stages)
    title = f"prplan change set: {count} change(s) in {len(stages)} stage(s)"
    return _document(title, _digest_line(digest, view, format_version, "Change set"), groups, view)
