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
from typing import Any

import attrs

from prplan.core.request import ChangeRequest
from prplan.core.snapshot import MergeArmed, PathKind, PullRequestInfo, RepoSnapshot, git_blob_sha
from prplan.errors import NotFoundError
from prplan.run.metadata import observe_metadata
from prplan.run.port import Branch, ForgeClient, WriterClient
from prplan.run.pr_text import observe_pr_text

__all__ = ["observe"]


def observe(client: ForgeClient, request: ChangeRequest) -> RepoSnapshot:
    with _held_still(client), _prefetched(client, request):
        snapshot = _gated(client, request, _observe(client, request))
        snapshot = observe_pr_text(client, request, snapshot)  # update_pr, close_superseded
        if isinstance(client, WriterClient):  # who writes, and whether GitHub signs
            snapshot = attrs.evolve(snapshot, writer=client.writer())
        return observe_metadata(client, request, snapshot)  # only when the request names it


def _gated(client: ForgeClient, request: ChangeRequest, snapshot: RepoSnapshot) -> RepoSnapshot:
    """With ``automerge``: whether base merges through a merge queue (a new
    pull request into such a base is enqueued, never merged directly: the
    plan must know before it is made), and the gate of an open pull request
    from the branch into base (a new pull request's gate is not known yet).
    Over GraphQL both come from the observe query; over REST the queue
    costs one small query. Whatever automerge says: who armed an open pull
    request (its auto-merge is in the pull requests read already), and,
    only when one is armed, the login prplan acts as (see ``_viewed``)."""
    if request.automerge:
        queue = client.merge_queue_enabled(request.repo, snapshot.base)
        pulls = tuple(
            client.pull_request_gate(request.repo, pr.number) if pr.is_open else pr
            for pr in snapshot.pull_requests
        )
        snapshot = attrs.evolve(snapshot, merge_queue=queue, pull_requests=pulls)
    return _viewed(client, snapshot)


def _viewed(client: ForgeClient, snapshot: RepoSnapshot) -> RepoSnapshot:
    """The login prplan's token acts as, read only when an open pull request
    is armed (to tell prplan's own arming from someone else's): plans that
    involve no arming do not carry it."""
    if not any(pr.is_open and pr.armed is not MergeArmed.NONE for pr in snapshot.pull_requests):
        return snapshot
    return attrs.evolve(snapshot, viewer=client.viewer_login())


def _prefetched(client: ForgeClient, request: ChangeRequest) -> AbstractContextManager[object]:
    """A client that can read everything one observation needs at once (a
    GitHub client over GraphQL: one query) does so here, and answers the
    reads below from it; anything it did not cover is read as usual."""
    hook = getattr(client, "observing", None)
    return hook(request) if callable(hook) else contextlib.nullcontext()


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
    base_head = client.branch(repo, base)  # the same one read as its sha: no extra request
    if base_head is None:
        raise NotFoundError(f"{repo}: the base branch {base!r} does not exist")
    base_sha = base_head.sha
    where: dict[str, Any] = {
        "repo": repo, "default_branch": default, "base": base, "base_sha": base_sha,
        "branch": request.branch, "base_protected": base_head.protected,
    }  # fmt: skip
    if request.branch == base:
        return _straight_to_base(client, request, where)
    head, pulls, others = _read_branch_and_pulls(client, request, base)
    if head is None:
        base_contents, base_blobs, base_kinds, _ = _read_base(client, request, base_sha)
        return RepoSnapshot(
            **where, branch_sha=None, pull_requests=pulls, base_blobs=base_blobs,
            base_contents=base_contents, base_kinds=base_kinds, other_pull_requests=others,
        )  # fmt: skip
    into = tuple(
        sorted(client.open_pull_requests_into(repo, request.branch), key=lambda p: p.number)
    )
    if head.sha == base_sha:
        trees = _same_as_base(client, request, base_sha)
    else:
        trees = _read_compare(client, request, base_sha, head.sha, pulls)
    return RepoSnapshot(
        **where, branch_sha=head.sha, pull_requests=pulls, branch_protected=head.protected,
        other_pull_requests=others, pull_requests_into_branch=into, **trees,
    )  # fmt: skip


def _read_base(client: ForgeClient, request: ChangeRequest, base_sha: str) -> _Read:
    return _read(client, request.repo, base_sha, list(request.files), request.edited_paths)


