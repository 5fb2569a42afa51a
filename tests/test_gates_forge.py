"""The local forge models GitHub's merge gates: protection, checks, reviews,
the merge state, native auto-merge and merge queues, in process and over
REST and GraphQL. One forge per module; each test has its own repository."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

import prplan
from prplan import errors
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served

REVIEWER_TOKEN = "ghp_reviewerTOKEN0123456789"
_names = itertools.count()


@pytest.fixture(scope="module")
def forge() -> Iterator[prplan.LocalForge]:
    with prplan.LocalForge.in_memory() as made:
        yield made


def _repo(forge: prplan.LocalForge, **protection: Any) -> str:
    repo = f"acme/gate{next(_names)}"
    forge.create_repo(repo, {"a.txt": "one\n", "b.txt": "two\n"})
    if protection:
        forge.protect_branch(repo, "main", **protection)
    return repo


def _pr(forge: prplan.LocalForge, repo: str, files: dict[str, str] | None = None, **kw: Any) -> int:
    branch = f"change{next(_names)}"
    forge.push(repo, branch, files or {f"{branch}.txt": "new\n"})
    return forge.open_pr(repo, branch, **kw)


def _state(forge: prplan.LocalForge, repo: str, number: int) -> str:
    return forge.gate_view(repo, number).merge_state_status


def _head(forge: prplan.LocalForge, repo: str, number: int) -> str:
    return forge.gate_view(repo, number).head_sha


# --- the gate, case by case -----------------------------------------------------------


@pytest.mark.parametrize(
    ("report", "state", "message"),
    [
        (None, "BLOCKED", 'Required status check "ci/lint" is expected.'),
        ("pending", "BLOCKED", 'Required status check "ci/lint" is expected.'),
        ("failure", "BLOCKED", 'Required status check "ci/lint" is failing.'),
        ("error", "BLOCKED", 'Required status check "ci/lint" is failing.'),
        ("success", "CLEAN", None),
    ],
)
def test_a_required_check_gates_the_merge(
    forge: prplan.LocalForge, report: str | None, state: str, message: str | None
) -> None:
    repo = _repo(forge, required_checks=["ci/lint"])
    number = _pr(forge, repo)
    if report is not None:
        forge.set_status(repo, _head(forge, repo, number), "ci/lint", report)
    gate = forge.gate_view(repo, number)
    assert (gate.merge_state_status, gate.blocked_by) == (state, message)
    assert [(c.name, c.required) for c in gate.checks] == [("ci/lint", True)]
    if message is None:
        forge.merge_pr(repo, number)
        assert forge.pull_requests(repo)[0].merged
    else:
        with pytest.raises(errors.MergeBlocked, match=message.replace(".", r"\.")):
            forge.merge_pr(repo, number)
        assert forge.pull_requests(repo)[0].state == "open"


def test_a_failing_check_run_that_is_not_required_is_unstable_and_still_merges(
    forge: prplan.LocalForge,
) -> None:
    repo = _repo(forge, required_checks=["build"])
    number = _pr(forge, repo)
    head = _head(forge, repo, number)
    forge.add_check_run(repo, head, "build", "completed", "success")
    forge.add_check_run(repo, head, "coverage", "completed", "failure")
    gate = forge.gate_view(repo, number)
    assert gate.merge_state_status == "UNSTABLE"
    assert {(c.name, c.state, c.required) for c in gate.checks} == {
        ("build", "success", True), ("coverage", "failure", False),
    }  # fmt: skip
    forge.merge_pr(repo, number)
    assert forge.pull_requests(repo)[0].merged


def test_approvals_decide_the_review_and_the_author_cannot_approve(
    forge: prplan.LocalForge,
) -> None:
    repo = _repo(forge, required_approvals=2)
    number = _pr(forge, repo, author="alice")
    gate = forge.gate_view(repo, number)
    assert (gate.merge_state_status, gate.review_decision) == ("BLOCKED", "REVIEW_REQUIRED")
    assert gate.blocked_by == (
        "At least 2 approving reviews are required by reviewers with write access."
    )
    with pytest.raises(errors.ForgeError, match="Can not approve your own pull request"):
        forge.approve(repo, number, "alice")
    forge.approve(repo, number, "bob")
    forge.review(repo, number, "carol", "REQUEST_CHANGES", "no")
    assert forge.gate_view(repo, number).review_decision == "CHANGES_REQUESTED"
    forge.approve(repo, number, "carol")
    assert forge.gate_view(repo, number).review_decision == "APPROVED"
    assert _state(forge, repo, number) == "CLEAN"


def test_strict_checks_and_a_moved_base_are_behind(forge: prplan.LocalForge) -> None:
    repo = _repo(forge, required_checks=["ci"], strict=True)
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "ci", "success")
    assert _state(forge, repo, number) == "CLEAN"
    forge.push(repo, "main", {"c.txt": "elsewhere\n"})
    gate = forge.gate_view(repo, number)
    assert gate.merge_state_status == "BEHIND"
    with pytest.raises(errors.MergeBlocked, match="out of date"):
        forge.merge_pr(repo, number)


def test_a_conflict_is_dirty_and_a_draft_is_draft(forge: prplan.LocalForge) -> None:
    repo = _repo(forge)
    conflicting = _pr(forge, repo, {"a.txt": "mine\n"})
    forge.push(repo, "main", {"a.txt": "theirs\n"})
    assert _state(forge, repo, conflicting) == "DIRTY"
    draft = _pr(forge, repo, draft=True)
    assert forge.gate_view(repo, draft).is_draft
    assert _state(forge, repo, draft) == "DRAFT"
    with pytest.raises(errors.MergeBlocked, match="still a draft"):
        forge.merge_pr(repo, draft)
    forge.set_draft(repo, draft, False)
    assert _state(forge, repo, draft) == "CLEAN"


def test_a_protected_branch_is_neither_deleted_nor_force_pushed(forge: prplan.LocalForge) -> None:
    repo = _repo(forge)
    forge.push(repo, "release", {"r.txt": "1\n"})
    old = forge.branches(repo)["release"]
    forge.protect_branch(repo, "release")
    with pytest.raises(errors.ForgeError, match="protected"):
        forge.remove_branch(repo, "release")
    with pytest.raises(errors.ForgeError, match="force-push"):
        forge.set_branch(repo, "release", "main")
    assert forge.branches(repo)["release"] == old
    forge.unprotect_branch(repo, "release")
    forge.remove_branch(repo, "release")


def test_bad_protection_names_the_field(forge: prplan.LocalForge) -> None:
    repo = _repo(forge)
    with pytest.raises(errors.InvalidRequestError) as caught:
        forge.protect_branch(repo, "main", required_checks=[""], required_approvals=9)
    assert [p.field for p in caught.value.problems] == ["required_checks[0]", "required_approvals"]


# --- auto-merge and the queue, in process -----------------------------------------------


def test_auto_merge_fires_when_the_required_check_turns_green(forge: prplan.LocalForge) -> None:
    repo = _repo(forge, required_checks=["ci/lint"])
    number = _pr(forge, repo)
    with pytest.raises(errors.ForgeError, match="Pull request is in clean status"):
        other = _repo(forge)
        forge.enable_auto_merge(other, _pr(forge, other), "squash")
    gate = forge.enable_auto_merge(repo, number, "squash")
    assert gate.auto_merge_method == "squash"
    forge.set_status(repo, gate.head_sha, "ci/lint", "pending")
    assert forge.pull_requests(repo)[0].state == "open"
    forge.set_status(repo, gate.head_sha, "ci/lint", "success")
    merged = forge.pull_requests(repo)[0]
    assert merged.merged
    assert forge.commit_parents(repo, merged.merge_sha or "") == [
        forge.log(repo, "main")[1].sha
    ]  # squash: one parent


def test_auto_merge_is_refused_where_the_repository_disallows_it(forge: prplan.LocalForge) -> None:
    repo = _repo(forge, required_checks=["ci"])
    forge.set_allow_auto_merge(repo, False)
    with pytest.raises(errors.ForgeError, match="not allowed"):
        forge.enable_auto_merge(repo, _pr(forge, repo))


def test_a_closed_pull_request_loses_auto_merge(forge: prplan.LocalForge) -> None:
    repo = _repo(forge, required_checks=["ci"])
    number = _pr(forge, repo)
    forge.enable_auto_merge(repo, number)
    forge.close_pr(repo, number)
    assert forge.auto_merge_request(repo, number) is None
    forge.reopen_pr(repo, number)
    forge.set_status(repo, _head(forge, repo, number), "ci", "success")
    assert not forge.pull_requests(repo)[0].merged


def test_the_queue_merges_in_order_and_drops_a_failing_pull_request(
    forge: prplan.LocalForge,
) -> None:
    repo = _repo(forge, required_checks=["ci"], merge_queue=True)
    first, second, third = (_pr(forge, repo) for _ in range(3))
    with pytest.raises(errors.MergeBlocked, match="merge queue"):
        forge.merge_pr(repo, first)
    assert [forge.enqueue(repo, n) for n in (first, second, third)] == [0, 1, 2]
    forge.set_status(repo, _head(forge, repo, second), "ci", "success")
    assert not any(p.merged for p in forge.pull_requests(repo))  # second waits for first
    forge.set_status(repo, _head(forge, repo, first), "ci", "failure")
    pulls = {p.number: p for p in forge.pull_requests(repo)}
    assert (pulls[first].merged, pulls[second].merged) == (False, True)
    assert forge.queue_entry(repo, first) is None and pulls[first].state == "open"
    assert forge.queue_entry(repo, third) is not None
    assert forge.queue_entry(repo, third)["position"] == 0  # type: ignore[index]
    with pytest.raises(errors.ForgeError, match="does not use a merge queue"):
        other = _repo(forge, required_checks=["ci"])
        forge.enqueue(other, _pr(forge, other))


# --- over HTTP --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(forge_server: ForgeServer) -> Iterator[Served]:
    made = prplan.LocalForge.in_memory()
    serving = Served(forge_server, made)
    serving.app._logins[REVIEWER_TOKEN] = "reviewer"
    yield serving
    made.close()


def _call(served: Served, method: str, path: str, body: Any = None,
          token: str = TOKEN) -> tuple[int, Any]:  # fmt: skip
    request = urllib.request.Request(
        served.server.url + path,
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            text = answer.read()
            return answer.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _graphql(served: Served, query: str, **variables: Any) -> dict[str, Any]:
    status, body = _call(served, "POST", "/api/graphql", {"query": query, "variables": variables})
    assert status == 200
    return dict(body)


def test_rest_statuses_check_runs_reviews_and_the_405_on_contract(served: Served) -> None:
    forge = served.forge
    repo = _repo(forge, required_checks=["ci/lint", "build"], required_approvals=1)
    number = _pr(forge, repo, author="prplan")
    api = f"/api/v3/repos/{repo}"
    head = _head(forge, repo, number)
    status, body = _call(served, "PUT", f"{api}/pulls/{number}/merge", {})
    assert (status, body["message"]) == (405, "2 of 2 required status checks are expected.")
    assert _call(served, "GET", f"{api}/pulls/{number}")[1]["mergeable_state"] == "blocked"
    status, body = _call(served, "POST", f"{api}/statuses/{head}",
                         {"state": "success", "context": "ci/lint"})  # fmt: skip
    assert (status, body["state"], body["creator"]["login"]) == (201, "success", "prplan")
    status, body = _call(served, "POST", f"{api}/check-runs",
                         {"name": "build", "head_sha": head, "conclusion": "success"})  # fmt: skip
    assert (status, body["status"]) == (201, "completed")
    combined = _call(served, "GET", f"{api}/commits/{head}/status")[1]
    assert (combined["state"], combined["total_count"]) == ("success", 1)
    runs = _call(served, "GET", f"{api}/commits/{head}/check-runs")[1]
    assert [r["name"] for r in runs["check_runs"]] == ["build"]
    status, body = _call(served, "PUT", f"{api}/pulls/{number}/merge", {})
    assert (status, body["message"]) == (
        405, "At least 1 approving review is required by reviewers with write access.",
    )  # fmt: skip
    status, body = _call(served, "POST", f"{api}/pulls/{number}/reviews", {"event": "APPROVE"})
    assert status == 422  # the token's user opened it
    status, body = _call(served, "POST", f"{api}/pulls/{number}/reviews", {"event": "APPROVE"},
                         token=REVIEWER_TOKEN)  # fmt: skip
    assert (status, body["state"], body["user"]["login"]) == (200, "APPROVED", "reviewer")
    assert [r["state"] for r in _call(served, "GET", f"{api}/pulls/{number}/reviews")[1]] == [
        "APPROVED"
    ]
    pull = _call(served, "GET", f"{api}/pulls/{number}")[1]
    assert (pull["mergeable_state"], pull["draft"], pull["auto_merge"]) == ("clean", False, None)
    assert _call(served, "PUT", f"{api}/pulls/{number}/merge", {})[0] == 200
    assert served.violations == []


_PR_GATE = """query($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    autoMergeAllowed
    mergeQueue(branch: "main") { id }
    pullRequests(first: 100) { nodes { number id isDraft mergeStateStatus reviewDecision state
      autoMergeRequest { enabledAt mergeMethod enabledBy { login } }
      mergeQueueEntry { state position }
      commits(last: 1) { nodes { commit { oid statusCheckRollup { state contexts(first: 100) {
        nodes { __typename
          ... on CheckRun { name status conclusion isRequired(pullRequestNumber: $number) }
          ... on StatusContext { context state isRequired(pullRequestNumber: $number) }
        } } } } } } } }
  }
}"""


def _pull(served: Served, repo: str, number: int) -> dict[str, Any]:
    owner, name = repo.split("/")
    data = _graphql(served, _PR_GATE, owner=owner, name=name, number=number)["data"]
    found = next(p for p in data["repository"]["pullRequests"]["nodes"] if p["number"] == number)
    settings = {k: v for k, v in data["repository"].items() if k != "pullRequests"}
    return {**found, "repository": settings}


def test_graphql_reads_the_gate_refuses_the_merge_and_auto_merge_fires(served: Served) -> None:
    forge = served.forge
    repo = _repo(forge, required_checks=["ci/lint"])
    number = _pr(forge, repo)
    forge.set_status(repo, _head(forge, repo, number), "docs", "failure")
    pull = _pull(served, repo, number)
    assert (pull["mergeStateStatus"], pull["reviewDecision"], pull["isDraft"]) == (
        "BLOCKED", None, False,
    )  # fmt: skip
    assert pull["repository"] == {"autoMergeAllowed": True, "mergeQueue": None}
    rollup = pull["commits"]["nodes"][0]["commit"]["statusCheckRollup"]
    assert rollup["state"] == "FAILURE"
    assert rollup["contexts"]["nodes"] == [
        {"__typename": "StatusContext", "context": "docs", "state": "FAILURE", "isRequired": False}
    ]
    merge = _graphql(served, "mutation($id: ID!) { mergePullRequest(input: {pullRequestId: $id}) "
                     "{ pullRequest { state } } }", id=pull["id"])  # fmt: skip
    assert merge["errors"][0]["type"] == "UNPROCESSABLE"
    assert merge["errors"][0]["message"] == 'Required status check "ci/lint" is expected.'
    enable = _graphql(served, "mutation($id: ID!) { enablePullRequestAutoMerge(input: "
                      "{pullRequestId: $id, mergeMethod: REBASE}) { pullRequest { autoMergeRequest "
                      "{ mergeMethod enabledBy { login } } } } }", id=pull["id"])  # fmt: skip
    request = enable["data"]["enablePullRequestAutoMerge"]["pullRequest"]["autoMergeRequest"]
    assert request == {"mergeMethod": "REBASE", "enabledBy": {"login": "prplan"}}
    head = _head(forge, repo, number)
    assert _call(served, "POST", f"/api/v3/repos/{repo}/statuses/{head}",
                 {"state": "success", "context": "ci/lint"})[0] == 201  # fmt: skip
    after = _pull(served, repo, number)
    assert (after["state"], after["autoMergeRequest"]) == ("MERGED", None)
    assert served.violations == []


def test_graphql_enqueue_and_its_refusals(served: Served) -> None:
    forge = served.forge
    plain = _repo(forge)
    clean = _pull(served, plain, _pr(forge, plain))
    refused = _graphql(served, "mutation($id: ID!) { enablePullRequestAutoMerge(input: "
                       "{pullRequestId: $id}) { clientMutationId } }", id=clean["id"])  # fmt: skip
    assert refused["errors"][0]["message"] == "Pull request is in clean status"
    no_queue = _graphql(served, "mutation($id: ID!) { enqueuePullRequest(input: "
                        "{pullRequestId: $id}) { clientMutationId } }", id=clean["id"])  # fmt: skip
    assert no_queue["errors"][0]["type"] == "UNPROCESSABLE"
    repo = _repo(forge, required_checks=["ci"], merge_queue=True)
    number = _pr(forge, repo)
    pull = _pull(served, repo, number)
    assert pull["repository"]["mergeQueue"] is not None
    queued = _graphql(served, "mutation($id: ID!) { enqueuePullRequest(input: {pullRequestId: "
                      "$id}) { mergeQueueEntry { state position } } }", id=pull["id"])  # fmt: skip
    entry = queued["data"]["enqueuePullRequest"]["mergeQueueEntry"]
    assert entry == {"state": "AWAITING_CHECKS", "position": 0}
    forge.set_status(repo, _head(forge, repo, number), "ci", "success")
    assert _pull(served, repo, number)["state"] == "MERGED"
