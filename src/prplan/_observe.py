"""``observe(client, request)``: read what the planner needs, write nothing.

Cheap by construction: the number of requests does not grow with the number
of files. Content is compared by git blob sha, computed locally for the
request and read from one tree listing per side (see ``docs/``).
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager

from ._errors import NotFoundError
from ._model import ChangeRequest, CommitInfo, RepoSnapshot, git_blob_sha
from ._ports import ForgeClient

__all__ = ["observe"]


def observe(client: ForgeClient, request: ChangeRequest) -> RepoSnapshot:
    with _held_still(client):
        return _observe(client, request)


def _held_still(client: ForgeClient) -> AbstractContextManager[object]:
    """A forge that can keep others from writing across several reads (the
    local forge: its lock) does so for one observation: another process's
    push or pull request cannot land between reading the branch and reading
    its pull requests. GitHub cannot; there, apply's compare-and-swap and
    staleness checks catch what moved."""
    hold = getattr(client, "consistent_reads", None)
    return hold() if callable(hold) else contextlib.nullcontext()


def _observe(client: ForgeClient, request: ChangeRequest) -> RepoSnapshot:
    repo = request.repo
    default = client.default_branch(repo)
    base = request.base or default
    base_sha = client.branch_sha(repo, base)
    if base_sha is None:
        raise NotFoundError(f"{repo}: the base branch {base!r} does not exist")
    edited = request.edited_paths
    plain = [path for path in request.files if path not in edited]
    base_contents, base_blobs = _read(client, repo, base_sha, plain, edited)
    if request.branch == base:
        # Committing straight to base: the branch *is* base.
        return RepoSnapshot(
            repo=repo, default_branch=default, base=base, base_sha=base_sha,
            branch=request.branch, branch_sha=base_sha,
            base_blobs=base_blobs, branch_blobs=base_blobs, base_contents=base_contents,
            branch_contains_base=True, branch_in_base=True,
        )  # fmt: skip
    branch_sha = client.branch_sha(repo, request.branch)
    pulls = tuple(
        sorted(client.pull_requests_for(repo, request.branch, base), key=lambda p: p.number)
    )
    if branch_sha is None:
        return RepoSnapshot(
            repo=repo, default_branch=default, base=base, base_sha=base_sha,
            branch=request.branch, branch_sha=None, pull_requests=pulls, base_blobs=base_blobs,
            base_contents=base_contents,
        )  # fmt: skip
    merge_base_blobs: dict[str, str | None] | None = None
    branch_contents: dict[str, bytes | None] = {}
    paths = list(request.files)
    if branch_sha == base_sha:
        branch_blobs = base_blobs
        contains, in_base, complete = True, True, True
        commits: tuple[CommitInfo, ...] = ()
    else:
        # Edits apply to the branch only when a pull request is open on it:
        # otherwise the branch is rebuilt from base. Read its contents then only.
        if any(pr.is_open for pr in pulls):
            branch_contents, branch_blobs = _read(client, repo, branch_sha, plain, edited)
        else:
            branch_blobs = dict(client.blob_shas(repo, branch_sha, paths))
        comparison = client.compare(repo, base_sha, branch_sha)
        contains = comparison.behind_by == 0
        in_base = comparison.ahead_by == 0
        commits, complete = comparison.commits, comparison.complete
        if not contains and any(pr.is_open for pr in pulls) and comparison.merge_base_sha:
            # Will merging the open pull request deliver the request? Only
            # the merge base can tell (see the planner's pr_behind).
            merge_base_blobs = dict(client.blob_shas(repo, comparison.merge_base_sha, paths))
    return RepoSnapshot(
        repo=repo, default_branch=default, base=base, base_sha=base_sha,
        branch=request.branch, branch_sha=branch_sha, pull_requests=pulls,
        base_blobs=base_blobs, branch_blobs=branch_blobs,
        branch_contains_base=contains, branch_in_base=in_base,
        commits_beyond_base=commits, commits_complete=complete, merge_base_blobs=merge_base_blobs,
        base_contents=base_contents, branch_contents=branch_contents,
    )  # fmt: skip


def _read(
    client: ForgeClient, repo: str, commit_sha: str, plain: list[str], edited: list[str]
) -> tuple[dict[str, bytes | None], dict[str, str | None]]:
    """Contents of the edited paths (one read each) and blob shas of every
    requested path: from one tree listing for the plain paths, computed
    locally for the edited ones. No tree is read when every path is edited."""
    contents = dict(client.read_files(repo, commit_sha, edited)) if edited else {}
    blobs = dict(client.blob_shas(repo, commit_sha, plain)) if plain else {}
    blobs.update({path: None if c is None else git_blob_sha(c) for path, c in contents.items()})
    return contents, blobs
