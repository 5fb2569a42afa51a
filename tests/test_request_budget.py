"""Requests per change, counted at the server: a budget, not a timing.

(benchmarks/bench_requests.py measures the same against a naive script.)"""

from __future__ import annotations

import pytest

import prplan
from prplan.forges.local.server.app import ForgeServer

from served import Served

REPO = "acme/app"


def _forge(files: int) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {f"apps/a{i}/values.yaml": "tag: 1\n" for i in range(files)})
    return forge


def _rest(served: Served) -> Served:
    """The served forge, its client on ``transport="rest"`` (the REST budget)."""
    served.client = served.new_client(transport="rest", retries=3, backoff=0.0, timeout=5)
    return served


@pytest.mark.parametrize("files", [3, 300])
def test_a_change_costs_ten_requests_over_rest_whatever_the_number_of_files(
    files: int, forge_server: ForgeServer
) -> None:
    served = _rest(Served(forge_server, _forge(files)))
    request = prplan.ChangeRequest(
        repo=REPO, branch="prplan/up", files={f"apps/a{i}/values.yaml": "tag: 2\n" for i in range(files)},
        automerge=True,
    )  # fmt: skip
    plan = prplan.plan(prplan.observe(served.client, request), request)
    outcome = prplan.apply(plan, served.client, recheck=False)
    log = served.app.log
    assert outcome.status is prplan.OutcomeStatus.MERGED
    # (an unprotected base has no merge queue: no query asks); one read more,
    # the first time a client observes: the login its writes are attributed
    # to (GET /user, once per client, for the plan's identity line)
    assert (log.reads, log.writes) == (6, 5), log.entries
    assert outcome.requests == prplan.RequestCount(
        reads=0, writes=5
    )  # the client's own count agrees

    log.reset()
    assert prplan.plan(prplan.observe(served.client, request), request).is_empty
    # repo, base, base tree, branch, PRs from it, PRs into it, its tree, compare
    assert (log.reads, log.writes) == (8, 0), log.entries


def test_a_saved_plan_pays_one_more_observation_over_rest(forge_server: ForgeServer) -> None:
    served = _rest(Served(forge_server, _forge(3)))
    request = prplan.ChangeRequest(
        repo=REPO, branch="prplan/up", files={"apps/a0/values.yaml": "tag: 2\n"}
    )
    plan = prplan.plan(prplan.observe(served.client, request), request)
    served.app.log.reset()
    prplan.apply(plan, served.client)  # recheck: observe again before writing
    assert (served.app.log.reads, served.app.log.writes) == (5, 4)


def test_binary_files_cost_one_blob_each_over_rest(forge_server: ForgeServer) -> None:
    served = _rest(Served(forge_server, _forge(1)))
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="prplan/up",
        files={"a.png": b"\x89PNG\xff", "b.png": b"\x00\xfe", "c.txt": "text\n"},
    )
    prplan.apply(
        prplan.plan(prplan.observe(served.client, request), request), served.client, recheck=False
    )
    writes = [path for method, path, _ in served.app.log.entries if method != "GET"]
    assert sum(path.endswith("/git/blobs") for path in writes) == 2


@pytest.mark.parametrize("automerge", [False, True], ids=["open PR", "merged PR"])
def test_a_rerun_with_nothing_to_do_is_one_read_over_graphql(
    automerge: bool, forge_server: ForgeServer
) -> None:
    served = Served(forge_server, _forge(3))
    client = served.new_client(transport="graphql")
    request = prplan.ChangeRequest(
        repo=REPO, branch="prplan/up", files={"apps/a0/values.yaml": "tag: 2\n"},
        automerge=automerge,
    )  # fmt: skip
    served.app.log.reset()
    plan = prplan.plan(prplan.observe(client, request), request)
    assert (served.app.log.reads, served.app.log.writes) == (1, 0)  # no branch: one query
    prplan.apply(plan, client, recheck=False)
    served.app.log.reset()
    assert prplan.plan(prplan.observe(client, request), request).is_empty
    assert (served.app.log.reads, served.app.log.writes) == (1, 0), served.app.log.entries
