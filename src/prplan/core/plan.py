"""Plans as data: actions, refusals, and the plan document.

A plan is a frozen value. Its JSON form is canonical (sorted keys, fixed
separators, UTF-8), so equal plans are equal bytes, and its ``digest`` is the
sha256 of that canonical form without the digest (and without the optional
``signature``: an HMAC-SHA256 of the digest with the plan key, see
``sign``). A plan carries the
request (file contents included: text as text, other bytes as base64), the
snapshot it was made from (the facts it relies on), the rule that decided it
and every action with its reason. ``Plan.from_json`` checks the format
version and the digest and re-validates the request, so a tampered or
hand-edited plan is refused before anything is applied. (A digest anyone
can recompute; what else guards a plan is in ``_integrity`` and
docs/plan-format.md.)
"""

from __future__ import annotations

import base64
import binascii
import copy
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import cattrs
from cattrs.strategies import configure_tagged_union

from prplan.core.request import ChangeRequest
from prplan.core.snapshot import CommitInfo, RepoSnapshot, git_blob_sha
from prplan.core.states import ActionKind, PRState, RefusalCode, Stage
from prplan.errors import InvalidRequestError, PlanFormatError, PlanIntegrityError, Problem

__all__ = [
    "FORMAT_VERSION",
    "FileChange",
    "CreateBranch",
    "ResetBranch",
    "Commit",
    "CreatePullRequest",
    "MergePullRequest",
    "DeleteBranch",
    "Action",
    "Refusal",
    "ResolvedFile",
    "Blob",
    "BroughtFile",
    "Review",
    "Plan",
    "canonical_json",
    "PLAN_KEY_ENV",
    "sign",
    "check_signature",
    "signature_status",
]

#: The environment variable the command reads the plan key from.
PLAN_KEY_ENV = "PRPLAN_PLAN_KEY"

_SHA1 = re.compile(r"^[0-9a-f]{40}$")


def sign(digest: str, key: bytes) -> str:
    """The plan's ``signature``: HMAC-SHA256 of its digest (hex) with ``key``."""
    return hmac.new(key, digest.encode("ascii"), hashlib.sha256).hexdigest()


def _signature_verifies(document: Mapping[str, Any], key: bytes) -> bool:
    digest, signature = document.get("digest"), document.get("signature")
    if not isinstance(digest, str) or not isinstance(signature, str) or not digest.isascii():
        return False
    return hmac.compare_digest(sign(digest, key), signature)


def check_signature(document: Mapping[str, Any], key: bytes) -> None:
    """With a plan key, only a plan signed with it is read: checked first,
    before anything else in the document is used."""
    if "signature" not in document:
        raise PlanIntegrityError(
            [
                Problem(
                    "signature",
                    f"is missing, and a plan key is set ({PLAN_KEY_ENV}): only plans signed "
                    "with it are applied. Make the plan again with the key set",
                )
            ]
        )
    if not _signature_verifies(document, key):
        raise PlanIntegrityError(
            [
                Problem(
                    "signature",
                    f"does not verify with the plan key ({PLAN_KEY_ENV}): the plan was changed "
                    "after it was signed, or signed with another key. Make and review a new plan",
                )
            ]
        )


def signature_status(document: object, key: bytes | None) -> str:
    """One line for a reviewer: is the plan signed, and does it verify."""
    signed = isinstance(document, dict) and "signature" in document
    if key is None:
        return f"{'signed' if signed else 'unsigned'}; not checked: {PLAN_KEY_ENV} not set"
    if not signed:
        return f"unsigned; apply refuses it while {PLAN_KEY_ENV} is set"
    assert isinstance(document, dict)
    if _signature_verifies(document, key):
        return f"signed; verified with {PLAN_KEY_ENV}"
    return (
        f"signed; DOES NOT VERIFY with {PLAN_KEY_ENV} (changed after signing, or another "
        "key): apply refuses it"
    )


#: Bumped whenever the meaning of a plan document changes. A plan written by
#: a newer prplan is refused rather than half-understood.
#: 2: structured edits (request.files edits, resolved, observed contents);
#: 3: path kinds, sealed commits, pull requests into other bases, what a merge brings;
#: 4: ``review``, the contents a reviewer's diffs start from (version 3 still loads)
FORMAT_VERSION = 4

#: The versions this prplan reads, applies and shows.
READABLE_VERSIONS = (3, 4)


