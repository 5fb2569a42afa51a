"""A plan: what prplan will do to one repository, and why.

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
can recompute; what else guards a plan is in ``integrity`` and
docs/plan-format.md.)

This module holds the ``Plan`` value and its reading and writing as methods;
what it is made of is in ``actions``, the document format in ``plan_json``,
redaction in ``redact`` and the checks of its review contents in
``review_check``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import attrs

from prplan.core import plan_json as pj
from prplan.core import redact as _redact
from prplan.core.actions import (
    Action,
    Refusal,
    ResolvedFile,
    Review,
)
from prplan.core.plan_json import (
    FORMAT_VERSION,
    check_signature,
    sign,
)
from prplan.core.request import ChangeRequest
from prplan.core.review_check import review_problems
from prplan.core.snapshot import RepoSnapshot
from prplan.core.states import PRState, Stage
from prplan.errors import PlanFormatError, Problem

__all__ = ["Plan", "redacted_for_review"]


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
    review: Review | None = attrs.field(default=None, metadata={pj.OMIT_IF_DEFAULT: True})
    #: who the plan's commit and pull request are attributed to and whether
    #: GitHub signs the commit (``core.writer.attribution``); "" when the
    #: plan writes neither, or nothing states it (then left out of the document)
    writes: str = attrs.field(default="", metadata={pj.OMIT_IF_DEFAULT: True})

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
        return pj.digest_of(pj.CONVERTER.unstructure(self))

    def to_dict(self, *, redact: bool = False, key: bytes | None = None) -> dict[str, Any]:
        """The plan document. ``redact=True``: file contents are replaced by
        their git blob sha (``{"redacted": sha}``) and ``"redacted": true`` is
        set; the digest stays the full plan's, so supplying the same files
        again reproduces it exactly (``from_json(..., contents=...)``).
        ``key``: add ``signature`` (see ``sign``), outside the digested body."""
        document: dict[str, Any] = pj.CONVERTER.unstructure(self)
        document["digest"] = self.digest
        if key is not None:
            document["signature"] = sign(self.digest, key)
        if redact:
            _redact.redact(document, self)
        return document

    def to_json(self, *, redact: bool = False, key: bytes | None = None) -> str:
        """The plan document: sorted keys, two-space indent, ending in a newline."""
        return pj.written(self.to_dict(redact=redact, key=key))

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
        document = pj.parse(text)
        if key is not None:
            check_signature(document, key)
        if document.get("redacted") is True:
            _redact.check_redacted(document, cls)
            document = _redact.unredact(document, contents, read_blob)
        return cls.from_dict(document)

    @classmethod
    def from_dict(cls, document: object) -> Plan:
        plan = pj.structure(document, cls)
        assert isinstance(document, dict)
        problems = review_problems(plan)
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


def redacted_for_review(document: dict[str, Any]) -> Plan:
    """A redacted plan (``--redact-content``) as far as it can be read
    without its contents: every field checked, each content an empty
    placeholder. For showing only: its digest cannot be checked (it covers
    the contents) and its diffs are withheld."""
    return _redact.check_redacted(document, Plan)