def _straight_to_base(
    client: ForgeClient, request: ChangeRequest, where: dict[str, Any]
) -> RepoSnapshot:
    """Committing straight to base: the branch *is* base. Still, if it is
    the head of an open pull request into another base, a commit on it
    would join that pull request unreviewed."""
    base, base_sha = where["base"], where["base_sha"]
    base_contents, base_blobs, base_kinds, _ = _read_base(client, request, base_sha)
    others = tuple(
        pr
        for pr in sorted(client.pull_requests_from(request.repo, base), key=lambda p: p.number)
        if pr.is_open and pr.base_branch != base
    )
    return RepoSnapshot(
        **where, other_pull_requests=others, branch_sha=base_sha,
        base_blobs=base_blobs, branch_blobs=base_blobs, base_contents=base_contents,
        base_kinds=base_kinds, branch_kinds=base_kinds,
        branch_contains_base=True, branch_in_base=True,
    )  # fmt: skip


def _read_branch_and_pulls(
    client: ForgeClient, request: ChangeRequest, base: str
) -> tuple[Branch | None, tuple[PullRequestInfo, ...], tuple[PullRequestInfo, ...]]:
    """The branch's head, its pull requests into base, and its open pull
    requests into other bases (those make the branch someone else's too)."""
    repo = request.repo
    head = client.branch(repo, request.branch)
    every = sorted(client.pull_requests_from(repo, request.branch), key=lambda p: p.number)
    pulls = tuple(pr for pr in every if pr.base_branch == base)
    others = tuple(pr for pr in every if pr.is_open and pr.base_branch != base)
    if head is None and any(pr.is_open for pr in every):
        # An open pull request from a branch read as absent: most likely the
        # branch and the pull request were made between the two reads (a
        # twin run). Read the branch once more rather than refuse.
        head = client.branch(repo, request.branch)
    return head, pulls, others


def _same_as_base(client: ForgeClient, request: ChangeRequest, base_sha: str) -> dict[str, Any]:
    """The branch is at base: one tree read serves both sides."""
    base_contents, base_blobs, base_kinds, _ = _read_base(client, request, base_sha)
    return {
        "base_blobs": base_blobs, "branch_blobs": base_blobs,
        "base_kinds": base_kinds, "branch_kinds": base_kinds,
        "paths_beyond_base": (), "paths_complete": True,
        "brought_on_base": {}, "brought_on_branch": {},
        "branch_contains_base": True, "branch_in_base": True,
        "commits_beyond_base": (), "commits_complete": True, "merge_base_blobs": None,
        "base_contents": base_contents, "branch_contents": {},
    }  # fmt: skip


def _read_compare(
    client: ForgeClient,
    request: ChangeRequest,
    base_sha: str,
    branch_sha: str,
    pulls: tuple[PullRequestInfo, ...],
) -> dict[str, Any]:
    """The branch differs from base: the comparison, both trees, and the
    merge base's blobs when an open pull request is behind base."""
    repo, paths, edited = request.repo, list(request.files), request.edited_paths
    comparison = client.compare(repo, base_sha, branch_sha)
    contains = comparison.behind_by == 0
    # The blobs of every other path a merge would bring, on both sides,
    # from the same tree listings: what the plan's review shows for them
    # is then tied to facts the recheck holds the forge to.
    extra = [path for path in comparison.files if path not in request.files]
    base_contents, base_blobs, base_kinds, brought_base = _read(
        client, repo, base_sha, paths, edited, extra
    )
    # Edits apply to the branch only when a pull request is open on it:
    # otherwise the branch is rebuilt from base. Read its contents then only.
    pr_open = any(pr.is_open for pr in pulls)
    branch_contents, branch_blobs, branch_kinds, brought_branch = _read(
        client, repo, branch_sha, paths, edited if pr_open else [], extra
    )
    merge_base_blobs: dict[str, str | None] | None = None
    if not contains and pr_open and comparison.merge_base_sha:
        # Will merging the open pull request deliver the request? Only
        # the merge base can tell (see the planner's pr_behind).
        entries = client.path_entries(repo, comparison.merge_base_sha, paths)
        merge_base_blobs = {path: entry.sha for path, entry in entries.items()}
    return {
        "base_blobs": base_blobs, "branch_blobs": branch_blobs,
        "base_kinds": base_kinds, "branch_kinds": branch_kinds,
        "paths_beyond_base": comparison.files, "paths_complete": comparison.files_complete,
        "brought_on_base": brought_base, "brought_on_branch": brought_branch,
        "branch_contains_base": contains, "branch_in_base": comparison.ahead_by == 0,
        "commits_beyond_base": comparison.commits, "commits_complete": comparison.complete,
        "merge_base_blobs": merge_base_blobs,
        "base_contents": base_contents, "branch_contents": branch_contents,
    }  # fmt: skip


#: What one side's tree read gives: contents of the edited paths, blob shas
#: and kinds of the requested paths, and blob shas of the extra paths.
_Read = tuple[
    dict[str, bytes | None], dict[str, str | None], dict[str, PathKind], dict[str, str | None]
]


def _read(
    client: ForgeClient,
    repo: str,
    commit_sha: str,
    paths: list[str],
    edited: list[str],
    extra: Sequence[str] = (),
) -> _Read:
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