@attrs.frozen(kw_only=True)
class FileChange:
    """One path in a commit: its blob before and after (``None``: absent)."""

    path: str
    old_sha: str | None
    new_sha: str | None

    @property
    def change(self) -> str:
        if self.old_sha is None:
            return "add"
        if self.new_sha is None:
            return "delete"
        return "modify"


@attrs.frozen(kw_only=True)
class CreateBranch:
    kind = ActionKind.CREATE_BRANCH
    branch: str
    sha: str
    reason: str


@attrs.frozen(kw_only=True)
class ResetBranch:
    """Point an existing branch back at base; ``dropped`` names the commits
    that leave the branch (each either prplan's, or preserved elsewhere,
    unless the request said ``branch_policy='reset'``)."""

    kind = ActionKind.RESET_BRANCH
    branch: str
    from_sha: str
    to_sha: str
    dropped: tuple[CommitInfo, ...] = ()
    reason: str


@attrs.frozen(kw_only=True)
class Commit:
    """One commit of every changed path on ``branch``, whose head must be
    ``parent_sha`` when it is made (compare-and-swap)."""

    kind = ActionKind.COMMIT
    branch: str
    parent_sha: str
    files: tuple[FileChange, ...]
    message: str
    reason: str


@attrs.frozen(kw_only=True)
class CreatePullRequest:
    kind = ActionKind.CREATE_PULL_REQUEST
    head: str
    base: str
    title: str
    body: str
    reason: str


@attrs.frozen(kw_only=True)
class MergePullRequest:
    """Merge a pull request only if its head is still the expected commit.

    ``number=None``: the pull request this plan opens. ``expected_head_sha=None``:
    the commit this plan makes (its sha is only known once made)."""

    kind = ActionKind.MERGE_PULL_REQUEST
    number: int | None
    expected_head_sha: str | None
    method: str
    reason: str
    #: what the merge brings into base besides this plan's own commit: the
    #: head's commits beyond base (prplan's or not), oldest first
    brings_commits: tuple[CommitInfo, ...] = ()
    #: every path the merge changes on base (this plan's commit included),
    #: sorted; ``brings_complete`` is False when the forge listed only some
    brings_paths: tuple[str, ...] = ()
    brings_complete: bool = True


@attrs.frozen(kw_only=True)
class DeleteBranch:
    kind = ActionKind.DELETE_BRANCH
    branch: str
    reason: str


Action = CreateBranch | ResetBranch | Commit | CreatePullRequest | MergePullRequest | DeleteBranch


@attrs.frozen(kw_only=True)
class ResolvedFile:
    """What a request's edits made of a file, from the observed content."""

    path: str
    content: bytes | None


@attrs.frozen(kw_only=True)
class Blob:
    """A file's content by its git blob sha: what a diff starts (or, for a
    path a merge brings, ends) from. ``git_blob_sha(content) == sha`` is
    checked when a plan is read, so the text a reviewer sees is the blob the
    plan names."""

    sha: str
    content: bytes


@attrs.frozen(kw_only=True)
class BroughtFile:
    """A path a merge brings into base besides this plan's own commit: its
    blob on base and at the branch head (``None``: absent)."""

    path: str
    before: str | None
    after: str | None


@attrs.frozen(kw_only=True)
class Review:
    """What a reviewer needs besides the plan's own contents, read once when
    the plan was made (format version 4) so that showing it needs no forge:
    the old blobs of the files it changes, and the paths a merge brings with
    their blobs. Facts for people, not inputs of the planner: ``check_plan``
    re-derives everything else; the digest (and signature) cover this too."""

    blobs: tuple[Blob, ...] = ()
    brought: tuple[BroughtFile, ...] = ()
    #: False when a file was left out (past ``MAX_DIFFS``, or a merge's
    #: paths the forge listed only in part)
    complete: bool = True

    def blob(self, sha: str) -> bytes | None:
        for blob in self.blobs:
            if blob.sha == sha:
                return blob.content
        return None


