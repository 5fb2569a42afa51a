"""Who armed a pull request's merge, from GitHub's answers.

GitHub names the login that enabled auto-merge (GraphQL
``autoMergeRequest.enabledBy``, REST ``auto_merge.enabled_by``) and the one
that enqueued it (``mergeQueueEntry.enqueuer``; REST has no queue). The
planner compares it with the login prplan's token acts as
(``prplan.core.disarm``). Pure: no request. Also the GraphQL documents that turn prplan's arming off
and read the login the token acts as (validated against GitHub's schema
with the others: ``tests/test_graphql_documents.py``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from prplan.core.snapshot import MergeArmed, PullRequestInfo

__all__ = [
    "arming",
    "with_arming",
    "rest_arming",
    "DISABLE_AUTO_MERGE",
    "DEQUEUE_PULL_REQUEST",
    "VIEWER",
    "actor_login",
]


def _login(actor: object) -> str | None:
    """An actor's login as REST spells it: GitHub's GraphQL names a GitHub
    App's bot (``__typename`` ``Bot``) ``name``, REST ``name[bot]``; prplan
    compares logins exactly, so the suffix is put back here."""
    if not isinstance(actor, Mapping) or not actor.get("login"):
        return None
    login = str(actor["login"])
    if actor.get("__typename") == "Bot" and not login.endswith("[bot]"):
        login += "[bot]"
    return login


actor_login = _login


def arming(node: Mapping[str, Any]) -> tuple[MergeArmed, str | None]:
    """How a GraphQL pull request node is armed, and by whom (a queue entry
    wins: auto-merge on a queue base ends in the queue)."""
    queue = node.get("mergeQueueEntry")
    if isinstance(queue, Mapping):
        return MergeArmed.QUEUED, _login(queue.get("enqueuer"))
    auto = node.get("autoMergeRequest")
    if isinstance(auto, Mapping):
        return MergeArmed.AUTO_MERGE, _login(auto.get("enabledBy"))
    return MergeArmed.NONE, None


def with_arming(
    pulls: Iterable[PullRequestInfo], answer: Mapping[str, Any]
) -> list[PullRequestInfo]:
    """The pull requests, the open ones armed as the observe query's answer
    for the repository (its ``openFromBranch`` nodes) says."""
    nodes = answer["openFromBranch"]["nodes"]
    armed = {int(node["number"]): arming(node) for node in nodes}
    out = []
    for pr in pulls:
        how, by = armed.get(pr.number, (MergeArmed.NONE, None)) if pr.is_open else (None, None)
        if how is not None and how is not MergeArmed.NONE:
            pr = attrs.evolve(pr, armed=how, armed_by=by)
        out.append(pr)
    return out


def rest_arming(info: PullRequestInfo, raw: Mapping[str, Any]) -> PullRequestInfo:
    """A REST pull request (list item or full) with its ``auto_merge``."""
    auto = raw.get("auto_merge")
    if not info.is_open or not isinstance(auto, Mapping):
        return info
    return attrs.evolve(info, armed=MergeArmed.AUTO_MERGE, armed_by=_login(auto.get("enabled_by")))


#: prplan's own auto-merge turned off, and its queue entry taken out.
DISABLE_AUTO_MERGE = """
mutation DisableAutoMerge($pullRequestId: ID!) {
  disablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId}) {
    pullRequest { number autoMergeRequest { enabledAt } }
  }
}
"""

DEQUEUE_PULL_REQUEST = """
mutation DequeuePullRequest($id: ID!) {
  dequeuePullRequest(input: {id: $id}) { mergeQueueEntry { id } }
}
"""

#: The login the token acts as (outside an observation: REST, a change set).
VIEWER = """
query Viewer { viewer { __typename login } }
"""
