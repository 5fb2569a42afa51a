"""prplan's errors: one base, three families.

Callers mostly need to tell three things apart, so the families follow them:

* ``InvalidRequestError``: *you* asked for something malformed (a bad path, an
  unknown enum value, a tampered plan file). Nothing was read or written. Fix
  the input. Also a ``ValueError``, so generic code can catch it as one.
* ``RepositoryDisagreesError``: the request is fine but the repository is not
  in a state where it can be carried out as planned: the planner refused, or
  the repository moved since the plan was made (``StalePlanError``), or the
  forge would not merge (``MergeBlocked``). Re-plan, or ask a human.
* ``ForgeError``: talking to the forge failed (network, authentication, an
  answer prplan did not expect). Retrying later may help.

Every error carries its payload on attributes so programs need not parse
messages. No error message ever includes a token (the forge clients scrub
them before raising).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Sequence
from urllib.parse import quote, quote_plus

import attrs

__all__ = [
    "PrplanError",
    "Problem",
    "InvalidRequestError",
    "PlanFormatError",
    "PlanIntegrityError",
    "RepositoryDisagreesError",
    "RefusedError",
    "StalePlanError",
    "ConflictError",
    "MergeBlocked",
    "WaitTimedOut",
    "HeadMovedAfterArming",
    "MergeDisarmed",
    "ApplyFailedError",
    "ForgeError",
    "NotFoundError",
    "MergeableNow",
    "scrub_secret",
    "mask_url_credentials",
]


class PrplanError(Exception):
    """The base of every error prplan raises on purpose."""


@attrs.frozen
class Problem:
    """One thing wrong with an input: where (``field``) and what to do."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


class InvalidRequestError(PrplanError, ValueError):
    """The input is malformed. ``problems`` lists every problem found, not
    just the first, so a user fixes them all in one round."""

    def __init__(self, problems: Sequence[Problem], what: str = "request") -> None:
        self.problems = tuple(problems)
        self.what = what
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"invalid {what} ({len(self.problems)} problem(s)):\n{lines}")


class PlanFormatError(InvalidRequestError):
    """A plan document could not be read: bad JSON, an unknown
    ``format_version``, or a digest that does not match its content."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems, what="plan document")


class PlanIntegrityError(InvalidRequestError):
    """A plan document reads fine but is not one to apply: its actions (or
    refusal, notes, resolved edits) are not what the planner derives from its
    own request and snapshot (the plan was edited and its digest recomputed),
    its digest is not the one a reviewer pinned (``expect_digest``), or its
    signature is missing or does not verify with the plan key. Nothing was
    read from or written to the forge. Make and review a new plan."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        super().__init__(problems, what="plan")


class RepositoryDisagreesError(PrplanError):
    """The repository is not in a state where the request can go ahead."""


class RefusedError(RepositoryDisagreesError):
    """The planner refused the request; ``refusal`` (a ``Refusal``) says why:
    code, message, the PR numbers / paths / commits involved."""

    def __init__(self, refusal: object, message: str) -> None:
        self.refusal = refusal
        super().__init__(message)


class StalePlanError(RepositoryDisagreesError):
    """The repository moved since the plan was made, in a fact the plan relied
    on. Nothing was written. ``moved`` lists each fact as
    ``(name, planned value, current value)``."""

    def __init__(
        self, moved: Sequence[tuple[str, str, str]], *, message: str | None = None
    ) -> None:
        self.moved = tuple(moved)
        lines = "\n".join(f"  - {name}: planned {was}, now {now}" for name, was, now in self.moved)
        super().__init__(
            message
            or "the plan is stale: the repository moved since it was made; nothing was written. "
            f"Make a new plan and review it.\n{lines}"
        )


class ConflictError(StalePlanError):
    """The plan went stale *during* apply: a compare-and-swap lost a race (a
    branch was not where the plan expected it, a pull request's head moved
    before its merge: GitHub's 409). The actions before it were done; the
    outcome says which. Re-plan from the current state."""

    def __init__(self, message: str) -> None:
        super().__init__((), message=message)


