"""``GitHubClient`` reads the merge gate and arms merges (native auto-merge,
the merge queue) over both transports, against the served local forge: each
gate read from GitHub's words, what auto-merge and the queue then do on the
forge, the refusals as prplan's errors, and what each call costs in requests
(docs/github.md, "Merge gates over GitHub's API")."""

from __future__ import annotations

import itertools
import json
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import graphql
import pytest

import prplan
from prplan.core.snapshot import Gate, MergeArmed
from prplan.errors import ConflictError, ForgeError, MergeBlocked
from prplan.forges.github import graphql_documents as documents
from prplan.forges.github.gates import UNKNOWN_PAUSE, UNKNOWN_REREADS, GitHubGates
from prplan.forges.github.graphql_documents import RepositoryRead
from prplan.forges.github.graphql_reads import node_cost
from prplan.forges.local.server.app import ForgeServer

import graphql_contract
from served import TOKEN, Served

TRANSPORTS = ("graphql", "rest")
_names = itertools.count()


@pytest.fixture(scope="module")
def served(forge_server: ForgeServer) -> Iterator[Served]:
    forge = prplan.LocalForge.in_memory()
    serving = Served(forge_server, forge)
    yield serving
    assert serving.violations == []
    forge.close()


@pytest.fixture(params=TRANSPORTS)
def client(request: pytest.FixtureRequest, served: Served) -> prplan.GitHubClient:
    return served.new_client(transport=request.param)


def _repo(forge: prplan.LocalForge, **protection: Any) -> str:
    repo = f"acme/gh{next(_names)}"
    forge.create_repo(repo, {"a.txt": "one\n", "b.txt": "two\n"})
    if protection:
        forge.protect_branch(repo, "main", **protection)
    return repo


def _pr(forge: prplan.LocalForge, repo: str, files: dict[str, Any] | None = None, **kw: Any) -> int:
    branch = f"change{next(_names)}"
    forge.push(repo, branch, files or {f"{branch}.txt": "new\n"})
    return forge.open_pr(repo, branch, **kw)


def _head(forge: prplan.LocalForge, repo: str, number: int) -> str:
    return str(forge.pull_row(repo, number)["head_sha"])


# --- the gate, from GitHub's words ----------------------------------------------------

LINT = {"required_checks": ["ci/lint"]}


def _clean(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge)
    return repo, _pr(forge, repo)


def _pending(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, **LINT)
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "ci/lint", "pending")
    return repo, number


def _failing(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, required_checks=["ci/lint", "ci/test"])
    number = _pr(forge, repo)
    head = _head(forge, repo, number)
    forge.set_status(repo, head, "ci/lint", "failure")
    forge.set_status(repo, head, "ci/test", "pending")
    forge.set_status(repo, head, "docs", "failure")  # not required: not named
    return repo, number


def _needs_review(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, required_checks=["ci/lint"], required_approvals=1)
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "ci/lint", "success")
    return repo, number


def _behind(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, required_checks=["ci/lint"], strict=True)
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "ci/lint", "success")
    forge.push(repo, "main", {"c.txt": "base moved\n"})
    return repo, number


def _conflict(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge)
    number = _pr(forge, repo, {"a.txt": "theirs\n"})
    forge.push(repo, "main", {"a.txt": "ours\n"})
    return repo, number


def _draft(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge)
    return repo, _pr(forge, repo, draft=True)


def _auto_merge(forge: prplan.LocalForge) -> tuple[str, int]:
    repo, number = _pending(forge)
    forge.enable_auto_merge(repo, number, "squash")
    return repo, number


def _queued(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, required_checks=["ci/lint"], merge_queue=True)
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "ci/lint", "pending")
    forge.enqueue(repo, number)
    return repo, number


def _expected(forge: prplan.LocalForge) -> tuple[str, int]:
    repo = _repo(forge, **LINT)  # ci/lint required, never reported
    return repo, _pr(forge, repo)


Setup = Callable[[prplan.LocalForge], tuple[str, int]]

