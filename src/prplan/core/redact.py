"""Redacted plans (``--redact-content``): file contents replaced by their
git blob sha, and put back before a plan is applied.

Separate from the plan format because it is a second reading of the same
document with its own guarantees: every digest stands only where content
was, the document is checked in full before the forge is asked for
anything, and only the blobs its own snapshot names are read. The caller
then checks the full digest, which covers everything put back.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar

from prplan.core import plan_json as pj
from prplan.core.request import ChangeRequest
from prplan.core.resolve import resolve_edits
from prplan.core.snapshot import RepoSnapshot, git_blob_sha
from prplan.errors import PlanFormatError, Problem

__all__ = ["redact", "redacted_paths", "check_redacted", "unredact"]

T = TypeVar("T")

_SHA1 = re.compile(r"^[0-9a-f]{40}$")
_SIDES = (("base_contents", "base_blobs"), ("branch_contents", "branch_blobs"))


class _Contents(Protocol):
    """What redaction reads of a plan."""

    @property
    def request(self) -> ChangeRequest: ...
    @property
    def observed(self) -> RepoSnapshot: ...
    def content(self, path: str) -> bytes | None: ...


def _is_redacted(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"redacted"}


def _digest(content: bytes) -> dict[str, str]:
    return {"redacted": git_blob_sha(content)}


def redact(document: dict[str, Any], plan: _Contents) -> None:
    """Replace every content in ``plan``'s document by its blob sha and mark
    it ``"redacted": true``; the digest stays the full plan's."""
    for path, content in plan.request.files.items():
        if isinstance(content, bytes):
            document["request"]["files"][path] = _digest(content)
    for entry in document["resolved"]:
        if entry["content"] is not None:
            entry["content"] = _digest(plan.content(entry["path"]) or b"")
    for side, _ in _SIDES:
        for path, content in getattr(plan.observed, side).items():
            if content is not None:
                document["observed"][side][path] = _digest(content)
    for blob in document.get("review", {}).get("blobs", []):
        blob["content"] = {"redacted": blob["sha"]}  # read back by sha to apply
    document["redacted"] = True


def redacted_paths(document: dict[str, Any]) -> dict[str, str]:
    """For a redacted plan document: path -> the blob sha its content must have."""
    files = (document.get("request") or {}).get("files") or {}
    return {p: c["redacted"] for p, c in files.items() if _is_redacted(c)}


def _check_shape(document: dict[str, Any], observed: object) -> None:
    request = document.get("request")
    if not isinstance(request, dict) or not isinstance(request.get("files"), dict):
        raise PlanFormatError([Problem("request.files", "is missing or not an object")])
    if not isinstance(document.get("resolved", []), list) or not isinstance(observed, dict):
        raise PlanFormatError([Problem("plan", "resolved must be a list and observed an object")])


# --- reading a redacted document without its contents ---------------------------


class _Trial:
    """The document with an empty placeholder for each digest, and the
    problems found on the way."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = copy.deepcopy(document)
        self.document.pop("redacted")
        self.problems: list[Problem] = []

    def digest_at(self, field: str, value: object) -> bool:
        """Is ``value`` a digest (noting a problem if it is not a blob sha)?"""
        if not _is_redacted(value):
            return False
        assert isinstance(value, dict)
        sha = value["redacted"]
        if not isinstance(sha, str) or not _SHA1.match(sha):
            self.problems.append(Problem(field, "is not a git blob sha (40 lowercase hex digits)"))
        return True


def _edited(document: dict[str, Any]) -> set[str]:
    files = document["request"]["files"]
    return {p for p, c in files.items() if isinstance(c, dict) and set(c) == {"edits"}}


def _trial_observed(trial: _Trial, observed: dict[str, Any], edited: set[str]) -> None:
    """A digest in the snapshot stands only for an edited file's observed
    content, and must be the blob the snapshot names at that path."""
    for side, blobs_side in _SIDES:
        contents = observed.get(side, {})
        if not isinstance(contents, dict):
            trial.problems.append(Problem(f"observed.{side}", "must be an object"))
            continue
        blobs = observed.get(blobs_side)
        for path, value in contents.items():
            field = f"observed.{side}[{path!r}]"
            if not trial.digest_at(field, value):
                continue
            trial.document["observed"][side][path] = {"text": ""}
            if path not in edited:
                trial.problems.append(Problem(field, "is not a file the request edits"))
            elif not isinstance(blobs, dict) or blobs.get(path) != value["redacted"]:
                trial.problems.append(
                    Problem(field, f"is not the blob observed.{blobs_side} names at {path!r}")
                )


def _trial_review_and_resolved(trial: _Trial, document: dict[str, Any], edited: set[str]) -> None:
    review = document.get("review")
    blobs = review.get("blobs") if isinstance(review, dict) else None
    for index, blob in enumerate(blobs if isinstance(blobs, list) else []):
        field = f"review.blobs[{index}]"
        if isinstance(blob, dict) and trial.digest_at(field, blob.get("content")):
            trial.document["review"]["blobs"][index]["content"] = {"text": ""}
            if blob["content"]["redacted"] != blob.get("sha"):
                trial.problems.append(Problem(field, "the digest is not the blob's sha"))
    for index, entry in enumerate(document.get("resolved", [])):
        field = f"resolved[{index}]"
        if isinstance(entry, dict) and trial.digest_at(field, entry.get("content")):
            trial.document["resolved"][index]["content"] = {"text": ""}
            if not isinstance(entry.get("path"), str) or entry["path"] not in edited:
                trial.problems.append(Problem(field, "is not a file the request edits"))


def check_redacted(document: dict[str, Any], cls: type[T]) -> T:
    """Check a redacted document in full before anything in it is used or
    read from the forge: each digest is a blob sha and stands only where
    content was (a request's file; an edited file's observed content, which
    must be the blob the snapshot names at that path; what its edits made of
    it), and everything else reads as a plan (of class ``cls``), with the
    contents left out."""
    _check_shape(document, document.get("observed"))
    trial = _Trial(document)
    for path, value in document["request"]["files"].items():
        if trial.digest_at(f"request.files[{path!r}]", value):
            trial.document["request"]["files"][path] = {"text": ""}
    edited = _edited(document)
    _trial_observed(trial, document.get("observed", {}), edited)
    _trial_review_and_resolved(trial, document, edited)
    if trial.problems:
        raise PlanFormatError(trial.problems)
    return pj.structure(trial.document, cls)  # every other field, named when wrong


# --- putting the contents back --------------------------------------------------


def _restore_files(document: dict[str, Any], contents: Mapping[str, bytes | None] | None) -> None:
    """The request's files from ``contents``: exactly the reviewed ones."""
    wanted = redacted_paths(document)
    if contents is None and wanted:
        raise PlanFormatError(
            [
                Problem(
                    "plan",
                    "holds digests, not contents (--redact-content): give the same --file inputs again",
                )
            ]
        )
    contents = contents or {}
    problems = []
    files = document["request"]["files"]
    for path, sha in sorted(wanted.items()):
        content = contents.get(path)
        if content is None:
            problems.append(
                Problem(f"--file {path}", "is missing: the reviewed plan writes this file")
            )
        elif git_blob_sha(content) != sha:
            problems.append(
                Problem(
                    f"--file {path}",
                    f"differs from the reviewed content (blob {git_blob_sha(content)[:10]}, plan {sha[:10]})",
                )
            )
        else:
            files[path] = pj.restored(content)
    extra = sorted(set(p for p, c in contents.items() if c is not None) - set(wanted))
    problems += [Problem(f"--file {path}", "is not in the reviewed plan") for path in extra]
    if problems:  # refuse before reading anything from the forge
        raise PlanFormatError(problems)


