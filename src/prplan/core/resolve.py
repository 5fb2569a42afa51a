"""Edit resolution: what a request's edits make of the files they edit.

The planner resolves edits first and from there on sees only contents; a
redacted plan is restored by resolving them again. Both use this module, so
the rule is written once and neither imports the other.
"""

from __future__ import annotations

import attrs

from prplan.core.actions import ResolvedFile
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import RepoSnapshot
from prplan.core.states import PRState, classify_pr_state
from prplan.edits import EditError, edit_file

__all__ = ["Resolution", "resolve", "resolve_edits"]


@attrs.frozen(kw_only=True)
class Resolution:
    """The request with its edits made contents (``effective``), what each
    edited path resolved to, the first edit that failed (path, error) and
    the edits' notes for the reviewer (a key added, the item a selector chose)."""

    effective: ChangeRequest
    resolved: tuple[ResolvedFile, ...] = ()
    failure: tuple[str, EditError] | None = None
    notes: tuple[str, ...] = ()


def resolve_edits(snapshot: RepoSnapshot, request: ChangeRequest) -> tuple[ResolvedFile, ...]:
    """What the request's edits make of the observed files (as ``plan`` does)."""
    return resolve(snapshot, request).resolved


def resolve(snapshot: RepoSnapshot, request: ChangeRequest) -> Resolution:
    """Apply the request's edits to the observed contents: of the branch when
    a pull request is open on it (the next commit goes on top of it), else of
    base (the branch is made from base). On failure the file is left as it is
    and the failure returned, for the table's ``edit_failed`` row."""
    edited = request.edited_paths
    if not edited:
        return Resolution(effective=request)
    on_branch = classify_pr_state(snapshot.pull_requests) is PRState.OPEN and bool(
        snapshot.branch_contents
    )
    current = snapshot.branch_contents if on_branch else snapshot.base_contents
    files: dict[str, bytes | None] = {}
    failure: tuple[str, EditError] | None = None
    notes: list[str] = []
    for path, content in request.files.items():
        if not isinstance(content, tuple):
            files[path] = content
            continue
        try:
            files[path], noted = edit_file(current.get(path), content, filename=path)
            notes += noted
        except EditError as error:
            failure = failure or (path, error)
            files[path] = current.get(path)
    return Resolution(
        effective=attrs.evolve(request, files=files),
        resolved=tuple(ResolvedFile(path=path, content=files[path]) for path in edited),
        failure=failure,
        notes=tuple(notes),
    )
