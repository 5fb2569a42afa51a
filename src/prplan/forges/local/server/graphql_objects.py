"""What the local forge's GraphQL queries read: GitHub's objects as dicts.

graphql-core's default resolver reads a field from a dict by its name and
calls it when it is callable (with the field's arguments), so each object
here is a dict of values and of small functions for the fields that take
arguments or cost a read. ``__typename`` names the concrete type where the
schema has an interface (``GitObject``, ``Node``, ``Actor``). Every read goes
through the forge's public methods.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Callable, Sequence
from typing import Any

import attrs
from dulwich.objects import Blob, Tree
from dulwich.objects import Commit as GitCommit

from prplan import errors
from prplan.forges.local import LocalForge
from prplan.forges.local.server.graphql_gates import (
    branch_protection_rule,
    pull_request_gate,
    repository_gate,
    status_check_rollup,
)
from prplan.forges.local.server.graphql_metadata import pull_request_metadata, repository_metadata
from prplan.forges.local.server.payloads import iso, node_id
from prplan.forges.local.trees import HEX_SHA

__all__ = ["Context", "Problem", "decode_id", "repository", "node", "pull_request", "ref", "commit"]

Obj = dict[str, Any]


class Problem(Exception):
    """A field's error with GitHub's ``type`` (STALE_DATA, UNPROCESSABLE,
    NOT_FOUND, FORBIDDEN)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@attrs.frozen
class Context:
    """One GraphQL request: the forge, the login the token acts as, the
    web address (for URLs) and the rate limit's figures."""

    forge: LocalForge
    login: str
    web: str
    limit: int
    used: int
    reset: int


def decode_id(value: str, kind: str) -> tuple[str, str]:
    """(repository, the rest) of a node id made by ``node_id(kind, repo, ...)``;
    NOT_FOUND when it is not one of ``kind``'s."""
    try:
        text = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        text = ""
    found, _, rest = text.partition(":")
    owner, _, more = rest.partition("/")
    name, _, tail = more.partition("/")
    if found != kind or not owner or not name:
        raise Problem("NOT_FOUND", f"Could not resolve to a node with the global id of '{value}'")
    return f"{owner}/{name}", tail


def _user(login: str) -> Obj:
    return {"__typename": "User", "login": login, "id": node_id("User", login)}


def _actor(raw: bytes, when: int) -> Obj:
    name, _, email = raw.decode("utf-8", "replace").partition(" <")
    return {"name": name, "email": email.rstrip(">"), "date": iso(when)}


def commit(ctx: Context, repo: str, sha: str) -> Obj:
    obj = ctx.forge.git_object(repo, sha)
    if not isinstance(obj, GitCommit):
        raise Problem("NOT_FOUND", f"{sha} is not a commit")
    message = obj.message.decode("utf-8", "replace")
    headline, _, body = message.partition("\n")
    verified = ctx.forge.is_verified(repo, sha)
    signature = {
        "__typename": "GpgSignature",
        "isValid": True,
        "state": "VALID",
        "email": "noreply@localforge.invalid",
        "signer": None,
        "wasSignedByGitHub": True,
    }
    parents = [p.decode() for p in obj.parents]
    return {
        "__typename": "Commit",
        "id": node_id("Commit", repo, sha),
        "oid": sha,
        "message": message,
        "messageHeadline": headline,
        "messageBody": body.strip("\n"),
        "tree": lambda info: tree(ctx, repo, obj.tree.decode(), ""),
        "author": _actor(obj.author, obj.author_time),
        "committer": _actor(obj.committer, obj.commit_time),
        "signature": signature if verified else None,
        "parents": lambda info, **page: _connection(
            [functools.partial(commit, ctx, repo, p) for p in parents], page
        ),
        "statusCheckRollup": lambda info: status_check_rollup(ctx, repo, sha, None),
    }


def tree(ctx: Context, repo: str, sha: str, prefix: str) -> Obj:
    def entries(info: Any) -> list[Obj]:
        return [
            {"name": e.path, "type": e.type, "mode": e.mode, "oid": e.sha, "path": prefix + e.path}
            for e in ctx.forge.git_tree_entries(repo, sha, recursive=False)
        ]

    return {"__typename": "Tree", "id": node_id("Tree", repo, sha), "oid": sha, "entries": entries}


def _blob(repo: str, blob: Blob) -> Obj:
    data, sha = bytes(blob.data), blob.id.decode()
    binary = b"\x00" in data
    try:
        text = None if binary else data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return {
        "__typename": "Blob",
        "id": node_id("Blob", repo, sha),
        "oid": sha,
        "byteSize": len(data),
        "isBinary": binary,
        "text": text,
    }