def _read_back(
    field: str, sha: str, read_blob: Callable[[str], bytes] | None, problems: list[Problem]
) -> dict[str, str] | None:
    """A redacted blob read back from the forge (None: a problem noted)."""
    if read_blob is None:
        problems.append(Problem(field, "is redacted: name the forge to read it back"))
        return None
    content = read_blob(sha)
    if git_blob_sha(content) != sha:
        problems.append(Problem(field, "the forge returned other content"))
    return pj.restored(content)


def _read_back_blobs(
    document: dict[str, Any], read_blob: Callable[[str], bytes] | None
) -> list[Problem]:
    """The observed files (edits only) and the review's blobs, by blob sha."""
    problems: list[Problem] = []
    observed = document.get("observed") or {}
    for side, _ in _SIDES:
        for path, value in (observed.get(side) or {}).items():
            if _is_redacted(value):
                field = f"observed.{side}[{path!r}]"
                restored = _read_back(field, value["redacted"], read_blob, problems)
                if restored is not None:
                    observed[side][path] = restored
    review = document.get("review")
    for index, blob in enumerate(review.get("blobs", []) if isinstance(review, dict) else []):
        if _is_redacted(blob.get("content")):
            restored = _read_back(f"review.blobs[{index}]", blob["sha"], read_blob, problems)
            if restored is not None:
                blob["content"] = restored
    return problems


def _redo_resolved(document: dict[str, Any]) -> list[Problem]:
    """What the edits made of the files, recomputed by the planner's own rule."""
    try:
        request = pj.CONVERTER.structure(document["request"], ChangeRequest)
        snapshot = pj.CONVERTER.structure(document["observed"], RepoSnapshot)
    except Exception as error:
        raise PlanFormatError([Problem("plan", f"cannot be restored: {error}")]) from None
    redone = {r.path: r.content for r in resolve_edits(snapshot, request)}
    problems = []
    for entry in document["resolved"]:
        if not _is_redacted(entry["content"]):
            continue
        content = redone.get(entry["path"])
        if content is None or git_blob_sha(content) != entry["content"]["redacted"]:
            problems.append(
                Problem(
                    f"resolved[{entry['path']!r}]",
                    "the edits no longer give the reviewed content",
                )
            )
        else:
            entry["content"] = pj.restored(content)
    return problems


def unredact(
    document: dict[str, Any],
    contents: Mapping[str, bytes | None] | None,
    read_blob: Callable[[str], bytes] | None,
) -> dict[str, Any]:
    """Put the contents back into a redacted plan document: the request's
    files from ``contents``; the observed files (edits only) read back by
    blob sha; what the edits made of them recomputed by the planner's own
    rule. The caller then checks the full digest, which covers it all."""
    _check_shape(document, document.get("observed", {}))
    _restore_files(document, contents)
    problems = _read_back_blobs(document, read_blob)
    if problems:
        raise PlanFormatError(problems)
    if any(_is_redacted(entry.get("content")) for entry in document.get("resolved") or []):
        problems = _redo_resolved(document)
    if problems:
        raise PlanFormatError(problems)
    return {k: v for k, v in document.items() if k != "redacted"}