@attrs.frozen(kw_only=True)
class Refusal:
    """Why the planner will not act, with what it concerns."""

    code: RefusalCode
    message: str
    pull_requests: tuple[int, ...] = ()
    paths: tuple[str, ...] = ()
    commits: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Plan:
    """What prplan will do to one repository, and why.

    ``pr_state``, ``start`` and ``rule`` say what was seen and which row of
    the decision table decided; ``actions`` run in order; ``notes`` say what a
    reviewer should know; ``refusal`` is set when nothing may be done."""

    request: ChangeRequest
    observed: RepoSnapshot
    pr_state: PRState
    start: Stage
    rule: str
    actions: tuple[Action, ...] = ()
    notes: tuple[str, ...] = ()
    refusal: Refusal | None = None
    #: the contents the request's edits resolved to (edited paths only)
    resolved: tuple[ResolvedFile, ...] = ()
    format_version: int = FORMAT_VERSION
    #: what a reviewer's diffs need (None: not read, or a version 3 plan;
    #: then left out of the document, so a version 3 plan keeps its digest)
    review: Review | None = None

    def content(self, path: str) -> bytes | None:
        """The content this plan writes at ``path`` (None: deleted)."""
        for resolved in self.resolved:
            if resolved.path == path:
                return resolved.content
        content = self.request.files[path]
        assert not isinstance(content, tuple), f"{path} is edited but not resolved"
        return content

    @property
    def is_empty(self) -> bool:
        """Nothing to do (and nothing refused): the repository already is as
        the request asks."""
        return not self.actions and self.refusal is None

    @property
    def has_changes(self) -> bool:
        return bool(self.actions)

    @property
    def digest(self) -> str:
        return hashlib.sha256(canonical_json(_CONVERTER.unstructure(self))).hexdigest()

    def to_dict(self, *, redact: bool = False, key: bytes | None = None) -> dict[str, Any]:
        """The plan document. ``redact=True``: file contents are replaced by
        their git blob sha (``{"redacted": sha}``) and ``"redacted": true`` is
        set; the digest stays the full plan's, so supplying the same files
        again reproduces it exactly (``from_json(..., contents=...)``).
        ``key``: add ``signature`` (see ``sign``), outside the digested body."""
        document: dict[str, Any] = _CONVERTER.unstructure(self)
        document["digest"] = self.digest
        if key is not None:
            document["signature"] = sign(self.digest, key)
        if redact:
            for path, content in self.request.files.items():
                if isinstance(content, bytes):
                    document["request"]["files"][path] = {"redacted": git_blob_sha(content)}
            for entry in document["resolved"]:
                if entry["content"] is not None:
                    entry["content"] = {
                        "redacted": git_blob_sha(self.content(entry["path"]) or b"")
                    }
            for side in ("base_contents", "branch_contents"):
                observed = getattr(self.observed, side)
                for path, content in observed.items():
                    if content is not None:
                        document["observed"][side][path] = {"redacted": git_blob_sha(content)}
            for blob in document.get("review", {}).get("blobs", []):
                blob["content"] = {"redacted": blob["sha"]}  # read back by sha to apply
            document["redacted"] = True
        return document

    def to_json(self, *, redact: bool = False, key: bytes | None = None) -> str:
        """The plan document: sorted keys, two-space indent, ending in a newline."""
        return (
            json.dumps(
                self.to_dict(redact=redact, key=key), sort_keys=True, indent=2, ensure_ascii=False
            )
            + "\n"
        )

    @classmethod
    def from_json(
        cls,
        text: str | bytes,
        *,
        contents: Mapping[str, bytes | None] | None = None,
        read_blob: Callable[[str], bytes] | None = None,
        key: bytes | None = None,
    ) -> Plan:
        """Read a plan document. A redacted one needs ``contents``: the same
        files again (path -> bytes); and, when it edits files, ``read_blob``
        (sha -> bytes, from the forge) to read the observed files back and
        redo the edits. Everything is checked against the plan's digest.

        ``key`` (the plan key): the document must carry a ``signature`` that
        verifies with it (``PlanIntegrityError`` otherwise), checked before
        anything else. A redacted document's structure is checked in full
        before ``read_blob`` is called, and only the blobs its own snapshot
        names for its edited paths are read."""
        try:
            document = json.loads(text)
        except (ValueError, UnicodeDecodeError) as error:
            raise PlanFormatError([Problem("plan", f"is not JSON: {error}")]) from None
        except RecursionError:  # hostile nesting: refuse, never a traceback
            raise PlanFormatError(
                [Problem("plan", "is not JSON a plan can be read from: nested too deeply")]
            ) from None
        if not isinstance(document, dict):
            raise PlanFormatError([Problem("plan", "must be a JSON object")])
        if key is not None:
            check_signature(document, key)
        if document.get("redacted") is True:
            _check_redacted(document)
            document = _unredact(document, contents, read_blob)
        return cls.from_dict(document)

    @classmethod
    def from_dict(cls, document: object) -> Plan:
        plan = _structure(document)
        assert isinstance(document, dict)
        problems = _review_problems(plan)
        if problems:
            raise PlanFormatError(problems)
        claimed = document.get("digest")
        if claimed != plan.digest:
            raise PlanFormatError(
                [
                    Problem(
                        "digest",
                        f"is {claimed!r} but the content hashes to {plan.digest!r}: the plan was "
                        "edited after it was made. Make and review a new plan",
                    )
                ]
            )
        return plan


