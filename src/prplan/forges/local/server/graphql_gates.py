"""What GraphQL reads of the merge gates: a pull request's
``mergeStateStatus``, ``reviewDecision``, ``autoMergeRequest``,
``mergeQueueEntry`` and ``commits``, a commit's ``statusCheckRollup``, and a
repository's ``autoMergeAllowed`` and ``mergeQueue(branch:)``, and a
branch's ``branchProtectionRule`` (from ``LocalForge.branch_protection``).

Objects are dicts as in ``graphql_objects``; the functions that build a
commit or a pull request are passed in (``graphql_objects`` builds them and
calls these).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from prplan.forges.local.gates import CheckView, rollup
from prplan.forges.local.server.payloads import iso, node_id

__all__ = [
    "actor",
    "branch_protection_rule",
    "pull_request_gate",
    "status_check_rollup",
    "repository_gate",
]

Obj = dict[str, Any]


def _required_for(forge: Any, repo: str, base: str | None) -> tuple[str, ...]:
    protection = None if base is None else forge.branch_protection(repo, base)
    return () if protection is None else tuple(protection.required_checks)


def branch_protection_rule(ctx: Any, repo: str, branch: str) -> Obj | None:
    """``Ref.branchProtectionRule`` of ``branch``: its protection as GitHub's
    rule (a rule per branch here, so ``pattern`` is the branch's name), or
    None when the branch is not protected."""
    protection = ctx.forge.branch_protection(repo, branch)
    if protection is None:
        return None
    contexts = list(protection.required_checks)
    return {
        "__typename": "BranchProtectionRule",
        "id": node_id("BranchProtectionRule", repo, branch),
        "pattern": branch,
        "requiredStatusCheckContexts": contexts,
        "requiresStatusChecks": bool(contexts),
        "requiresStrictStatusChecks": protection.strict,
        "requiredApprovingReviewCount": protection.required_approvals,
        "requiresApprovingReviews": protection.required_approvals > 0,
    }


def _context(repo: str, sha: str, check: CheckView, required: Callable[..., bool]) -> Obj:
    if check.kind == "check_run":
        return {
            "__typename": "CheckRun",
            "id": node_id("CheckRun", repo, sha, check.name),
            "name": check.name,
            "status": (check.status or "").upper(),
            "conclusion": None if check.conclusion is None else check.conclusion.upper(),
            "isRequired": required,
        }
    return {
        "__typename": "StatusContext",
        "id": node_id("StatusContext", repo, sha, check.name),
        "context": check.name,
        "state": check.state.upper(),
        "isRequired": required,
    }


def status_check_rollup(ctx: Any, repo: str, sha: str, base: str | None) -> Obj | None:
    """The commit's checks rolled up; ``base``: the branch of the pull
    request it is read through (its required checks count as expected)."""
    forge = ctx.forge
    checks: Sequence[CheckView] = forge.commit_checks(repo, sha, _required_for(forge, repo, base))
    state = rollup(checks)
    if state is None:
        return None

    def required_for(name: str) -> Callable[..., bool]:
        def resolve(info: Any, pullRequestId: str | None = None,
                    pullRequestNumber: int | None = None) -> bool:  # fmt: skip
            where = base
            if pullRequestNumber is not None:
                where = forge.pull_row(repo, pullRequestNumber)["base"]
            return name in _required_for(forge, repo, where)

        return resolve

    reported = [c for c in checks if c.kind != "expected"]
    nodes = [_context(repo, sha, c, required_for(c.name)) for c in reported]

    def contexts(info: Any, **page: Any) -> Obj:
        chosen = list(nodes)
        if page.get("first") is not None:
            chosen = chosen[: max(int(page["first"]), 0)]
        if page.get("last") is not None:
            chosen = chosen[len(chosen) - max(int(page["last"]), 0) :]
        return {"totalCount": len(nodes), "nodes": chosen}

    return {
        "__typename": "StatusCheckRollup",
        "id": node_id("StatusCheckRollup", repo, sha),
        "state": state.upper(),
        "contexts": contexts,
    }


def pull_request_gate(
    ctx: Any, repo: str, row: dict[str, Any], commit: Callable[[str], Obj]
) -> Obj:
    """The gate's fields of a pull request (``commit(sha)`` builds a Commit)."""
    forge, number = ctx.forge, row["number"]
    is_open = row["state"] == "open"

    def gate() -> Any:
        return forge.gate_view(repo, number)

    def auto(info: Any) -> Obj | None:
        found = forge.auto_merge_request(repo, number) if is_open else None
        if found is None:
            return None
        login = found["enabled_by"]
        return {
            "enabledAt": iso(found["enabled_at"]),
            "enabledBy": actor(login),
            "mergeMethod": found["method"].upper(),
            "pullRequest": None,
        }

    def commits(info: Any, **page: Any) -> Obj:
        base_sha = forge.branches(repo).get(row["base"]) if is_open else None
        shas = [row["head_sha"]]
        if base_sha is not None:
            shas = [c.sha for c in forge.compare_commits(repo, base_sha, row["head_sha"]).commits]
        nodes = [
            {"__typename": "PullRequestCommit", "id": node_id("PullRequestCommit", repo, number, s),
             "commit": _with_rollup(ctx, repo, commit(s), s, row["base"])}
            for s in shas
        ]  # fmt: skip
        chosen = list(nodes)
        if page.get("first") is not None:
            chosen = chosen[: max(int(page["first"]), 0)]
        if page.get("last") is not None:
            chosen = chosen[len(chosen) - max(int(page["last"]), 0) :]
        return {"totalCount": len(nodes), "nodes": chosen}

    return {
        "mergeStateStatus": lambda info: gate().merge_state_status,
        "reviewDecision": lambda info: gate().review_decision,
        "isDraft": bool(row.get("draft")),
        "autoMergeRequest": auto,
        "mergeQueueEntry": lambda info: queue_entry(ctx, repo, number) if is_open else None,
        "commits": commits,
    }


def _with_rollup(ctx: Any, repo: str, obj: Obj, sha: str, base: str) -> Obj:
    return {**obj, "statusCheckRollup": lambda info: status_check_rollup(ctx, repo, sha, base)}


def actor(login: str) -> Obj:
    """An ``Actor`` as GitHub's GraphQL answers it: a GitHub App's bot
    (``name[bot]`` over REST) is a ``Bot`` whose ``login`` is ``name``."""
    if login.endswith("[bot]"):
        name = login.removesuffix("[bot]")
        return {"__typename": "Bot", "login": name, "id": node_id("Bot", name)}
    return {"__typename": "User", "login": login, "id": node_id("User", login)}


def queue_entry(ctx: Any, repo: str, number: int) -> Obj | None:
    entry = ctx.forge.queue_entry(repo, number)
    if entry is None:
        return None
    gate = ctx.forge.gate_view(repo, number)
    if entry["position"] != 0:
        state = "QUEUED"
    elif gate.merge_state_status in {"CLEAN", "UNSTABLE", "BEHIND"}:
        state = "MERGEABLE"
    else:
        state = "AWAITING_CHECKS"
    return {
        "__typename": "MergeQueueEntry",
        "id": node_id("MergeQueueEntry", repo, number),
        "enqueuedAt": iso(entry["enqueued_at"]),
        "enqueuer": actor(entry["enqueued_by"]),
        "position": entry["position"],
        "state": state,
        "pullRequest": None,
    }


def repository_gate(ctx: Any, repo: str) -> Obj:
    """A repository's ``autoMergeAllowed`` and ``mergeQueue(branch:)``."""
    forge = ctx.forge

    def merge_queue(info: Any, branch: str | None = None) -> Obj | None:
        name = branch or forge.default_branch_name(repo)
        if not forge.merge_queue_enabled(repo, name):
            return None
        return {"__typename": "MergeQueue", "id": node_id("MergeQueue", repo, name)}

    return {
        "autoMergeAllowed": lambda info: forge.auto_merge_allowed(repo),
        "mergeQueue": merge_queue,
    }
