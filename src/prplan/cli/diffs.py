"""What a plan changes, file by file: each file's diff against the old
contents the plan (or its ``Review``) carries, or why it cannot be shown,
and what a merge brings into base besides prplan's own commit.

Apart from the views because text (``render``) and Markdown
(``render_md``) show the same diffs; ``View`` says which parts are shown.
"""

from __future__ import annotations

import difflib

import attrs

from prplan.core.actions import MERGE_ACTIONS, Commit, FileChange, MergeAction, Review
from prplan.core.plan import Plan
from prplan.core.text import short
from prplan.run.review import MAX_DIFFS, brought_paths

__all__ = [
    "View",
    "DEFAULT_VIEW",
    "Diff",
    "file_diff",
    "brought_diff",
    "why_missing",
    "changes_of",
    "merge_of",
    "brings_only_ours",
]


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


@attrs.frozen
class Diff:
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


def _unified(before: bytes | None, after: bytes | None, context: int) -> Diff:
    old, new = _text_of(before), _text_of(after)
    if old is None or new is None:
        return Diff(binary=f"binary file: {_size(before)} -> {_size(after)}")
    lines: list[str] = []
    for line in list(difflib.unified_diff(old, new, n=context))[2:]:  # the path is shown apart
        lines.append(line.rstrip("\n").rstrip("\r"))
        if not line.endswith("\n"):
            lines.append("\\ No newline at end of file")
    added = sum(1 for line in lines if line.startswith("+"))
    removed = sum(1 for line in lines if line.startswith("-"))
    return Diff(lines=tuple(lines), added=added, removed=removed)


def why_missing(plan: Plan, review: Review | None, view: View) -> str:
    if view.redacted:
        return "diff withheld: the plan carries digests only (--redact-content)"
    if review is None:
        return (
            f"diff unavailable: a format version {plan.format_version} plan carries no prior "
            "contents (name the forge with --local or --github-url to read them)"
        )
    return ""


def file_diff(
    plan: Plan, change: FileChange, index: int, review: Review | None, view: View, context: int
) -> Diff:
    missing = why_missing(plan, review, view)
    if missing:
        return Diff(missing=missing)
    assert review is not None
    if index >= MAX_DIFFS:
        return Diff(missing=f"diff not shown: past the first {MAX_DIFFS} files")
    before = None if change.old_sha is None else review.blob(change.old_sha)
    if change.old_sha is not None and before is None:
        return Diff(missing=f"diff unavailable: blob {short(change.old_sha)} was not read")
    return _unified(before, plan.content(change.path), context)


def brought_diff(
    review: Review | None, before: str | None, after: str | None, context: int
) -> Diff:
    assert review is not None
    old = None if before is None else review.blob(before)
    new = None if after is None else review.blob(after)
    if (before is not None and old is None) or (after is not None and new is None):
        return Diff(missing="diff unavailable: a blob was not read")
    return _unified(old, new, context)


def changes_of(plan: Plan) -> list[FileChange]:
    return [c for a in plan.actions if isinstance(a, Commit) for c in a.files]


def merge_of(plan: Plan) -> MergeAction | None:
    """The action that merges: now, or by auto-merge or the merge queue."""
    return next((a for a in plan.actions if isinstance(a, MERGE_ACTIONS)), None)


def brings_only_ours(plan: Plan, merge: MergeAction) -> bool:
    """The merge brings exactly prplan's own commit(s): every commit is
    prplan's, every path one this plan writes, and the forge listed all."""
    paths, complete = brought_paths(plan)
    return (
        merge.brings_complete
        and complete
        and not paths
        and all(c.by_prplan for c in merge.brings_commits)
    )