#: Past this many files a plan lists changes without diffs: a review page
#: of thousands of diffs helps nobody, and each costs a read.
MAX_DIFFS = 50


def brought_paths(plan: Plan) -> tuple[list[str], bool]:
    """Paths a merge in this plan brings that its own commit does not write
    (their diffs are base -> branch head), and whether that is all of them."""
    merge = next((a for a in plan.actions if isinstance(a, MergePullRequest)), None)
    if merge is None:
        return [], True
    ours = {c.path for a in plan.actions if isinstance(a, Commit) for c in a.files}
    theirs = [path for path in merge.brings_paths if path not in ours]
    return theirs[:MAX_DIFFS], len(theirs) <= MAX_DIFFS


def _review_problems(plan: Plan) -> list[Problem]:
    """A plan's review contents must be what they claim: each blob hashes to
    its sha, and each is a blob the plan names (a changed file's old blob, a
    brought path's), so an edited "before" text cannot mislead a reviewer."""
    review = plan.review
    if review is None:
        return []
    named: set[str] = set()
    for action in plan.actions:
        if isinstance(action, Commit):
            named |= {c.old_sha for c in action.files if c.old_sha is not None}
    merge = next((a for a in plan.actions if isinstance(a, MergePullRequest)), None)
    brings = set(merge.brings_paths) if merge is not None else set()
    seen = plan.observed
    problems = []
    wanted, _ = brought_paths(plan)
    if sorted(b.path for b in review.brought) != sorted(wanted):
        problems.append(
            Problem(
                "review.brought",
                f"shows {sorted(b.path for b in review.brought)} but the merge brings "
                f"{sorted(wanted)} besides the plan's own commit: a diff was left out or added. "
                "Make and review a new plan",
            )
        )
    for index, brought in enumerate(review.brought):
        named |= {sha for sha in (brought.before, brought.after) if sha is not None}
        if brought.path not in brings:
            problems.append(
                Problem(f"review.brought[{index}]", "is not a path the plan's merge brings")
            )
            continue
        # The blobs shown must be the ones observed (which the recheck holds
        # the forge to): a diff of other content would mislead the reviewer.
        observed = (
            (seen.base_blobs.get(brought.path), seen.branch_blobs.get(brought.path))
            if brought.path in seen.base_blobs
            else (seen.brought_on_base.get(brought.path), seen.brought_on_branch.get(brought.path))
        )
        if (brought.before, brought.after) != observed:
            problems.append(
                Problem(
                    f"review.brought[{index}]",
                    f"shows {brought.path} as blobs other than the ones observed on base and "
                    "the branch: it was edited after the plan was made. Make and review a new plan",
                )
            )
    for index, blob in enumerate(review.blobs):
        field = f"review.blobs[{index}]"
        if git_blob_sha(blob.content) != blob.sha:
            problems.append(
                Problem(
                    field,
                    f"content is not blob {blob.sha[:10]} (it hashes to "
                    f"{git_blob_sha(blob.content)[:10]}): it was edited after the plan was made. "
                    "Make and review a new plan",
                )
            )
        elif blob.sha not in named:
            problems.append(Problem(field, "is not a blob the plan changes or a merge brings"))
    return problems


