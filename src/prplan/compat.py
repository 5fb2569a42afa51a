"""A drop-in for the legacy ``add_or_modify_files`` helper.

Same signature and argument meanings, with the first argument a
``ForgeClient`` (a ``GitHubClient`` or ``LocalForge``) instead of the mixin's
``self``; switching is a one-line import change (see docs/migration.md).
Inside, it is observe -> plan -> apply, with the plan logged before anything
is written, and prplan's errors raised instead of silent drops:

* no pull request at all: one is created (the legacy code crashed);
* an open pull request: the files are committed to its branch, and it is
  merged only when ``automerge`` says so (the legacy code dropped the files
  and merged whatever it found);
* a merged pull request: a new branch and pull request carry the change
  (the legacy code logged "there is already PR" and dropped it);
* more than one open pull request: ``RefusedError`` naming them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from prplan.cli.render import outcome_text, plan_text
from prplan.core.names import CONTROL_RE
from prplan.core.planner import plan
from prplan.core.request import ChangeRequest, MergeWhen
from prplan.errors import InvalidRequestError, Problem, RefusedError
from prplan.run.executor import apply
from prplan.run.observe import observe
from prplan.run.outcome import Outcome
from prplan.run.port import ForgeClient

__all__ = ["add_or_modify_files", "GitRepo"]

log = logging.getLogger("prplan.compat")


class GitRepo(Protocol):
    """What the legacy code passes as ``repo``."""

    name: str
    master_branch: str


def _source_commit(commit_store: Any) -> str:
    """The legacy ``commit_store`` carries a commit hash and a timestamp for
    the message; accept the attribute names the callers used, or its text."""
    if commit_store is None:
        return ""
    sha = next(
        (
            getattr(commit_store, a)
            for a in ("hash", "sha", "commit_hash", "commit")
            if hasattr(commit_store, a)
        ),
        None,
    )
    when = next(
        (
            getattr(commit_store, a)
            for a in ("timestamp", "time", "date")
            if hasattr(commit_store, a)
        ),
        None,
    )
    if sha is None and when is None:
        return str(commit_store)
    return " ".join(
        str(part) for part in (sha, f"({when})" if when is not None else None) if part is not None
    )


def _check_identity(identity: object) -> None:
    """The identity goes into the pull request title: a newline would split it."""
    if not isinstance(identity, str) or CONTROL_RE.search(identity):
        raise InvalidRequestError(
            [
                Problem(
                    "identity", f"{identity!r} must be one line of text, without control characters"
                )
            ]
        )


def add_or_modify_files(
    client: ForgeClient,
    repo: GitRepo,
    branch_name: str,
    commit_store: Any,
    identity: str,
    files: Mapping[str, str | bytes | None],
    *,
    create_pr: bool,
    automerge: bool,
    allow_modification: bool,
    extra_message: str | None = "",
    merge_foreign_commits: bool = False,
) -> Outcome:
    """Put ``files`` into ``repo`` via ``branch_name`` (and a pull request when
    ``create_pr``; merged when ``automerge``). Returns the ``Outcome`` (the
    legacy function returned None; callers that ignore it are unaffected).
    When there is nothing to do, ``outcome.pull_request`` is still the open
    pull request that carries the change (None when none is open).

    Raises ``InvalidRequestError`` for bad arguments, ``RefusedError`` when
    prplan will not act (the refusal says why), ``StalePlanError`` if the
    repository moved between plan and apply, and ``ApplyFailedError`` (with the
    outcome's message) if an action failed.

    Unlike the legacy helper, automerge never merges commits prplan did not
    make (a human's work on the pull request): that is a refusal unless
    ``merge_foreign_commits=True`` (prplan's only addition to the signature).
    """
    _check_identity(identity)
    source = _source_commit(commit_store)
    title = f"{identity}: update {repo.name}"
    message = f"{title}\n\nSource commit: {source}" if source else title
    request = ChangeRequest(
        repo=repo.name,
        branch=branch_name,
        base=repo.master_branch,
        files=dict(files),
        create_pr=create_pr,
        automerge=automerge,
        allow_modification=allow_modification,
        title=title,
        body=extra_message or "",
        commit_message=message,
        merge_foreign_commits=merge_foreign_commits,
        # The legacy helper merged at once or failed: never auto-merge later.
        merge_when=MergeWhen.NOW,
    )
    the_plan = plan(observe(client, request), request)
    log.info("%s%s", f"{extra_message}\n" if extra_message else "", plan_text(the_plan))
    if the_plan.refusal is not None:
        raise RefusedError(the_plan.refusal, f"{repo.name}: {the_plan.refusal.message}")
    outcome = apply(the_plan, client)
    log.info("%s", outcome_text(outcome))
    outcome.raise_for_status()
    return outcome