def _object(ctx: Context, repo: str, sha: str, prefix: str = "") -> Obj | None:
    obj = ctx.forge.git_object(repo, sha)
    if isinstance(obj, GitCommit):
        return commit(ctx, repo, sha)
    if isinstance(obj, Tree):
        return tree(ctx, repo, sha, prefix)
    return _blob(repo, obj)


def _revision(ctx: Context, repo: str, revision: str) -> str | None:
    """A commit oid, ``refs/...``, a branch name or HEAD -> a commit oid."""
    if HEX_SHA.fullmatch(revision):
        return revision
    if revision == "HEAD":
        revision = ctx.forge.default_branch_name(repo)
    if revision.startswith("refs/"):
        return ctx.forge.refs(repo).get(revision)
    return ctx.forge.branches(repo).get(revision)


def _expression(ctx: Context, repo: str, expression: str) -> Obj | None:
    """``REV`` or ``REV:path`` (``REV:`` is the root tree), as git names objects."""
    revision, colon, path = expression.partition(":")
    sha = _revision(ctx, repo, revision)
    if sha is None:
        return None
    if not colon:
        return _object(ctx, repo, sha)
    found = ctx.forge.git_object(repo, sha)
    current = found.tree.decode() if isinstance(found, GitCommit) else sha
    walked = ""
    for part in [p for p in path.split("/") if p]:
        # One entry looked up by name, not the whole directory listed (with
        # each blob's size): a query naming a thousand directories stays fast.
        tree = ctx.forge.git_object(repo, current)
        if not isinstance(tree, Tree) or part.encode("utf-8") not in tree:
            return None
        mode, oid = tree[part.encode("utf-8")]
        if mode == 0o160000:  # a submodule's commit is not in this repository
            return None
        current, walked = oid.decode("ascii"), walked + part + "/"
    return _object(ctx, repo, current, walked)


def _connection(nodes: Sequence[Callable[[], Obj]], page: dict[str, Any]) -> Obj:
    """A connection's ``nodes`` and ``totalCount`` for ``first``/``last``."""
    chosen = list(nodes)
    if page.get("first") is not None:
        chosen = chosen[: max(int(page["first"]), 0)]
    if page.get("last") is not None:
        chosen = chosen[len(chosen) - max(int(page["last"]), 0) :]
    return {"totalCount": len(nodes), "nodes": [make() for make in chosen]}


def pull_request(ctx: Context, repo: str, row: dict[str, Any]) -> Obj:
    number = row["number"]
    state = "MERGED" if row["merged"] else "OPEN" if row["state"] == "open" else "CLOSED"
    merge_sha = row.get("merge_sha")
    return {
        "__typename": "PullRequest",
        "id": node_id("PullRequest", repo, number),
        "number": number,
        "state": state,
        "merged": bool(row["merged"]),
        "isCrossRepository": False,
        "baseRefName": row["base"],
        "baseRef": lambda info: ref(ctx, repo, row["base"]),
        "headRefName": row["head"],
        "headRefOid": row["head_sha"],
        "title": row["title"],
        "body": row["body"],
        "url": f"{ctx.web}{repo}/pull/{number}",
        "mergeCommit": (lambda info: commit(ctx, repo, merge_sha)) if merge_sha else None,
        "author": _user(row.get("author") or ctx.login),
        "mergedBy": _user(row.get("merged_by") or ctx.login) if row["merged"] else None,
        "changedFiles": lambda info: len(_changed_files(ctx, repo, row)),
        "files": lambda info, **page: _connection(
            [functools.partial(lambda c: c, c) for c in _changed_files(ctx, repo, row)], page
        ),
        **pull_request_gate(ctx, repo, row, functools.partial(commit, ctx, repo)),
        **pull_request_metadata(ctx, repo, row),
    }


def _changed_files(ctx: Context, repo: str, row: dict[str, Any]) -> list[Obj]:
    """What the pull request changes: its head against the merge base with
    its base branch as it is now (GitHub's three-dot diff); a merged or
    closed one is shown as it was (nothing to compare with here: empty)."""
    base_sha = ctx.forge.branches(repo).get(row["base"])
    if row["state"] != "open" or base_sha is None:
        return []
    comparison = ctx.forge.compare_commits(repo, base_sha, row["head_sha"])
    merge_base = comparison.merge_base_sha
    if merge_base is None:
        return []
    before = ctx.forge.blob_shas(repo, merge_base, comparison.files)
    after = ctx.forge.blob_shas(repo, row["head_sha"], comparison.files)
    return [
        {
            "path": path,
            "changeType": "ADDED"
            if before[path] is None
            else "DELETED"
            if after[path] is None
            else "MODIFIED",
        }
        for path in comparison.files
    ]