class MergeBlocked(RepositoryDisagreesError):
    """The forge would not merge the pull request (conflicts, required checks
    or reviews). The pull request stays open; ``number`` names it."""

    def __init__(self, number: int, message: str) -> None:
        self.number = number
        super().__init__(f"pull request #{number} cannot be merged: {message}")


class HeadMovedAfterArming(MergeBlocked):
    """While prplan waited for GitHub to merge a pull request it armed
    (auto-merge, merge queue) at ``armed_sha``, the pull request's head
    moved to ``head_sha``: someone pushed. ``merged``: GitHub already merged
    that other head, so commits this plan never saw went in; otherwise the
    wait stops before GitHub can, and prplan turns off the arming it made in
    this very run (never one someone else made): ``disarmed`` says what it
    did about it ("" when the arming was not this run's). Exit 5."""

    def __init__(
        self,
        repo: str,
        number: int,
        armed_sha: str,
        head_sha: str,
        *,
        merged: bool,
        disarmed: str = "",
    ):
        self.number = number
        self.repo = repo
        self.armed_sha = armed_sha
        self.head_sha = head_sha
        self.merged = merged
        self.disarmed = disarmed
        at, armed = head_sha[:7], armed_sha[:7]
        if merged:
            text = (
                f"{repo}#{number} was merged at {at}, not at the reviewed {armed}: commits "
                "pushed after prplan armed the merge went in unreviewed by this plan. Review "
                f"{armed}..{at} on the pull request (revert on base if need be)."
            )
        else:
            text = (
                f"{repo}#{number}: its head moved to {at} after prplan armed the merge at the "
                f"reviewed {armed}: GitHub would merge commits unreviewed by this plan. "
                + (
                    disarmed
                    or "prplan did not arm it in this run and leaves it on: disable auto-merge "
                    "(or dequeue it) or review those commits."
                )
            )
        RepositoryDisagreesError.__init__(self, text)


class MergeDisarmed(MergeBlocked):
    """While prplan waited, nothing was left to merge the pull request: its
    auto-merge was disabled, or it left the merge queue (removed, or failed
    there). prplan never re-arms it. Exit 5."""

    def __init__(self, repo: str, number: int, was: str) -> None:
        self.repo = repo
        what = {
            "auto_merge": "auto-merge was disabled",
            "queued": "it left the merge queue",
        }.get(was, "auto-merge was disabled or it left the merge queue")
        super().__init__(
            number,
            f"{repo}: {what} while prplan waited; nothing will merge it now and prplan does "
            "not re-arm it. Run prplan again to arm it anew, or merge it by hand.",
        )


class WaitTimedOut(RepositoryDisagreesError):
    """Waiting for pull requests to be merged (``merge_when='wait'``, or a
    change set's stage) took longer than allowed. Nothing was undone: the
    pull requests stay open as they were last read (a wait stops at once when
    one is no longer armed), and GitHub may still merge them. ``waiting`` names them (``OWNER/NAME#N``,
    with what each waits for); ``seconds`` is the time allowed."""

    def __init__(self, waiting: Sequence[str], seconds: float, what: str = "") -> None:
        self.waiting = tuple(waiting)
        self.seconds = seconds
        where = f"{what}: " if what else ""
        super().__init__(
            f"{where}not merged within {_duration(seconds)}: {'; '.join(self.waiting)}. "
            "Nothing was undone: the pull requests stay open as listed, and GitHub may still "
            "merge them; run again later, or wait longer (--wait-timeout, --stage-timeout)."
        )


def _duration(seconds: float) -> str:
    """``90`` -> ``1m30s``; ``1800`` -> ``30m``; ``2.5`` -> ``2.5s``."""
    if seconds < 60:
        return f"{seconds:g}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest}s" if rest else f"{minutes}m"


class ApplyFailedError(PrplanError):
    """``Outcome.raise_for_status()`` on a failed outcome: ``outcome`` says
    which actions ran, and ``error_type`` names the error that stopped it
    (``MergeBlocked``, ``ConflictError``, ``ForgeError``...)."""

    def __init__(self, outcome: object, error_type: str, message: str) -> None:
        self.outcome = outcome
        self.error_type = error_type
        super().__init__(message)


