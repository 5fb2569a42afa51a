"""``GitHubClient``'s merge gates: reading a pull request's gate and whether
base merges through a queue, and arming a merge (native auto-merge, the
merge queue). GitHub has all of it in GraphQL only (REST has no merge state
that names the required checks without several calls, and no auto-merge or
queue at all), so these go through GraphQL under both transports.

Cost, in requests (see docs/github.md, "Merge gates over GitHub's API"):

* ``pull_request_gate``: inside an observation over GraphQL whose request
  automerges, the observe query already read the open pull request's
  ``mergeStateStatus``, ``reviewDecision``, ``isDraft``, auto-merge and queue
  entry: no request, unless the state is ``BLOCKED`` (which required check
  failed or is pending needs ``isRequired(pullRequestNumber:)``, which the
  observe query cannot ask before it knows the number) or ``UNKNOWN``: then
  one ``PULL_REQUEST_GATE`` query. Elsewhere (REST, a poll): one query.
  ``UNKNOWN`` (GitHub computes the state lazily after a push) is read again
  up to ``UNKNOWN_REREADS`` times, ``UNKNOWN_PAUSE`` s apart, then counts as
  pending.
* ``merge_queue_enabled``: from the observe query, else one query.
* ``enable_auto_merge`` / ``enqueue``: one mutation (a write, spaced as
  writes are), plus one small query for the pull request's node id when this
  client has not seen it (opened it, or observed it with its gate).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from prplan.core.gates import Check, gate_from_github
from prplan.core.request import MergeMethod
from prplan.core.snapshot import MergeArmed, PullRequestInfo
from prplan.errors import ConflictError, ForgeError, MergeableNow, MergeBlocked, NotFoundError
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.arming import (
    DEQUEUE_PULL_REQUEST,
    DISABLE_AUTO_MERGE,
    VIEWER,
    actor_login,
    arming,
)
from prplan.forges.github.graphql_reads import GraphQLReads, prefetched_answer
from prplan.forges.github.graphql_writes import GraphQLWrites
from prplan.forges.github.transport import Transport
from prplan.run.port import Branch

__all__ = ["GateMethods", "GitHubGates", "UNKNOWN_REREADS", "UNKNOWN_PAUSE", "gate_info"]

#: How often an ``UNKNOWN`` merge state is read again, and the pause between.
UNKNOWN_REREADS = 3
UNKNOWN_PAUSE = 1.0

#: The merge states whose gate depends on which required check failed or waits.
_NEEDS_CHECKS = frozenset({"BLOCKED", "UNKNOWN"})

#: The repository setting GitHub's auto-merge needs, as GitHub's UI names it.
AUTO_MERGE_SETTING = '"Allow auto-merge" (Settings > General > Pull Requests)'


def _checks(node: Mapping[str, Any]) -> list[Check]:
    """The head commit's checks of a ``PULL_REQUEST_GATE`` answer, and the
    required contexts not reported yet (from base's protection rule)."""
    commits = (node.get("commits") or {}).get("nodes") or []
    rollup = ((commits[-1] or {}).get("commit") or {}).get("statusCheckRollup") if commits else None
    contexts = ((rollup or {}).get("contexts") or {}).get("nodes") or []
    found = []
    for context in contexts:
        if context.get("__typename") == "CheckRun":
            completed = context.get("status") == "COMPLETED" and context.get("conclusion")
            state = context["conclusion"] if completed else context.get("status") or "PENDING"
            found.append(Check(name=context["name"], state=state, required=context["isRequired"]))
        elif context.get("__typename") == "StatusContext":
            found.append(
                Check(
                    name=context["context"], state=context["state"], required=context["isRequired"]
                )
            )
    return found + _expected(node, {check.name for check in found})


def _expected(node: Mapping[str, Any], reported: set[str]) -> list[Check]:
    """The contexts base's protection rule requires that nobody reported on
    the head yet: pending by name, as GitHub's UI shows them ("Expected")."""
    if "commits" not in node:  # no rollup read (an observe answer): nothing to subtract from
        return []
    rule = (node.get("baseRef") or {}).get("branchProtectionRule") or {}
    contexts = rule.get("requiredStatusCheckContexts") or []
    names = sorted({str(c) for c in contexts if c and str(c) not in reported})
    return [Check(name=name, state="EXPECTED", required=True) for name in names]


def gate_info(node: Mapping[str, Any]) -> PullRequestInfo:
    """A pull request with ``GATE_FIELDS`` (and, from ``PULL_REQUEST_GATE``,
    its checks) as prplan's: the gate is read only for an open one."""
    info = documents.pull_request_info(node)
    if not info.is_open:
        return info
    gate, failing, pending = gate_from_github(
        str(node.get("mergeStateStatus") or "UNKNOWN"),
        node.get("reviewDecision"),
        bool(node.get("isDraft")),
        _checks(node),
    )
    armed, by = arming(node)
    return attrs.evolve(
        info, gate=gate, failing_checks=failing, pending_checks=pending, armed=armed, armed_by=by
    )


class GitHubGates:
    """The gate reads and merge arming of one client. ``known_ids``: the node
    ids of pull requests the client's GraphQL writes opened ((repo, number) ->
    (id, head branch)), which a mutation can use without a read."""

    def __init__(
        self,
        http: Transport,
        reads: GraphQLReads | None,
        known_ids: Mapping[tuple[str, int], tuple[str, str]],
    ) -> None:
        self._http, self._reads, self._known = http, reads, known_ids
        self._ids: dict[tuple[str, int], str] = {}
        self._viewer: str | None = None

    def _query(self, what: str, query: str, variables: dict[str, Any]) -> dict[str, Any]:
        """A query's ``repository``; its errors as prplan's."""
        with self._http.errors(what):
            data, problems = self._http.graphql(query, variables, mutation=False)
        if problems:
            problem = problems[0]
            text = f"{what}: {problem.get('type') or 'error'}: {problem.get('message') or ''}"
            if problem.get("type") == "NOT_FOUND":
                raise NotFoundError(text)
            raise ForgeError(text)
        repository = data.get("repository")
        if not isinstance(repository, dict):
            raise NotFoundError(f"{what}: not found (or the token cannot see it)")
        return repository

    def _pull(self, repo: str, number: int) -> dict[str, Any]:
        owner, name = repo.split("/", 1)
        what = f"reading the merge gate of #{number} of {repo}"
        variables = {"owner": owner, "name": name, "number": number}
        found = self._query(what, documents.PULL_REQUEST_GATE, variables).get("pullRequest")
        if not isinstance(found, dict):
            raise NotFoundError(f"{what}: no such pull request")
        return found

    def pull_request_gate(self, repo: str, number: int) -> PullRequestInfo:
        node = prefetched_answer(self._reads, "gate_facts", repo, number)
        if node is None or node.get("mergeStateStatus") in _NEEDS_CHECKS:
            node = self._pull(repo, number)
        for _ in range(UNKNOWN_REREADS):
            if node.get("state") != "OPEN" or node.get("mergeStateStatus") != "UNKNOWN":
                break
            self._http.sleep(UNKNOWN_PAUSE)  # GitHub computes it after a push: ask again
            node = self._pull(repo, number)
        self._ids[(repo, number)] = str(node["id"])
        return gate_info(node)

    def merge_queue_enabled(self, repo: str, branch: str) -> bool:
        found = prefetched_answer(self._reads, "merge_queue_enabled", repo, branch)
        if found is not None:
            return bool(found)
        owner, name = repo.split("/", 1)
        what = f"reading whether {branch} of {repo} has a merge queue"
        variables = {"owner": owner, "name": name, "branch": branch}
        return self._query(what, documents.MERGE_QUEUE, variables).get("mergeQueue") is not None

    def _node_id(self, repo: str, number: int) -> str:
        known = self._ids.get((repo, number)) or (self._known.get((repo, number)) or (None,))[0]
        if known is None:
            owner, name = repo.split("/", 1)
            what = f"reading pull request #{number} of {repo}"
            variables = {"owner": owner, "name": name, "number": number}
            found = self._query(what, documents.PULL_REQUEST_ID, variables).get("pullRequest")
            if not isinstance(found, dict):
                raise NotFoundError(f"{what}: no such pull request")
            known = self._ids[(repo, number)] = str(found["id"])
        return known

    def _mutate(self, what: str, query: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        """One mutation (spaced as a write); its field's error, if any."""
        with self._http.errors(what):
            _, problems = self._http.graphql(query, variables, mutation=True)
        for problem in problems:
            if not problem.get("path"):
                raise ForgeError(
                    f"{what}: GitHub refused the GraphQL document: {problem.get('message')}"
                )
        return problems[0] if problems else None

    def enable_auto_merge(
        self, repo: str, number: int, *, method: MergeMethod | str, expected_head_sha: str
    ) -> None:
        variables = {
            "pullRequestId": self._node_id(repo, number),
            "mergeMethod": str(method).upper(),
            "expectedHeadOid": expected_head_sha,
        }
        what = f"enabling auto-merge of #{number} of {repo}"
        problem = self._mutate(what, documents.ENABLE_AUTO_MERGE, variables)
        if problem is not None:
            raise refusal(problem, what, repo, number, expected_head_sha)

    def viewer_login(self) -> str | None:
        """From the observe query (``viewer``), else one ``VIEWER`` query,
        once per client; None when that query fails (the arming then counts
        as someone else's: prplan never turns off what is not provably its
        own)."""
        if self._reads is not None and self._reads.viewer:
            return self._reads.viewer
        if self._viewer is None:
            try:
                with self._http.errors("reading the login the token acts as"):
                    data, problems = self._http.graphql(VIEWER, {}, mutation=False)
            except ForgeError:
                # Not known: the arming counts as someone else's (never
                # turned off), rather than failing the whole observation.
                return None
            if problems:
                return None
            self._viewer = actor_login(data.get("viewer"))
        return self._viewer

    def disarm_merge(self, repo: str, number: int, *, armed: MergeArmed) -> None:
        queued = armed is MergeArmed.QUEUED
        what = (
            f"taking #{number} of {repo} out of the merge queue"
            if queued
            else f"turning off auto-merge of #{number} of {repo}"
        )
        node = self._node_id(repo, number)
        if queued:
            problem = self._mutate(what, DEQUEUE_PULL_REQUEST, {"id": node})
        else:
            problem = self._mutate(what, DISABLE_AUTO_MERGE, {"pullRequestId": node})
        if problem is not None:
            kind, message = problem.get("type") or "error", problem.get("message") or ""
            if kind == "NOT_FOUND":
                raise NotFoundError(f"{what}: {message}")
            raise ForgeError(f"{what}: {kind}: {message}")

    def enqueue(self, repo: str, number: int, *, expected_head_sha: str) -> None:
        variables = {
            "pullRequestId": self._node_id(repo, number),
            "expectedHeadOid": expected_head_sha,
        }
        what = f"adding #{number} of {repo} to the merge queue"
        problem = self._mutate(what, documents.ENQUEUE_PULL_REQUEST, variables)
        if problem is not None:
            raise refusal(problem, what, repo, number, expected_head_sha)


def refusal(
    problem: Mapping[str, Any], what: str, repo: str, number: int, expected_head_sha: str
) -> Exception:
    """An auto-merge or enqueue refused, as prplan's error: the head moved
    (``ConflictError``), the repository does not allow it or base has no queue
    (``ForgeError``: a setting, not the gate), it can merge now
    (``MergeableNow``: merge it instead), the gate (``MergeBlocked``)."""
    kind, message = str(problem.get("type") or ""), str(problem.get("message") or "")
    lowered = message.lower()
    if kind == "STALE_DATA" or "head branch was modified" in lowered:
        return ConflictError(
            f"{repo}: #{number}: its head is no longer {expected_head_sha[:7]} (someone pushed "
            f"meanwhile: {message}); nothing was armed. Run prplan again."
        )
    if kind == "NOT_FOUND":
        return NotFoundError(f"{what}: {message}")
    if "auto merge is not allowed" in lowered or "auto-merge is not allowed" in lowered:
        return ForgeError(
            f"{what}: {repo} does not allow auto-merge ({message}). Turn on the repository "
            f"setting {AUTO_MERGE_SETTING}, or merge with merge_when='now' once the gate is clean.",
            status=422,
        )
    if "merge queue" in lowered and "does not use" in lowered:
        return ForgeError(f"{what}: {message}", status=422)
    if "clean status" in lowered or "unstable status" in lowered:
        return MergeableNow(
            number,
            f"{what}: {message}: it can be merged now, so GitHub will not arm a merge. "
            "Run prplan again to merge it.",
        )
    if kind == "UNPROCESSABLE":
        return MergeBlocked(number, message)
    status = 403 if kind == "FORBIDDEN" else None
    return ForgeError(f"{what}: {kind or 'error'}: {message}", status=status)


class GateMethods:
    """The gate methods of ``GitHubClient`` (``run/port.py``'s ``ForgeClient``),
    kept out of ``client.py``."""

    _http: Transport
    _reads: GraphQLReads | None
    _graphql: GraphQLWrites | None

    @property
    def _gates(self) -> GitHubGates:
        found: GitHubGates | None = self.__dict__.get("_gate_reads")
        if found is None:
            known = {} if self._graphql is None else self._graphql.known_pulls
            found = self.__dict__["_gate_reads"] = GitHubGates(self._http, self._reads, known)
        return found

    def pull_request_gate(self, repo: str, number: int) -> PullRequestInfo:
        """The pull request with its ``gate``, ``failing_checks``,
        ``pending_checks`` and ``armed`` (see this module's doc for the cost)."""
        return self._gates.pull_request_gate(repo, number)

    def merge_queue_enabled(self, repo: str, branch: str) -> bool:
        """Whether ``branch`` is merged into through a merge queue. A branch
        the REST branches answer called unprotected has none (a queue is a
        protection setting; were GitHub to disagree, a merge it refuses is
        handed to auto-merge, never forced): no request then."""
        if self.__dict__.get("_unprotected", {}).get((repo, branch)):
            return False
        return self._gates.merge_queue_enabled(repo, branch)

    def _branch_seen(self, repo: str, branch: str, found: Branch) -> Branch:
        """Remember whether a branch read over REST was protected."""
        self.__dict__.setdefault("_unprotected", {})[(repo, branch)] = not found.protected
        return found

    def enable_auto_merge(
        self, repo: str, number: int, *, method: MergeMethod, expected_head_sha: str
    ) -> None:
        """GitHub's native auto-merge with ``method``, only at that head."""
        self._gates.enable_auto_merge(
            repo, number, method=method, expected_head_sha=expected_head_sha
        )

    def viewer_login(self) -> str | None:
        """The login the token acts as (``ForgeClient.viewer_login``)."""
        return self._gates.viewer_login()

    def disarm_merge(self, repo: str, number: int, *, armed: MergeArmed) -> None:
        """prplan's own auto-merge off (``disablePullRequestAutoMerge``), or
        its queue entry out (``dequeuePullRequest``): GraphQL under both
        transports (REST has neither)."""
        self._gates.disarm_merge(repo, number, armed=armed)

    def enqueue(self, repo: str, number: int, *, expected_head_sha: str) -> None:
        """Into base's merge queue, only at that head."""
        self._gates.enqueue(repo, number, expected_head_sha=expected_head_sha)