def _structure(document: object) -> Plan:
    """The plan a document describes, every field checked (but not the digest)."""
    if not isinstance(document, dict):
        raise PlanFormatError([Problem("plan", "must be a JSON object")])
    version = document.get("format_version")
    if type(version) is not int or version not in READABLE_VERSIONS:
        raise PlanFormatError(
            [
                Problem(
                    "format_version",
                    f"is {version!r}; this prplan reads versions "
                    f"{', '.join(map(str, READABLE_VERSIONS))}. "
                    "Make the plan again with this prplan, or apply it with the prplan that made it",
                )
            ]
        )
    if version < 4 and "review" in document:
        raise PlanFormatError(
            [Problem("review", f"is not part of a version {version} plan: it was added later")]
        )
    body = {k: v for k, v in document.items() if k not in ("digest", "signature")}
    try:
        # The request first and on its own, so that its problems come back
        # with their own field names rather than wrapped by cattrs.
        _CONVERTER.structure(body.get("request"), ChangeRequest)
    except InvalidRequestError as error:
        raise PlanFormatError([_under_request(p) for p in error.problems]) from None
    except Exception as error:  # malformed content and the like
        raise PlanFormatError([Problem("request", str(error))]) from None
    try:
        plan: Plan = _CONVERTER.structure(body, Plan)
    except Exception as error:  # cattrs' ClassValidationError and friends
        raise PlanFormatError(_problems_from(error)) from None
    return plan


def redacted_paths(document: dict[str, Any]) -> dict[str, str]:
    """For a redacted plan document: path -> the blob sha its content must have."""
    files = (document.get("request") or {}).get("files") or {}
    return {
        p: c["redacted"] for p, c in files.items() if isinstance(c, dict) and set(c) == {"redacted"}
    }


def _restored(content: bytes) -> dict[str, str]:
    try:
        return {"text": content.decode("utf-8")}
    except UnicodeDecodeError:
        return {"base64": base64.b64encode(content).decode("ascii")}


def _is_redacted(value: object) -> bool:
    return isinstance(value, dict) and set(value) == {"redacted"}


def _check_redacted(document: dict[str, Any]) -> Plan:
    """Check a redacted document in full before anything in it is used or
    read from the forge: each digest is a blob sha and stands only where
    content was (a request's file; an edited file's observed content, which
    must be the blob the snapshot names at that path; what its edits made of
    it), and everything else reads as a plan, with the contents left out."""
    problems: list[Problem] = []
    trial = copy.deepcopy(document)  # the document with placeholders for the digests
    trial.pop("redacted")

    def digest_at(field: str, value: object) -> bool:
        if not _is_redacted(value):
            return False
        assert isinstance(value, dict)
        sha = value["redacted"]
        if not isinstance(sha, str) or not _SHA1.match(sha):
            problems.append(Problem(field, "is not a git blob sha (40 lowercase hex digits)"))
        return True

    request = document.get("request")
    files = request.get("files") if isinstance(request, dict) else None
    observed = document.get("observed")
    resolved = document.get("resolved", [])
    if not isinstance(files, dict):
        raise PlanFormatError([Problem("request.files", "is missing or not an object")])
    if not isinstance(observed, dict) or not isinstance(resolved, list):
        raise PlanFormatError([Problem("plan", "resolved must be a list and observed an object")])
    edited = {p for p, c in files.items() if isinstance(c, dict) and set(c) == {"edits"}}
    for path, value in files.items():
        if digest_at(f"request.files[{path!r}]", value):
            trial["request"]["files"][path] = {"text": ""}
    for side, blobs_side in (("base_contents", "base_blobs"), ("branch_contents", "branch_blobs")):
        contents = observed.get(side, {})
        if not isinstance(contents, dict):
            problems.append(Problem(f"observed.{side}", "must be an object"))
            continue
        blobs = observed.get(blobs_side)
        for path, value in contents.items():
            field = f"observed.{side}[{path!r}]"
            if not digest_at(field, value):
                continue
            trial["observed"][side][path] = {"text": ""}
            if path not in edited:
                problems.append(Problem(field, "is not a file the request edits"))
            elif not isinstance(blobs, dict) or blobs.get(path) != value["redacted"]:
                problems.append(
                    Problem(field, f"is not the blob observed.{blobs_side} names at {path!r}")
                )
    review = document.get("review")
    blobs = review.get("blobs") if isinstance(review, dict) else None
    for index, blob in enumerate(blobs if isinstance(blobs, list) else []):
        field = f"review.blobs[{index}]"
        if isinstance(blob, dict) and digest_at(field, blob.get("content")):
            trial["review"]["blobs"][index]["content"] = {"text": ""}
            if blob["content"]["redacted"] != blob.get("sha"):
                problems.append(Problem(field, "the digest is not the blob's sha"))
    for index, entry in enumerate(resolved):
        if isinstance(entry, dict) and digest_at(f"resolved[{index}]", entry.get("content")):
            trial["resolved"][index]["content"] = {"text": ""}
            if not isinstance(entry.get("path"), str) or entry["path"] not in edited:
                problems.append(Problem(f"resolved[{index}]", "is not a file the request edits"))
    if problems:
        raise PlanFormatError(problems)
    return _structure(trial)  # every other field, named when wrong


