"""``observe(client, request)``: read what the planner needs, write nothing.

Cheap by construction: the number of requests does not grow with the number
of files. Content is compared by git blob sha, computed locally for the
request and read from one tree listing per side (see ``docs/``). Every
requested path is also classified (file, directory, submodule, under a
file...) from that same listing, so the planner can refuse to put a file
where a directory stands.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from contextlib import AbstractContextManager

from prplan.core.request import ChangeRequest
from prplan.core.snapshot import CommitInfo, PathKind, RepoSnapshot, git_blob_sha
from prplan.errors import NotFoundError
from prplan.run.port import ForgeClient

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
    paths = list(request.files)
    if request.branch == base:
        base_contents, base_blobs, base_kinds, _ = _read(client, repo, base_sha, paths, edited)
        # Committing straight to base: the branch *is* base. Still, if it is
        # the head of an open pull request into another base, a commit on it
        # would join that pull request unreviewed.
        others = tuple(
            pr
            for pr in sorted(client.pull_requests_from(repo, base), key=lambda p: p.number)
            if pr.is_open and pr.base_branch != base
        )
        return RepoSnapshot(
            other_pull_requests=others,
            repo=repo, default_branch=default, base=base, base_sha=base_sha,
            branch=request.branch, branch_sha=base_sha,
            base_blobs=base_blobs, branch_blobs=base_blobs, base_contents=base_contents,
            base_kinds=base_kinds, branch_kinds=base_kinds,
            branch_contains_base=True, branch_in_base=True,
        )  # fmt: skip
    head = client.branch(repo, request.branch)
    # Every pull request from the branch, into any base: those into other
    # bases make the branch someone else's too.
    every = sorted(client.pull_requests_from(repo, request.branch), key=lambda p: p.number)
    pulls = tuple(pr for pr in every if pr.base_branch == base)
    others = tuple(pr for pr in every if pr.is_open and pr.base_branch != base)
    if head is None and any(pr.is_open for pr in every):
        # An open pull request from a branch read as absent: most likely the
        # branch and the pull request were made between the two reads (a
        # twin run). Read the branch once more rather than refuse.
        head = client.branch(repo, request.branch)
    if head is None:
        base_contents, base_blobs, base_kinds, _ = _read(client, repo, base_sha, paths, edited)
        return RepoSnapshot(
            repo=repo, default_branch=default, base=base, base_sha=base_sha,
            branch=request.branch, branch_sha=None, pull_requests=pulls, base_blobs=base_blobs,
            base_contents=base_contents, base_kinds=base_kinds, other_pull_requests=others,
        )  # fmt: skip
    branch_sha = head.sha
    into = tuple(
        sorted(client.open_pull_requests_into(repo, request.branch), key=lambda p: p.number)
    )
    merge_base_blobs: dict[str, str | None] | None = None
    branch_contents: dict[str, bytes | None] = {}
    changed: tuple[str, ...] = ()
    files_complete = True
    brought_base: dict[str, str | None] = {}
    brought_branch: dict[str, str | None] = {}
    if branch_sha == base_sha:
        base_contents, base_blobs, base_kinds, _ = _read(client, repo, base_sha, paths, edited)
        branch_blobs, branch_kinds = base_blobs, base_kinds
        contains, in_base, complete = True, True, True
        commits: tuple[CommitInfo, ...] = ()
    else:
        comparison = client.compare(repo, base_sha, branch_sha)
        contains = comparison.behind_by == 0
        in_base = comparison.ahead_by == 0
        commits, complete = comparison.commits, comparison.complete
        changed, files_complete = comparison.files, comparison.files_complete
        # The blobs of every other path a merge would bring, on both sides,
        # from the same tree listings: what the plan's review shows for them
        # is then tied to facts the recheck holds the forge to.
        extra = [path for path in changed if path not in request.files]
        base_contents, base_blobs, base_kinds, brought_base = _read(
            client, repo, base_sha, paths, edited, extra
        )
        # Edits apply to the branch only when a pull request is open on it:
        # otherwise the branch is rebuilt from base. Read its contents then only.
        on_branch = edited if any(pr.is_open for pr in pulls) else []
        branch_contents, branch_blobs, branch_kinds, brought_branch = _read(
            client, repo, branch_sha, paths, on_branch, extra
        )
        if not contains and any(pr.is_open for pr in pulls) and comparison.merge_base_sha:
            # Will merging the open pull request deliver the request? Only
            # the merge base can tell (see the planner's pr_behind).
            entries = client.path_entries(repo, comparison.merge_base_sha, paths)
            merge_base_blobs = {path: entry.sha for path, entry in entries.items()}
    return RepoSnapshot(
        repo=repo, default_branch=default, base=base, base_sha=base_sha,
        branch=request.branch, branch_sha=branch_sha, pull_requests=pulls,
        base_blobs=base_blobs, branch_blobs=branch_blobs,
        base_kinds=base_kinds, branch_kinds=branch_kinds,
        branch_protected=head.protected, other_pull_requests=others,
        pull_requests_into_branch=into, paths_beyond_base=changed, paths_complete=files_complete,
        brought_on_base=brought_base, brought_on_branch=brought_branch,
        branch_contains_base=contains, branch_in_base=in_base,
        commits_beyond_base=commits, commits_complete=complete, merge_base_blobs=merge_base_blobs,
        base_contents=base_contents, branch_contents=branch_contents,
    )  # fmt: skip


def _read(
    client: ForgeClient,
    repo: str,
    commit_sha: str,
    paths: list[str],
    edited: list[str],
    extra: Sequence[str] = (),
) -> tuple[
    dict[str, bytes | None], dict[str, str | None], dict[str, PathKind], dict[str, str | None]
]:
    """What each requested path is in that commit, from one tree listing,
    and the contents of the edited paths that are files (one read each).
    Blob shas of edited paths are computed from what was read, so they
    describe exactly the content the edits applied to. The same listing
    gives the blobs of the ``extra`` paths (returned last)."""
    entries = client.path_entries(repo, commit_sha, [*paths, *extra])
    kinds = {path: entries[path].kind for path in paths}
    blobs: dict[str, str | None] = {path: entries[path].sha for path in paths}
    readable = [p for p in edited if kinds[p] in {PathKind.FILE, PathKind.EXECUTABLE}]
    contents: dict[str, bytes | None] = dict.fromkeys(edited)
    if readable:
        contents.update(client.read_files(repo, commit_sha, readable))
    for path in readable:
        content = contents[path]
        blobs[path] = None if content is None else git_blob_sha(content)
    return contents, blobs, kinds, {path: entries[path].sha for path in extra}