#: (set-up, gate, failing checks, pending checks, armed, base has a merge queue)
CASES: dict[str, tuple[Setup, Gate, tuple[str, ...], tuple[str, ...], MergeArmed, bool]] = {
    "clean": (_clean, Gate.CLEAN, (), (), MergeArmed.NONE, False),
    "pending": (_pending, Gate.PENDING, (), ("ci/lint",), MergeArmed.NONE, False),
    "failing": (_failing, Gate.FAILING, ("ci/lint",), ("ci/test",), MergeArmed.NONE, False),
    "needs_review": (_needs_review, Gate.NEEDS_REVIEW, (), (), MergeArmed.NONE, False),
    "behind": (_behind, Gate.BEHIND, (), (), MergeArmed.NONE, False),
    "conflict": (_conflict, Gate.CONFLICT, (), (), MergeArmed.NONE, False),
    "draft": (_draft, Gate.DRAFT, (), (), MergeArmed.NONE, False),
    "auto_merge": (_auto_merge, Gate.PENDING, (), ("ci/lint",), MergeArmed.AUTO_MERGE, False),
    "queued": (_queued, Gate.PENDING, (), ("ci/lint",), MergeArmed.QUEUED, True),
}


def test_a_required_check_never_reported_is_pending_by_name_as_directly(
    served: Served, client: prplan.GitHubClient
) -> None:
    # GitHub's rollup lists only checks that reported: the name comes from
    # base's protection rule (requiredStatusCheckContexts).
    repo, number = _expected(served.forge)
    info = client.pull_request_gate(repo, number)
    assert (info.gate, info.failing_checks, info.pending_checks) == (Gate.PENDING, (), ("ci/lint",))
    direct = served.forge.pull_request_gate(repo, number)
    assert (direct.gate, direct.failing_checks, direct.pending_checks) == (
        info.gate, info.failing_checks, info.pending_checks,
    )  # fmt: skip


def test_only_the_required_checks_nobody_reported_are_expected(
    served: Served, client: prplan.GitHubClient
) -> None:
    repo = _repo(served.forge, required_checks=["ci/lint", "ci/test", "policy"])
    number = _pr(served.forge, repo)
    served.forge.set_status(repo, _head(served.forge, repo, number), "ci/lint", "failure")
    served.forge.set_status(repo, _head(served.forge, repo, number), "ci/test", "success")
    info = client.pull_request_gate(repo, number)
    assert (info.gate, info.failing_checks, info.pending_checks) == (
        Gate.FAILING, ("ci/lint",), ("policy",),
    )  # fmt: skip
    # a new head re-arms: every required check is expected again, by name
    served.forge.push(repo, str(served.forge.pull_row(repo, number)["head"]), {"c.txt": "c\n"})
    info = client.pull_request_gate(repo, number)
    assert (info.gate, info.failing_checks, info.pending_checks) == (
        Gate.PENDING, (), ("ci/lint", "ci/test", "policy"),
    )  # fmt: skip


_RULE = """
query Rule($owner: String!, $name: String!, $ref: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    ref(qualifiedName: $ref) { branchProtectionRule { pattern RULE } }
    pullRequest(number: $number) { baseRef { name branchProtectionRule { pattern } } }
  }
}
""".replace("RULE", documents.GATE_RULE_FIELDS)


