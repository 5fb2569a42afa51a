"""The local forge's GraphQL mutations, as GitHub runs them.

``createRef``, ``updateRefs`` (an exact, atomic compare-and-swap),
``createCommitOnBranch`` (one commit on an existing branch, only if its head
is ``expectedHeadOid``; committed as the token's user and signed by the
forge), ``createPullRequest``, ``mergePullRequest`` (with
``expectedHeadOid``; refused with GitHub's words where the merge gate
does not allow it), ``deleteRef``, and the gates' ``enablePullRequestAutoMerge``,
``disablePullRequestAutoMerge``, ``enqueuePullRequest`` and
``dequeuePullRequest`` (its ``id`` is the pull request's). Each takes the forge through its
public methods; the forge's errors become GitHub's error types in ``graphql``.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any

from prplan import errors
from prplan.forges.local.server.graphql_gates import queue_entry
from prplan.forges.local.server.graphql_objects import (
    Context,
    Obj,
    Problem,
    commit,
    decode_id,
    pull_request,
    ref,
)
from prplan.forges.local.server.payloads import node_id
from prplan.forges.local.server.routes import bot_identity

__all__ = ["mutations"]

_ZERO = "0" * 40
_OID = re.compile(r"[0-9a-f]{40}")


def _oid(value: str | None, field: str) -> str | None:
    if value is not None and not _OID.fullmatch(value):
        raise Problem("UNPROCESSABLE", f"{field}: {value!r} is not a 40-hex object id")
    return value


def _create_ref(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, _ = decode_id(input["repositoryId"], "Repository")
    name, oid = input["name"], _oid(input["oid"], "oid")
    assert oid is not None
    try:
        ctx.forge.create_ref(repo, name, oid)
    except errors.ForgeError as error:
        if "already exists" in str(error):
            raise Problem("UNPROCESSABLE", f'A ref named "{name}" already exists.') from None
        raise
    return {"clientMutationId": input.get("clientMutationId"), "ref": ref(ctx, repo, name)}


def _update_refs(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, _ = decode_id(input["repositoryId"], "Repository")
    updates = []
    for update in input["refUpdates"]:
        after = _oid(update["afterOid"], "afterOid")
        before = _oid(update.get("beforeOid"), "beforeOid")
        deleted = after is None or after == _ZERO
        updates.append(
            (update["name"], before, None if deleted else after, bool(update.get("force")))
        )
    ctx.forge.update_refs(repo, updates)
    return {"clientMutationId": input.get("clientMutationId")}


def _file_changes(changes: dict[str, Any] | None) -> dict[str, bytes | None]:
    """{path: content (None: delete)}; a path at most once, contents base64."""
    files: dict[str, bytes | None] = {}
    additions = (changes or {}).get("additions") or []
    deletions = (changes or {}).get("deletions") or []
    for path, content in [(a["path"], a["contents"]) for a in additions] + [
        (d["path"], None) for d in deletions
    ]:
        if path in files:
            raise Problem("UNPROCESSABLE", f"A path was included more than once: {path}")
        if content is None:
            files[path] = None
            continue
        try:
            files[path] = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise Problem("UNPROCESSABLE", f"{path}: contents are not valid base64") from None
    return files


def _create_commit_on_branch(ctx: Context, input: dict[str, Any]) -> Obj:
    branch = input["branch"]
    if branch.get("id"):
        repo, qualified = decode_id(branch["id"], "Ref")
        name = qualified.removeprefix("refs/heads/")
    else:
        repo, name = branch.get("repositoryNameWithOwner") or "", branch.get("branchName") or ""
        if "/" not in repo or not name:
            raise Problem("UNPROCESSABLE", "branch needs repositoryNameWithOwner and branchName")
    expected = _oid(input["expectedHeadOid"], "expectedHeadOid")
    assert expected is not None
    message = input["message"]
    text = message["headline"] + (f"\n\n{message['body']}" if message.get("body") else "")
    try:
        ctx.forge.default_branch_name(repo)
        if name not in ctx.forge.branches(repo):
            raise errors.NotFoundError(f"{repo}: branch {name!r} does not exist")
    except errors.NotFoundError:
        raise Problem(
            "NOT_FOUND", f"Could not resolve to a branch named '{name}' in '{repo}'."
        ) from None
    sha = ctx.forge.commit_verified(
        repo,
        name,
        expected_head=expected,
        files=_file_changes(input.get("fileChanges")),
        message=text,
        author=f"{ctx.login} <{ctx.login}@users.noreply.localforge.invalid>",
        committer=bot_identity(ctx.login),
    )
    return {
        "clientMutationId": input.get("clientMutationId"),
        "commit": commit(ctx, repo, sha),
        "ref": ref(ctx, repo, name),
    }


def _create_pull_request(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, _ = decode_id(input["repositoryId"], "Repository")
    head = input["headRefName"].split(":", 1)[-1]
    try:
        number = ctx.forge.open_pr(
            repo,
            head,
            input["baseRefName"],
            title=input["title"],
            body=input.get("body") or "",
            author=ctx.login,
            draft=input.get("draft") is True,
        )
    except errors.ConflictError:
        raise Problem(
            "UNPROCESSABLE", f"A pull request already exists for {repo.split('/')[0]}:{head}."
        ) from None
    row = ctx.forge.pull_row(repo, number)
    return {
        "clientMutationId": input.get("clientMutationId"),
        "pullRequest": pull_request(ctx, repo, row),
    }


def _merge_pull_request(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, rest = decode_id(input["pullRequestId"], "PullRequest")
    number = int(rest) if rest.isdigit() else 0
    row = ctx.forge.pull_row(repo, number)
    expected = _oid(input.get("expectedHeadOid"), "expectedHeadOid")
    if row["state"] != "open":
        raise Problem("UNPROCESSABLE", "Pull request is not mergeable")
    if expected is not None and expected != row["head_sha"]:
        raise Problem(
            "STALE_DATA",
            f"Head branch was modified. Review and try the merge again. "
            f"(expected {expected}, the head is {row['head_sha']})",
        )
    method = (input.get("mergeMethod") or "MERGE").lower()
    try:
        ctx.forge.merge_pr(repo, number, method, by=ctx.login, expected_head_sha=expected)
    except errors.MergeBlocked as error:  # GitHub's words, as REST's 405 has them
        raise Problem("UNPROCESSABLE", str(error).split(": ", 1)[-1]) from None
    return {
        "clientMutationId": input.get("clientMutationId"),
        "pullRequest": pull_request(ctx, repo, ctx.forge.pull_row(repo, number)),
    }


def _delete_ref(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, qualified = decode_id(input["refId"], "Ref")
    current = ctx.forge.refs(repo).get(qualified)
    if current is None:
        raise Problem(
            "NOT_FOUND", f"Could not resolve to a node with the global id of '{input['refId']}'"
        )
    ctx.forge.update_refs(repo, [(qualified, current, None, True)])
    return {"clientMutationId": input.get("clientMutationId")}


def _pull_id(input: dict[str, Any], key: str = "pullRequestId") -> tuple[str, int]:
    repo, rest = decode_id(input[key], "PullRequest")
    return repo, int(rest) if rest.isdigit() else 0


def _refused(call: Any) -> Any:
    """A gate's refusal (ForgeError 422) as GitHub's UNPROCESSABLE, with its words."""
    try:
        return call()
    except errors.ConflictError:
        raise
    except errors.InvalidRequestError as error:
        raise Problem("UNPROCESSABLE", str(error.problems[0])) from None
    except (errors.ForgeError, errors.MergeBlocked) as error:
        raise Problem("UNPROCESSABLE", str(error).split(": ", 1)[-1]) from None


def _mark_ready_for_review(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, number = _pull_id(input)
    _refused(lambda: ctx.forge.set_draft(repo, number, False))
    row = ctx.forge.pull_row(repo, number)
    return {
        "clientMutationId": input.get("clientMutationId"),
        "pullRequest": pull_request(ctx, repo, row),
    }


def _enable_auto_merge(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, number = _pull_id(input)
    expected = _oid(input.get("expectedHeadOid"), "expectedHeadOid")
    method = (input.get("mergeMethod") or "MERGE").lower()
    _refused(lambda: ctx.forge.enable_auto_merge(repo, number, method, expected, by=ctx.login))
    return {
        "clientMutationId": input.get("clientMutationId"),
        "actor": {"__typename": "User", "login": ctx.login, "id": node_id("User", ctx.login)},
        "pullRequest": pull_request(ctx, repo, ctx.forge.pull_row(repo, number)),
    }


def _disable_auto_merge(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, number = _pull_id(input)
    _refused(lambda: ctx.forge.disable_auto_merge(repo, number))
    return {
        "clientMutationId": input.get("clientMutationId"),
        "actor": {"__typename": "User", "login": ctx.login, "id": node_id("User", ctx.login)},
        "pullRequest": pull_request(ctx, repo, ctx.forge.pull_row(repo, number)),
    }


def _enqueue(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, number = _pull_id(input)
    expected = _oid(input.get("expectedHeadOid"), "expectedHeadOid")
    _refused(lambda: ctx.forge.enqueue(repo, number, expected, by=ctx.login))
    return {
        "clientMutationId": input.get("clientMutationId"),
        "mergeQueueEntry": queue_entry(ctx, repo, number),
    }


def _dequeue(ctx: Context, input: dict[str, Any]) -> Obj:
    repo, number = _pull_id(input, "id")  # GitHub takes the pull request's id here
    entry = queue_entry(ctx, repo, number)
    _refused(lambda: ctx.forge.dequeue(repo, number))
    return {"clientMutationId": input.get("clientMutationId"), "mergeQueueEntry": entry}


def mutations(ctx: Context) -> dict[str, Any]:
    """The ``Mutation`` root's fields for one request."""
    handlers = {
        "createRef": _create_ref,
        "updateRefs": _update_refs,
        "createCommitOnBranch": _create_commit_on_branch,
        "createPullRequest": _create_pull_request,
        "mergePullRequest": _merge_pull_request,
        "deleteRef": _delete_ref,
        "enablePullRequestAutoMerge": _enable_auto_merge,
        "disablePullRequestAutoMerge": _disable_auto_merge,
        "enqueuePullRequest": _enqueue,
        "dequeuePullRequest": _dequeue,
        "markPullRequestReadyForReview": _mark_ready_for_review,
    }
    return {
        field: (lambda info, input, handler=handler: handler(ctx, input))
        for field, handler in handlers.items()
    }