class ForgeError(PrplanError):
    """Talking to the forge failed, or it answered something prplan cannot
    use. ``status`` is the HTTP status where there was one."""

    def __init__(self, message: str, status: int | None = None) -> None:
        self.status = status
        super().__init__(message)


class NotFoundError(ForgeError):
    """The repository, branch, commit or pull request does not exist."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


class MergeableNow(ForgeError):
    """GitHub would not arm a merge (auto-merge, the merge queue) of pull
    request ``number`` because it can be merged now ("Pull request is in
    clean status" / "unstable status"): the one arming refusal after which
    prplan merges directly on a protected base (status 422)."""

    def __init__(self, number: int, message: str) -> None:
        self.number = number
        super().__init__(message, status=422)


# A run of base64 (standard or URL-safe alphabet) that could hide a secret.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{4,}={0,2}")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


#: The user-info part of a URL (``scheme://user:password@``): up to the
#: first ``@`` before the host, where no ``/``, ``?``, ``#`` or space occurs.
_URL_CREDENTIALS = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/?#@\s]+@")
_URL = re.compile(r"(?i)\b[a-z][a-z0-9+.-]*://[^\s'\"<>]+")
_QUERY_VALUE = re.compile(r"([?&][^=&#\s]+)=[^&#\s'\"]*")


def mask_url_credentials(text: str, mask: str = "***") -> str:
    """``text`` with the credentials of every URL in it masked:
    ``http://user:pw@host/`` -> ``http://***@host/`` (a token given as the
    user name, ``https://TOKEN@host``, is masked the same way)."""
    text = _URL_CREDENTIALS.sub(lambda match: f"{match.group(1)}{mask}@", text)
    # Query strings carry tokens too (?access_token=...): keep the names only.
    return _URL.sub(
        lambda url: _QUERY_VALUE.sub(lambda q: f"{q.group(1)}={mask}", url.group()), text
    )


def scrub_secret(text: str, secret: str, mask: str = "***") -> str:
    """``text`` with ``secret`` masked in every form a message can carry it:
    as is, escaped (``repr``, JSON: ``'token s3cr3t\\n'``), URL-encoded
    (either case of hex), and base64-encoded anywhere inside a base64 run
    (``Authorization: Basic eDpzM2NyM3Q=`` hides ``x:s3cr3t``). Credentials
    written into any URL (``http://user:pw@host``) are masked too, with or
    without ``secret``."""
    text = mask_url_credentials(text, mask)
    if not secret:
        return text
    forms = {
        secret,
        repr(secret)[1:-1],
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
    }
    for form in sorted(forms, key=len, reverse=True):  # longest first: no half-masked forms
        text = text.replace(form, mask)
    # Percent-encoding may use lower-case hex (%0a): compare case-insensitively.
    encoded = quote(secret, safe="")
    if "%" in encoded:
        text = re.sub(re.escape(encoded), mask, text, flags=re.IGNORECASE)
    if len(secret) >= 2:  # shorter secrets cannot be told from any base64
        text = _BASE64_RUN.sub(lambda run: _mask_base64(run.group(), secret, mask), text)
    return text


def _mask_base64(run: str, secret: str, mask: str) -> str:
    """``mask`` when the base64 ``run`` decodes to bytes holding ``secret``
    (trying each alignment, as the run may start mid-quantum)."""
    needle = secret.encode("utf-8")
    body = run.rstrip("=")
    if len(body) * 3 // 4 < len(needle):
        return run
    for start in range(4):
        chunk = body[start:]
        if len(chunk) % 4 == 1:  # one stray character cannot be decoded
            chunk = chunk[:-1]
        chunk += "=" * (-len(chunk) % 4)
        for alphabet in (b"+/", b"-_"):
            try:
                decoded = base64.b64decode(chunk, altchars=alphabet, validate=True)
            except (binascii.Error, ValueError):
                continue
            if needle in decoded:
                return mask
    return run
