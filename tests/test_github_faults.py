"""Faults on every write prplan makes through GitHubClient over HTTP.

For each write (blob, tree, commit, create ref, update ref, open PR, merge,
delete branch) and each fault (5xx, rate limits with Retry-After, a dropped
connection before or after the request was handled, a slow answer), the run
ends converged (the re-plan is empty, possibly after one re-run) or with a
typed error; never two pull requests, never a lost or doubled commit, never
a merge that was not asked for.
"""

from __future__ import annotations

import pytest

import prplan
from prplan.localforge._rest import ForgeServer

from served import Served

REPO = "acme/app"
BRANCH = "prplan/bump"

WRITES = {
    "blob": ("POST", r"/git/blobs$"),
    "tree": ("POST", r"/git/trees$"),
    "commit": ("POST", r"/git/commits$"),
    "create_ref": ("POST", r"/git/refs$"),
    "update_ref": ("PATCH", r"/git/refs/heads/"),
    "open_pr": ("POST", r"/pulls$"),
    "merge": ("PUT", r"/merge$"),
    "delete_branch": ("DELETE", r"/git/refs/heads/"),
}
FAULTS = {
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503},
    "429-retry-after": {
        "status": 429,
        "headers": {"Retry-After": "0"},
        "message": "Too many requests",
    },
    "403-secondary": {
        "status": 403,
        "headers": {"Retry-After": "0"},
        "message": "You have exceeded a secondary rate limit",
    },
    "drop-before": {"drop": "before"},
    "drop-after": {"drop": "after"},
}


def _forge(*, open_pr: bool) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"values.yaml": "tag: 1\n", "logo.png": b"\x89PNG\x00old"})
    if open_pr:  # an earlier run's pull request, left for review: the next run updates it (PATCH)
        first = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 1.5\n"})
        prplan.apply(prplan.plan(prplan.observe(forge, first), first), forge)
    return forge


def _request() -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO,
        branch=BRANCH,
        files={
            "values.yaml": "tag: 2\n",
            "logo.png": b"\x89PNG\x00new\xff",
        },  # binary: a blob write
        automerge=True,
        delete_branch=True,
    )


def _run(client: prplan.GitHubClient, request: prplan.ChangeRequest) -> prplan.Outcome:
    return prplan.apply(prplan.plan(prplan.observe(client, request), request), client)


@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("write", list(WRITES))
def test_a_fault_on_a_write_converges_or_fails_typed(
    write: str, fault: str, forge_server: ForgeServer
) -> None:
    served = Served(forge_server, _forge(open_pr=write == "update_ref"))
    method, path = WRITES[write]
    served.faults.add(method=method, path=path, **FAULTS[fault])
    request = _request()

    try:
        first = _run(served.client, request)
    except prplan.PrplanError as error:  # typed, with a message that says what happened
        assert str(error)
        first = None
    if first is None or not first.ok:
        _run(served.client, request)  # the faults were one-off: running again must finish the job

    forge = served.forge
    assert served.faults.injected, "the fault was never injected: the test proves nothing"
    assert prplan.plan(prplan.observe(served.client, request), request).is_empty
    assert forge.read_file(REPO, "main", "values.yaml") == b"tag: 2\n"
    assert forge.read_file(REPO, "main", "logo.png") == b"\x89PNG\x00new\xff"
    pulls = forge.pull_requests(REPO)
    assert [p.merged for p in pulls] == [True], "exactly one pull request, merged"
    ours = [
        c
        for c in forge.log(REPO, "main")
        if c.by_prplan and request.request_id in _message(forge, c.sha)
    ]
    assert len(ours) == 1, "the change is one commit, neither lost nor doubled"
    assert BRANCH not in forge.branches(REPO)
    assert served.violations == []


def _message(forge: prplan.LocalForge, sha: str) -> str:
    commit = forge.git_object(REPO, sha)
    return commit.message.decode()  # type: ignore[union-attr]


def test_a_slow_answer_beyond_the_timeout_is_retried_for_reads(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(open_pr=False))
    served.faults.add(method="GET", path=r"/pulls$", delay=1.5, times=1)
    client = served.new_client(timeout=1, retries=2, backoff=0.0)
    outcome = _run(client, _request())
    assert outcome.status is prplan.OutcomeStatus.MERGED
    assert served.faults.injected == [("GET", "/repos/acme/app/pulls", "delay")]


def test_a_slow_answer_to_a_ref_update_is_resolved_by_reading_back(
    forge_server: ForgeServer,
) -> None:
    served = Served(forge_server, _forge(open_pr=True))
    served.faults.add(method="PATCH", path=r"/git/refs/heads/", delay=1.5, times=1)
    client = served.new_client(timeout=1, retries=2, backoff=0.0)
    outcome = _run(client, _request())
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert [p.merged for p in served.forge.pull_requests(REPO)] == [True]


def test_base_branch_was_modified_is_retried(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(open_pr=False))
    served.faults.add(
        method="PUT",
        path=r"/merge$",
        status=405,
        message="Base branch was modified. Review and try the merge again.",
    )
    client = served.new_client(retries=2, backoff=0.0, sleep=lambda seconds: None)
    assert _run(client, _request()).status is prplan.OutcomeStatus.MERGED


def test_a_blocked_merge_is_a_typed_failure_and_the_pull_request_stays_open(
    forge_server: ForgeServer,
) -> None:
    served = Served(forge_server, _forge(open_pr=False))
    served.forge.block_merges(
        REPO, "main", "At least 1 approving review is required by reviewers with write access."
    )
    outcome = _run(served.client, _request())
    assert outcome.status is prplan.OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    assert "approving review is required" in outcome.error
    (pr,) = served.forge.pull_requests(REPO)
    assert pr.is_open
    assert served.violations == []


def test_a_race_on_open_pr_is_never_a_second_pull_request(forge_server: ForgeServer) -> None:
    """Someone opens the pull request between prplan's plan and its POST: the
    422 'already exists' is not adopted (not ours), the run fails typed."""
    served = Served(forge_server, _forge(open_pr=False))
    request = prplan.ChangeRequest(repo=REPO, branch=BRANCH, files={"values.yaml": "tag: 2\n"})
    plan = prplan.plan(prplan.observe(served.client, request), request)

    class HumanOpensFirst(prplan.Reporter):
        def action_started(self, repo: str, index: int, action: object) -> None:
            if isinstance(action, prplan.CreatePullRequest):
                served.forge.open_pr(REPO, BRANCH, "main", title="A human got there first")

    outcome = prplan.apply(plan, served.client, reporter=HumanOpensFirst())
    assert outcome.status is prplan.OutcomeStatus.FAILED and outcome.error_type == "ConflictError"
    assert [p.title for p in served.forge.pull_requests(REPO)] == ["A human got there first"]
