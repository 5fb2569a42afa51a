"""Views of plans and outcomes for people: text for terminals, Markdown for
pull requests and design reviews (JSON is ``Plan.to_json``).

Rendering is pure. A plan carries the new content of every file and, from
format version 4, the old contents its diffs start from (``Plan.review``,
read when the plan was made); a caller that read them for an older plan
passes them as ``review``. Where a diff cannot be shown the view says why:
a redacted plan (digests only), a version 3 plan, a file past ``MAX_DIFFS``.

Markdown is written for a pull-request comment: one summary table, then a
section per change (in stages for a change set), long diffs folded in
``<details>``, one lifecycle diagram, the rules quoted from the decision
table. Every name that comes from a user or a forge (paths, branches,
titles, commit summaries, authors) goes through ``code``/``prose``/``cell``
so it cannot break out of its code span, table cell or block.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable, Sequence

import attrs

from prplan.core.plan import (
    Commit,
    CreateBranch,
    CreatePullRequest,
    DeleteBranch,
    FileChange,
    MergePullRequest,
    Plan,
    ResetBranch,
    Review,
)
from prplan.core.states import ActionKind, Stage
from prplan.core.text import short
from prplan.run.outcome import Outcome
from prplan.run.review import MAX_DIFFS, brought_paths

__all__ = [
    "plan_text",
    "outcome_text",
    "action_summary",
    "plan_markdown",
    "changeset_markdown",
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


@attrs.frozen(kw_only=True)
class View:
    """How a plan is shown: ``diffs`` (``--no-diff`` turns them off),
    ``diagram`` (Markdown's lifecycle diagram, ``--no-diagram``), and
    ``redacted``: the plan carries digests only (``--redact-content``), so
    every diff is withheld and its digest cannot be checked offline."""

    diffs: bool = True
    diagram: bool = True
    redacted: bool = False


#: Diffs shown, and the diagram; nothing redacted.
DEFAULT_VIEW = View()

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


# --- diffs --------------------------------------------------------------------------


@attrs.frozen
class _Diff:
    """A file's diff, or why there is none (``missing``)."""

    lines: tuple[str, ...] = ()
    added: int = 0
    removed: int = 0
    missing: str = ""
    binary: str = ""


def _text_of(content: bytes | None) -> list[str] | None:
    if content is None:
        return []
    try:
        return content.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _size(content: bytes | None) -> str:
    return "absent" if content is None else f"{len(content)} bytes"


def _unified(before: bytes | None, after: bytes | None, context: int) -> _Diff:
    old, new = _text_of(before), _text_of(after)
    if old is None or new is None:
        return _Diff(binary=f"binary file: {_size(before)} -> {_size(after)}")
    lines: list[str] = []
    for line in list(difflib.unified_diff(old, new, n=context))[2:]:  # the path is shown apart
        lines.append(line.rstrip("\n").rstrip("\r"))
        if not line.endswith("\n"):
            lines.append("\\ No newline at end of file")
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    return _Diff(lines=tuple(lines), added=added, removed=removed)


def _why_missing(plan: Plan, review: Review | None, view: View) -> str:
    if view.redacted:
        return "diff withheld: the plan carries digests only (--redact-content)"
    if review is None:
        return (
            f"diff unavailable: a format version {plan.format_version} plan carries no prior "
            "contents (name the forge with --local or --github-url to read them)"
        )
    return ""


def _file_diff(
    plan: Plan, change: FileChange, index: int, review: Review | None, view: View, context: int
) -> _Diff:
    missing = _why_missing(plan, review, view)
    if missing:
        return _Diff(missing=missing)
    assert review is not None
    if index >= MAX_DIFFS:
        return _Diff(missing=f"diff not shown: past the first {MAX_DIFFS} files")
    before = None if change.old_sha is None else review.blob(change.old_sha)
    if change.old_sha is not None and before is None:
        return _Diff(missing=f"diff unavailable: blob {short(change.old_sha)} was not read")
    return _unified(before, plan.content(change.path), context)


def _brought_diff(
    review: Review | None, before: str | None, after: str | None, context: int
) -> _Diff:
    assert review is not None
    old = None if before is None else review.blob(before)
    new = None if after is None else review.blob(after)
    if (before is not None and old is None) or (after is not None and new is None):
        return _Diff(missing="diff unavailable: a blob was not read")
    return _unified(old, new, context)


def _changes(plan: Plan) -> list[FileChange]:
    return [c for a in plan.actions if isinstance(a, Commit) for c in a.files]


def merge_of(plan: Plan) -> MergePullRequest | None:
    return next((a for a in plan.actions if isinstance(a, MergePullRequest)), None)


def _brings_only_ours(plan: Plan, merge: MergePullRequest) -> bool:
    """The merge brings exactly prplan's own commit(s): every commit is
    prplan's, every path one this plan writes, and the forge listed all."""
    paths, complete = brought_paths(plan)
    return (
        merge.brings_complete
        and complete
        and not paths
        and all(c.by_prplan for c in merge.brings_commits)
    )


# --- text -------------------------------------------------------------------------


def _text_safe(text: str) -> str:
    """No terminal control sequences from names a forge returned."""
    return _CONTROL.sub(_escaped, text)


_CONTROL = re.compile(
    r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)


def _text_diff(diff: _Diff, style: Style) -> list[str]:
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
        out.append(style(indent + line, role) if role else _text_safe(indent + line))
    return out


def plan_text(
    plan: Plan, style: Style = _plain, *, review: Review | None = None, view: View = View()
) -> str:
    """The plan for a terminal, with a diff under each file (as ``terraform
    plan``) unless ``view.diffs`` is off. ``review``: the old contents, when
    not in the plan itself."""
    review = review or plan.review
    seen = plan.observed

    colour = style

    def safe(text: str, role: str) -> str:  # names from a forge: no control sequences
        return colour(_text_safe(text), role)

    lines = [
        safe(f"prplan plan for {plan.request.repo}: {plan.request.branch} -> {seen.base}", "title"),
        f"  pull requests: {plan.pr_state.value}"
        + "".join(
            f"  #{pr.number} {'merged' if pr.merged else pr.state}" for pr in seen.pull_requests
        ),
        f"  branch: {short(seen.branch_sha) if seen.branch_sha else 'absent'}"
        f"   base: {seen.base} at {short(seen.base_sha)}",
        f"  stage: {plan.start.value}   rule: {plan.rule}",
    ]
    lines = [lines[0], *(_text_safe(line) for line in lines[1:])]
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
            if isinstance(action, Commit):
                for index, change in enumerate(action.files):
                    lines.append(
                        safe(f"       {_MARK[change.change]} {change.path}", change.change)
                    )
                    if view.diffs:
                        diff = _file_diff(plan, change, index, review, view, context=3)
                        lines += _text_diff(diff, safe)
            if isinstance(action, ResetBranch):
                for commit in action.dropped:
                    lines.append(
                        _text_safe(
                            f"       drops {short(commit.sha)} {commit.summary!r} by {commit.author}"
                        )
                    )
            if isinstance(action, MergePullRequest):
                lines += [_text_safe(f"       {line}") for line in brings_lines(plan, action)]
                if view.diffs and not _brings_only_ours(plan, action):
                    lines += _text_brought(plan, review, view, safe)
            lines.append(_text_safe(f"     why: {action.reason}"))
    for note in plan.notes:
        lines.append(safe(f"  note: {note}", "note"))
    lines.append(f"  digest: sha256:{plan.digest}")
    return "\n".join(lines) + "\n"


def _text_brought(plan: Plan, review: Review | None, view: View, style: Style) -> list[str]:
    missing = _why_missing(plan, review, view)
    if missing:
        return [style(f"         ({missing})", "note")]
    assert review is not None
    out = []
    for brought in review.brought:
        out.append(style(f"       brought by the branch: {brought.path}", "modify"))
        out += _text_diff(_brought_diff(review, brought.before, brought.after, 3), style)
    return out


def brings_lines(plan: Plan, action: MergePullRequest) -> list[str]:
    """What a merge brings into base: one line when it is exactly prplan's
    own commit, else every commit (prplan's or not) and every path."""
    if _brings_only_ours(plan, action):
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
    safe = [_text_safe(line) for line in lines]
    return "\n".join([style(safe[0], role), *safe[1:]]) + "\n"


# --- Markdown-safe pieces ---------------------------------------------------------


def _one_line(text: str) -> str:
    """Newlines and other control characters made visible: a name never
    starts a new line (a new paragraph, table row or heading)."""
    return _CONTROL.sub(_escaped, text.replace("\r\n", "\\n").replace("\n", "\\n")).replace(
        "\r", "\\r"
    )


def _escaped(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


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
    ActionKind.DELETE_BRANCH: "delete branch",
}


@attrs.frozen
class _Entry:
    plan: Plan
    review: Review | None


def _pull_request(plan: Plan) -> str:
    """The pull request a change goes through, as a summary cell."""
    merge = merge_of(plan)
    if merge is not None and merge.number is not None:
        return f"#{merge.number}"
    if any(isinstance(a, CreatePullRequest) for a in plan.actions):
        return "new"
    open_ = [p for p in plan.observed.pull_requests if p.state == "open" and not p.merged]
    return ", ".join(f"#{p.number}" for p in open_) or "—"


def _counts(entry: _Entry, view: View) -> str:
    plan = entry.plan
    changes = _changes(plan)
    if not changes:
        return "—"
    if not view.diffs:
        return "—"
    added = removed = 0
    for index, change in enumerate(changes):
        diff = _file_diff(plan, change, index, entry.review, view, _CONTEXT)
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
        str(len(_changes(plan))),
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


def _diff_block(label: str, summary: str, diff: _Diff) -> list[str]:
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
    for index, change in enumerate(_changes(plan)):
        label = f"{code(change.path)} ({change.change}"
        summary = f"<code>{_html(change.path)}</code> ({change.change}"
        if not view.diffs:
            out += [f"{label})", ""]
            continue
        diff = _file_diff(plan, change, index, entry.review, view, _CONTEXT)
        out += _diff_block(label, summary, diff)
    return out


def _brings_markdown(plan: Plan, entry: _Entry, merge: MergePullRequest, view: View) -> list[str]:
    if _brings_only_ours(plan, merge):
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
    missing = _why_missing(plan, entry.review, view)
    if missing:
        return [*out, f"Brought by the branch's commits: {missing}.", ""]
    assert entry.review is not None
    for brought in entry.review.brought:
        diff = _brought_diff(entry.review, brought.before, brought.after, _CONTEXT)
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
            ours = isinstance(action, MergePullRequest) and _brings_only_ours(plan, action)
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
        merge = merge_of(plan)
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
    from prplan.tools.specgen import _condition, _outcome

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
        condition = _condition(rule).replace("|", "\\|")
        out.append(f"| {number} | `{rule.name}` | {condition} | {_outcome(rule)} |")
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
        stages = walk(plan.start, [a.kind for a in plan.actions])
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


def plan_markdown(plan: Plan, *, review: Review | None = None, view: View = View()) -> str:
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
    view: View = View(),
) -> str:
    """A change set as one Markdown document: one summary table of every
    change, then a section per stage and per change, one diagram."""
    groups = [(name, [_Entry(p, reviews(p)) for p in plans]) for name, plans in stages]
    count = sum(len(plans) for _, plans in stages)
    title = f"prplan change set: {count} change(s) in {len(stages)} stage(s)"
    return _document(title, _digest_line(digest, view, format_version, "Change set"), groups, view)