def _pull_requests(ctx: Context, repo: str, **args: Any) -> Obj:
    rows = ctx.forge.pull_rows(repo)
    states = args.get("states")
    chosen = [
        row
        for row in rows
        if args.get("headRefName") in (None, row["head"])
        and args.get("baseRefName") in (None, row["base"])
        and (not states or pull_request(ctx, repo, row)["state"] in states)
    ]
    return _connection([functools.partial(pull_request, ctx, repo, row) for row in chosen], args)


def ref(ctx: Context, repo: str, name: str) -> Obj | None:
    """The branch or ref ``name`` (qualified or a branch's name), or None."""
    qualified = name if name.startswith("refs/") else f"refs/heads/{name}"
    sha = ctx.forge.refs(repo).get(qualified)
    if sha is None:
        return None
    # GitHub's Ref.name is the branch's name and prefix the rest (refs/heads/).
    known = next((p for p in ("refs/heads/", "refs/tags/") if qualified.startswith(p)), None)
    prefix = known or qualified.rpartition("/")[0] + "/"
    return {
        "__typename": "Ref",
        "id": node_id("Ref", repo, qualified),
        "name": qualified[len(prefix) :],
        "prefix": prefix,
        "target": lambda info: _object(ctx, repo, sha),
        "branchProtectionRule": lambda info: (
            branch_protection_rule(ctx, repo, qualified[len(prefix) :])
            if prefix == "refs/heads/"
            else None
        ),
        "refUpdateRule": None,
        "compare": lambda info, headRef: _compare(ctx, repo, sha, headRef),
    }


def _compare(ctx: Context, repo: str, base: str, head_ref: str) -> Obj | None:
    head = _revision(ctx, repo, head_ref)
    if head is None:
        return None
    comparison = ctx.forge.compare_commits(repo, base, head)
    shas = [c.sha for c in comparison.commits]
    return {
        "__typename": "Comparison",
        "id": node_id("Comparison", repo, f"{base}...{head}"),
        "aheadBy": comparison.ahead_by,
        "behindBy": comparison.behind_by,
        "status": comparison.status.upper(),
        "baseTarget": lambda info: commit(ctx, repo, base),
        "headTarget": lambda info: commit(ctx, repo, head),
        "commits": lambda info, **page: _connection(
            [functools.partial(commit, ctx, repo, s) for s in shas], page
        ),
    }


def _pull_request_numbered(ctx: Context, repo: str, number: int) -> Obj:
    """``Repository.pullRequest(number:)``: GitHub's NOT_FOUND words when none."""
    try:
        row = ctx.forge.pull_row(repo, number)
    except errors.NotFoundError:
        raise Problem(
            "NOT_FOUND", f"Could not resolve to a PullRequest with the number of {number}."
        ) from None
    return pull_request(ctx, repo, row)


def repository(ctx: Context, owner: str, name: str) -> Obj:
    repo = f"{owner}/{name}"
    try:
        default = ctx.forge.default_branch_name(repo)
    except errors.NotFoundError:
        raise Problem(
            "NOT_FOUND", f"Could not resolve to a Repository with the name '{repo}'."
        ) from None
    return {
        "__typename": "Repository",
        "id": node_id("Repository", repo),
        "name": name,
        "nameWithOwner": repo,
        "owner": _user(owner),
        "defaultBranchRef": lambda info: ref(ctx, repo, default),
        "ref": lambda info, qualifiedName: ref(ctx, repo, qualifiedName),
        "pullRequests": lambda info, **args: _pull_requests(ctx, repo, **args),
        "pullRequest": lambda info, number: _pull_request_numbered(ctx, repo, number),
        **repository_gate(ctx, repo),
        **repository_metadata(ctx, repo),
        "object": lambda info, expression=None, oid=None: (
            _object(ctx, repo, oid)
            if oid
            else _expression(ctx, repo, expression)
            if expression
            else None
        ),
    }


def node(ctx: Context, value: str) -> Obj | None:
    """``node(id:)``: a repository, pull request, ref or commit by its id."""
    for kind in ("Repository", "PullRequest", "Ref", "Commit"):
        try:
            repo, rest = decode_id(value, kind)
        except Problem:
            continue
        owner, name = repo.split("/")
        if kind == "Repository":
            return repository(ctx, owner, name)
        if kind == "PullRequest" and rest.isdigit():
            return pull_request(ctx, repo, ctx.forge.pull_row(repo, int(rest)))
        if kind == "Ref":
            return ref(ctx, repo, rest)
        if kind == "Commit":
            return commit(ctx, repo, rest)
    raise Problem("NOT_FOUND", f"Could not resolve to a node with the global id of '{value}'")