def redacted_for_review(document: dict[str, Any]) -> Plan:
    """A redacted plan (``--redact-content``) as far as it can be read
    without its contents: every field checked, each content an empty
    placeholder. For showing only: its digest cannot be checked (it covers
    the contents) and its diffs are withheld."""
    return _check_redacted(document)


def _unredact(
    document: dict[str, Any],
    contents: Mapping[str, bytes | None] | None,
    read_blob: Callable[[str], bytes] | None,
) -> dict[str, Any]:
    """Put the contents back into a redacted plan document: the request's
    files from ``contents``; the observed files (edits only) read back by
    blob sha; what the edits made of them recomputed by the planner's own
    rule. The caller then checks the full digest, which covers it all."""
    request_doc = document.get("request")
    if not isinstance(request_doc, dict) or not isinstance(request_doc.get("files"), dict):
        raise PlanFormatError([Problem("request.files", "is missing or not an object")])
    if not isinstance(document.get("resolved", []), list) or not isinstance(
        document.get("observed", {}), dict
    ):
        raise PlanFormatError([Problem("plan", "resolved must be a list and observed an object")])
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
            files[path] = _restored(content)
    extra = sorted(set(p for p, c in contents.items() if c is not None) - set(wanted))
    problems += [Problem(f"--file {path}", "is not in the reviewed plan") for path in extra]
    if problems:  # refuse before reading anything from the forge
        raise PlanFormatError(problems)
    observed = document.get("observed") or {}
    for side in ("base_contents", "branch_contents"):
        for path, value in (observed.get(side) or {}).items():
            if not _is_redacted(value):
                continue
            if read_blob is None:
                problems.append(
                    Problem(
                        f"observed.{side}[{path!r}]", "is redacted: name the forge to read it back"
                    )
                )
                continue
            content = read_blob(value["redacted"])
            if git_blob_sha(content) != value["redacted"]:
                problems.append(
                    Problem(f"observed.{side}[{path!r}]", "the forge returned other content")
                )
            observed[side][path] = _restored(content)
    review = document.get("review")
    for index, blob in enumerate(review.get("blobs", []) if isinstance(review, dict) else []):
        if not _is_redacted(blob.get("content")):
            continue
        field = f"review.blobs[{index}]"
        if read_blob is None:
            problems.append(Problem(field, "is redacted: name the forge to read it back"))
            continue
        content = read_blob(blob["sha"])
        if git_blob_sha(content) != blob["sha"]:
            problems.append(Problem(field, "the forge returned other content"))
        blob["content"] = _restored(content)
    if problems:
        raise PlanFormatError(problems)
    if any(_is_redacted(entry.get("content")) for entry in document.get("resolved") or []):
        from prplan.core.planner import resolve_edits  # the same rule the plan was made with

        try:
            request = _CONVERTER.structure(document["request"], ChangeRequest)
            snapshot = _CONVERTER.structure(document["observed"], RepoSnapshot)
        except Exception as error:
            raise PlanFormatError([Problem("plan", f"cannot be restored: {error}")]) from None
        redone = {r.path: r.content for r in resolve_edits(snapshot, request)}
        for entry in document["resolved"]:
            if _is_redacted(entry["content"]):
                content = redone.get(entry["path"])
                if content is None or git_blob_sha(content) != entry["content"]["redacted"]:
                    problems.append(
                        Problem(
                            f"resolved[{entry['path']!r}]",
                            "the edits no longer give the reviewed content",
                        )
                    )
                else:
                    entry["content"] = _restored(content)
    if problems:
        raise PlanFormatError(problems)
    return {k: v for k, v in document.items() if k != "redacted"}