def test_the_forge_serves_base_protection_as_githubs_branch_protection_rule(
    served: Served,
) -> None:
    repo = _repo(
        served.forge, required_checks=["ci/lint", "policy"], required_approvals=2, strict=True
    )
    number = _pr(served.forge, repo)
    owner, name = repo.split("/")

    def rule(ref: str) -> dict[str, Any]:
        variables = {"owner": owner, "name": name, "ref": ref, "number": number}
        request = urllib.request.Request(
            served.server.url + "/api/graphql",
            data=json.dumps({"query": _RULE, "variables": variables}).encode(),
            headers={"Authorization": f"bearer {TOKEN}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            found: dict[str, Any] = json.loads(answer.read())
        assert "errors" not in found, found
        return dict(found["data"]["repository"])

    answer = rule("refs/heads/main")
    assert answer["ref"]["branchProtectionRule"] == {
        "pattern": "main",
        "requiredStatusCheckContexts": ["ci/lint", "policy"],
        "requiresStrictStatusChecks": True,
        "requiredApprovingReviewCount": 2,
    }
    assert answer["pullRequest"]["baseRef"] == {
        "name": "main", "branchProtectionRule": {"pattern": "main"},
    }  # fmt: skip
    head = str(served.forge.pull_row(repo, number)["head"])
    assert rule(f"refs/heads/{head}")["ref"] == {"branchProtectionRule": None}  # not protected


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_gate_is_read_from_githubs_words(
    served: Served, client: prplan.GitHubClient, case: str
) -> None:
    setup, gate, failing, pending, armed, queue = CASES[case]
    repo, number = setup(served.forge)
    before = client.request_count()
    info = client.pull_request_gate(repo, number)
    assert (info.gate, info.failing_checks, info.pending_checks, info.armed) == (
        gate, failing, pending, armed,
    )  # fmt: skip
    assert (info.number, info.is_open, info.head_sha) == (
        number, True, _head(served.forge, repo, number),
    )  # fmt: skip
    assert client.merge_queue_enabled(repo, "main") is queue
    # one query each, whatever the transport (REST has no merge state naming checks)
    assert client.request_count() - before == prplan.RequestCount(reads=2, writes=0)


def test_a_closed_pull_request_has_no_gate(served: Served, client: prplan.GitHubClient) -> None:
    repo, number = _failing(served.forge)
    served.forge.close_pr(repo, number)
    info = client.pull_request_gate(repo, number)
    assert (info.is_open, info.gate, info.failing_checks, info.armed) == (
        False, Gate.CLEAN, (), MergeArmed.NONE,
    )  # fmt: skip


# --- inside an observation: answered from the observe query --------------------------


def _request(repo: str, branch: str, automerge: bool = True) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=repo, branch=branch, base="main", files={"x.txt": "x\n"}, automerge=automerge
    )


@pytest.mark.parametrize(
    ("case", "extra"), [("clean", 0), ("conflict", 0), ("queued", 1), ("pending", 1)]
)
def test_inside_an_observation_the_gate_costs_a_query_only_when_blocked(
    served: Served, case: str, extra: int
) -> None:
    client = served.new_client(transport="graphql")
    setup, gate, _, pending, armed, queue = CASES[case]
    repo, number = setup(served.forge)
    branch = str(served.forge.pull_row(repo, number)["head"])
    with client.observing(_request(repo, branch)):
        before = client.request_count()
        info = client.pull_request_gate(repo, number)
        assert client.merge_queue_enabled(repo, "main") is queue
        spent = client.request_count() - before
    assert (info.gate, info.pending_checks, info.armed) == (gate, pending, armed)
    assert spent == prplan.RequestCount(reads=extra, writes=0)


def test_without_automerge_the_observe_query_reads_no_gate(served: Served) -> None:
    client = served.new_client(transport="graphql")
    repo, number = _clean(served.forge)
    branch = str(served.forge.pull_row(repo, number)["head"])
    with client.observing(_request(repo, branch, automerge=False)):
        before = client.request_count()
        client.merge_queue_enabled(repo, "main")
        assert client.request_count() - before == prplan.RequestCount(reads=1, writes=0)
    assert (
        "mergeStateStatus"
        not in documents.observe_document([RepositoryRead("acme", "x", "main", "b")]).text
    )


# --- arming a merge -------------------------------------------------------------------


def test_auto_merge_then_a_passing_check_makes_the_forge_merge(
    served: Served, client: prplan.GitHubClient
) -> None:
    forge = served.forge
    repo, number = _pending(forge)
    head = _head(forge, repo, number)
    before = client.request_count()
    client.enable_auto_merge(repo, number, method=prplan.MergeMethod.SQUASH, expected_head_sha=head)
    # the pull request's node id (not seen by this client yet) and the mutation
    assert client.request_count() - before == prplan.RequestCount(reads=1, writes=1)
    assert client.pull_request_gate(repo, number).armed is MergeArmed.AUTO_MERGE
    forge.set_status(repo, head, "ci/lint", "success")
    merged = client.pull_request_gate(repo, number)
    assert (merged.merged, merged.is_open) == (True, False)
    branch = str(forge.pull_row(repo, number)["head"])
    assert forge.read_file(repo, "main", f"{branch}.txt") == b"new\n"


def test_enqueue_then_the_queue_merges(served: Served, client: prplan.GitHubClient) -> None:
    forge = served.forge
    repo = _repo(forge, required_checks=["ci/lint"], merge_queue=True)
    number = _pr(forge, repo)
    head = _head(forge, repo, number)
    gate = client.pull_request_gate(repo, number)  # learns the node id
    before = client.request_count()
    client.enqueue(repo, number, expected_head_sha=head)
    assert client.request_count() - before == prplan.RequestCount(reads=0, writes=1)
    assert (gate.armed, client.pull_request_gate(repo, number).armed) == (
        MergeArmed.NONE, MergeArmed.QUEUED,
    )  # fmt: skip
    forge.set_status(repo, head, "ci/lint", "success")
    assert client.pull_request_gate(repo, number).merged


def test_a_moved_head_is_a_conflict_and_arms_nothing(
    served: Served, client: prplan.GitHubClient
) -> None:
    forge = served.forge
    repo, number = _pending(forge)
    stale = _head(forge, repo, number)
    forge.push(repo, str(forge.pull_row(repo, number)["head"]), {"more.txt": "more\n"})
    with pytest.raises(ConflictError, match=f"no longer {stale[:7]}"):
        client.enable_auto_merge(
            repo, number, method=prplan.MergeMethod.MERGE, expected_head_sha=stale
        )
    queue_repo = _repo(forge, required_checks=["ci/lint"], merge_queue=True)
    queued = _pr(forge, queue_repo)
    with pytest.raises(ConflictError):
        client.enqueue(queue_repo, queued, expected_head_sha="0" * 40)
    assert client.pull_request_gate(repo, number).armed is MergeArmed.NONE
    assert client.pull_request_gate(queue_repo, queued).armed is MergeArmed.NONE


def test_gate_refusals_are_merge_blocked(served: Served, client: prplan.GitHubClient) -> None:
    forge = served.forge
    repo, number = _draft(forge)
    with pytest.raises(MergeBlocked, match="draft") as refused:
        client.enable_auto_merge(
            repo,
            number,
            method=prplan.MergeMethod.MERGE,
            expected_head_sha=_head(forge, repo, number),
        )
    assert refused.value.number == number
    queue_repo = _repo(forge, required_checks=[], required_approvals=1, merge_queue=True)
    queued = _pr(forge, queue_repo)
    with pytest.raises(MergeBlocked, match="approving review"):
        client.enqueue(queue_repo, queued, expected_head_sha=_head(forge, queue_repo, queued))


def test_settings_refusals_are_forge_errors_that_say_what_to_change(
    served: Served, client: prplan.GitHubClient
) -> None:
    forge = served.forge
    repo, number = _pending(forge)
    forge.set_allow_auto_merge(repo, False)
    head = _head(forge, repo, number)
    with pytest.raises(ForgeError, match='"Allow auto-merge"') as refused:
        client.enable_auto_merge(
            repo, number, method=prplan.MergeMethod.MERGE, expected_head_sha=head
        )
    assert refused.value.status == 422 and repo in str(refused.value)
    with pytest.raises(ForgeError, match="merge queue") as no_queue:
        client.enqueue(repo, number, expected_head_sha=head)
    assert not isinstance(no_queue.value, MergeBlocked)


@pytest.mark.parametrize("transport", TRANSPORTS)
def test_a_merge_the_gate_forbids_is_merge_blocked(served: Served, transport: str) -> None:
    forge = served.forge
    client = served.new_client(transport=transport)
    repo = _repo(forge, **LINT)
    branch = f"prplan/x{next(_names)}"
    forge.push(repo, branch, {"x.txt": "x\n"})
    pr = client.create_pull_request(repo, head=branch, base="main", title="t", body="")
    with pytest.raises(
        MergeBlocked, match='Required status check "ci/lint" is expected'
    ) as blocked:
        client.merge_pull_request(repo, pr.number, method="merge", expected_head_sha=pr.head_sha)
    assert blocked.value.number == pr.number
    assert forge.pull_row(repo, pr.number)["state"] == "open"
    # opened by this client: arming needs no read of the node id over GraphQL
    before = client.request_count()
    client.enable_auto_merge(
        repo, pr.number, method=prplan.MergeMethod.MERGE, expected_head_sha=pr.head_sha
    )
    reads = 0 if transport == "graphql" else 1
    assert client.request_count() - before == prplan.RequestCount(reads=reads, writes=1)


# --- UNKNOWN: GitHub still computing ---------------------------------------------------


class _Answers:
    """A transport answering ``PULL_REQUEST_GATE`` with merge states in turn."""

    def __init__(self, states: list[str]) -> None:
        self.states, self.slept, self.asked = states, list[float](), 0

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    def errors(self, what: str) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def graphql(self, query: str, variables: dict[str, Any], *, mutation: bool) -> Any:
        state = self.states[min(self.asked, len(self.states) - 1)]
        self.asked += 1
        pull = {
            "id": "PR_1", "number": 7, "state": "OPEN", "merged": False, "isDraft": False,
            "baseRefName": "main", "headRefName": "b", "headRefOid": "a" * 40, "title": "t",
            "url": "u", "mergeStateStatus": state, "reviewDecision": None,
            "autoMergeRequest": None, "mergeQueueEntry": None, "commits": {"nodes": []},
        }  # fmt: skip
        return {"repository": {"pullRequest": pull}}, []


@pytest.mark.parametrize(
    ("states", "gate", "asked"),
    [
        (["UNKNOWN", "UNKNOWN", "CLEAN"], Gate.CLEAN, 3),
        (["UNKNOWN"], Gate.PENDING, 1 + UNKNOWN_REREADS),
        (["CLEAN"], Gate.CLEAN, 1),
    ],
)
def test_an_unknown_merge_state_is_read_again_briefly_then_counts_as_pending(
    states: list[str], gate: Gate, asked: int
) -> None:
    http = _Answers(states)
    info = GitHubGates(http, None, {}).pull_request_gate("acme/x", 7)  # type: ignore[arg-type]
    assert (info.gate, http.asked, http.slept) == (gate, asked, [UNKNOWN_PAUSE] * (asked - 1))


# --- the documents -----------------------------------------------------------------------


def test_the_gate_documents_validate_against_githubs_schema_and_cost_no_more_nodes() -> None:
    github = graphql_contract.github_schema()
    reads = [
        RepositoryRead("acme", "app", "main", "prplan/x", ("a/b.yaml",), gates=True),
        RepositoryRead("acme", "other", "", "prplan/x", gates=True),
    ]
    texts = [
        documents.observe_document(reads).text,
        documents.PULL_REQUEST_GATE,
        documents.PULL_REQUEST_ID,
        documents.MERGE_QUEUE,
        documents.ENABLE_AUTO_MERGE,
        documents.ENQUEUE_PULL_REQUEST,
    ]
    for text in texts:
        assert [p.message for p in graphql.validate(github, graphql.parse(text))] == []
    plain = [r._replace(gates=False) for r in reads]
    assert node_cost(documents.observe_document(reads)) == node_cost(
        documents.observe_document(plain)
    )
    gate = documents.Document(documents.PULL_REQUEST_GATE, {})
    assert node_cost(gate) == 1 + 100