def canonical_json(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _under_request(problem: Problem) -> Problem:
    if problem.field.startswith("request."):
        return problem
    return Problem(f"request.{problem.field}", problem.message)


def _problems_from(error: Exception) -> list[Problem]:
    if isinstance(error, cattrs.ClassValidationError | cattrs.IterableValidationError):
        problems = []
        for message in cattrs.transform_error(error, path="plan"):
            field, _, rest = message.partition(" @ ")
            problems.append(Problem(rest or "plan", field))
        return problems
    return [Problem("plan", str(error))]


# --- the converter ------------------------------------------------------------


def _make_converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=True)

    # Scalars as they are, never coerced: cattrs would make a string of any
    # value (an object where a sha belongs) and an int of "12".
    def exactly(kind: type) -> Callable[[Any, type], Any]:
        def structure(value: Any, target: type) -> Any:
            if type(value) is not kind:
                raise ValueError(f"must be a {kind.__name__}, not {type(value).__name__}")
            return value if target is kind else target(value)  # an enum: by its value

        return structure

    for scalar in (str, int, bool):
        converter.register_structure_hook(scalar, exactly(scalar))

    # File contents: text when it is UTF-8 (so a reviewer can read the plan),
    # base64 otherwise.
    def content_out(content: object) -> object:
        if content is None:
            return None
        if isinstance(content, tuple):
            from prplan.edits import edit_to_dict

            return {"edits": [edit_to_dict(edit) for edit in content]}
        assert isinstance(content, bytes)
        try:
            return {"text": content.decode("utf-8")}
        except UnicodeDecodeError:
            return {"base64": base64.b64encode(content).decode("ascii")}

    def content_in(value: object) -> object:
        if value is None:
            return None
        if isinstance(value, dict) and set(value) == {"edits"} and isinstance(value["edits"], list):
            from prplan.edits import edit_from_dict

            return tuple(edit_from_dict(item) for item in value["edits"])
        if isinstance(value, dict) and set(value) == {"text"} and isinstance(value["text"], str):
            return value["text"].encode("utf-8")
        if isinstance(value, dict) and set(value) == {"base64"}:
            try:
                return base64.b64decode(value["base64"], validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise ValueError("content 'base64' is not valid base64") from None
        raise ValueError("content must be null, {'text': ...} or {'base64': ...}")

    def request_out(request: ChangeRequest) -> dict[str, Any]:
        out = {
            field.name: getattr(request, field.name)
            for field in attrs.fields(ChangeRequest)
            if field.name != "files"
        }
        out["files"] = {path: content_out(c) for path, c in request.files.items()}
        document: dict[str, Any] = converter.unstructure(out)
        return document

    def request_in(value: Any, _: type) -> ChangeRequest:
        if not isinstance(value, dict):
            raise ValueError("request must be an object")
        fields = dict(value)
        files = fields.get("files")
        if isinstance(files, dict):
            fields["files"] = {path: content_in(c) for path, c in files.items()}
        known = {f.name for f in attrs.fields(ChangeRequest)}
        unknown = set(fields) - known
        if unknown:
            raise PlanFormatError(
                [Problem(f"request.{name}", "is not a request field") for name in sorted(unknown)]
            )
        return ChangeRequest(**fields)

    # Contents anywhere else (the snapshot's observed contents of edited files).
    converter.register_unstructure_hook(bytes, content_out)

    def bytes_in(value: Any, _: type) -> bytes:
        content = content_in(value)
        if not isinstance(content, bytes):
            raise ValueError("content must be {'text': ...} or {'base64': ...}")
        return content

    converter.register_structure_hook(bytes, bytes_in)
    converter.register_unstructure_hook(ChangeRequest, request_out)
    converter.register_structure_hook(ChangeRequest, request_in)
    converter.register_unstructure_hook(
        ResolvedFile, lambda r: {"path": r.path, "content": content_out(r.content)}
    )

    def resolved_in(value: Any, _: type) -> ResolvedFile:
        content = content_in(value["content"])
        if content is not None and not isinstance(content, bytes):
            raise ValueError("a resolved file holds content, not edits")
        return ResolvedFile(path=str(value["path"]), content=content)

    converter.register_structure_hook(ResolvedFile, resolved_in)

    configure_tagged_union(Action, converter, tag_name="type", tag_generator=_tag)
    # A plan without review contents (version 3, or not read) has no
    # "review" key at all: a version 3 plan keeps its digest.
    from cattrs.gen import make_dict_unstructure_fn, override

    converter.register_unstructure_hook(
        Plan, make_dict_unstructure_fn(Plan, converter, review=override(omit_if_default=True))
    )
    return converter


def _tag(cls: type) -> str:
    return str(cls.kind)  # type: ignore[attr-defined]


_CONVERTER = _make_converter()
