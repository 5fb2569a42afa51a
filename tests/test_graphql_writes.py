"""``GitHubClient(transport="graphql")``: writes through GitHub's GraphQL API.

Against the local forge served over HTTP (which serves GitHub's GraphQL):
a new change is one read and three writes, every commit's tree is predicted
and sealed before GitHub builds it, modes other than 100644 stay on REST,
errors are read per field, and the reset race REST loses is won.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.core.snapshot import PathKind
from prplan.errors import ConflictError, InvalidRequestError
from prplan.forges.github import graphql_writes
from prplan.forges.github.tree_prediction import directories_on_the_way, predict_tree
from prplan.forges.local.server.app import ForgeServer
from prplan.run import executor

from served import TOKEN, Served

REPO = "acme/app"
MESSAGE = "Up\n\nwhy\n\nPrplan-Request: 0123abcd"


def _forge(files: int = 3, extra: dict[str, str] | None = None) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    tree = {f"apps/a{i}/values.yaml": "tag: 1\n" for i in range(files)}
    forge.create_repo(REPO, {**tree, **(extra or {})})
    return forge


def _request(files: int = 3, **options: object) -> prplan.ChangeRequest:
    return prplan.ChangeRequest(
        repo=REPO,
        branch="prplan/up",
        files={f"apps/a{i}/values.yaml": "tag: 2\n" for i in range(files)},
        **options,  # type: ignore[arg-type]
    )


def _graphql(served: Served) -> prplan.GitHubClient:
    # A generous read timeout: a loaded machine commits 1,000 files slowly.
    return served.new_client(transport="graphql", retries=3, backoff=0.0, timeout=30)


def _writes(served: Served) -> list[tuple[str, str, int]]:
    return [e for e in served.app.log.entries if e[0] != "GET" and not e[1].endswith("/graphql")]


def test_the_transport_is_checked() -> None:
    with pytest.raises(InvalidRequestError, match="transport"):
        prplan.GitHubClient(transport="soap")


@pytest.mark.parametrize("files", [3, 1000])
def test_a_new_merged_change_is_three_writes_whatever_the_number_of_files(
    files: int, forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A thousand files take the loopback forge over a second to commit; the
    # executor would then read the pull requests again before opening one.
    monkeypatch.setattr(executor._Run, "PR_RECHECK_AFTER", 60.0)
    served = Served(forge_server, _forge(files))
    client = _graphql(served)
    request = _request(files, automerge=True)
    served.app.log.reset()
    plan = prplan.plan(prplan.observe(client, request), request)
    outcome = prplan.apply(plan, client, recheck=False)
    log = served.app.log
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome
    # The budget: 4 requests. One read, the observe query (whose
    # directories the commit's tree is predicted from); three writes: branch
    # + commit, the pull request, the merge.
    assert (log.writes, log.reads) == (3, 1), log.entries
    assert outcome.requests == prplan.RequestCount(reads=0, writes=3)
    # What was made is prplan's by the seal, and GitHub signed it.
    again = prplan.plan(prplan.observe(client, request), request)
    assert again.is_empty, again
    head = served.forge.branches(REPO)  # the merged branch was kept or deleted as planned
    assert "main" in head


def test_a_saved_plan_is_applied_in_four_requests_recheck_included(
    forge_server: ForgeServer,
) -> None:
    """The issue's budget for a reviewed plan: the recheck is the one observe
    query (its directories serve the commit too), then three writes."""
    served = Served(forge_server, _forge(3))
    client = _graphql(served)
    request = _request(3, automerge=True)
    saved = prplan.Plan.from_json(prplan.plan(prplan.observe(client, request), request).to_json())
    served.app.log.reset()
    outcome = prplan.apply(saved, client)
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome
    assert (served.app.log.reads, served.app.log.writes) == (1, 3), served.app.log.entries


def test_the_commit_is_sealed_with_the_tree_github_built(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(2, {"docs/x/y.md": "y\n"}))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    files = {
        "apps/a0/values.yaml": b"tag: 3\n",  # rewritten
        "apps/a1/values.yaml": None,  # deleted: its directory goes with it
        "new/deep/dir/file.txt": b"new\n",  # new directories
        "docs/x/y.md": None,  # the last file of docs/: docs/ goes
        "blob.bin": b"\x00\xff\xfe",  # binary rides in the same mutation
    }
    sha = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files=files, message=MESSAGE, create=True
    )
    assert served.forge.branches(REPO)["prplan/up"] == sha
    (commit,) = client.compare(REPO, base, sha).commits
    assert commit.by_prplan and commit.summary == "Up", commit
    assert not _writes(served), "no REST write"
    assert served.forge.read_files(REPO, sha, ["blob.bin", "docs/x/y.md"]) == {
        "blob.bin": b"\x00\xff\xfe",
        "docs/x/y.md": None,
    }


def test_a_mode_other_than_100644_goes_through_rest(forge_server: ForgeServer) -> None:
    forge = _forge(1)
    served = Served(forge_server, forge)
    client = _graphql(served)
    base = forge.branches(REPO)["main"]
    # An executable in the repository (committed through REST, which keeps modes).
    rest = served.new_client(transport="rest")
    rest._executable.add((REPO, base, "run.sh"))  # as observe learns it
    executable = rest.commit_files(
        REPO, "main", parent_sha=base, files={"run.sh": b"#!/bin/sh\n"}, message="x"
    )
    entries = client.path_entries(REPO, executable, ["run.sh"])
    assert entries["run.sh"].kind is PathKind.EXECUTABLE
    served.app.log.reset()
    # createCommitOnBranch would make it 100644: REST rewrites it, executable.
    sha = client.commit_files(
        REPO, "main", parent_sha=executable, files={"run.sh": b"#!/bin/sh\nexit 0\n"}, message="m"
    )
    assert _writes(served), "the Git Data API wrote it"
    assert client.path_entries(REPO, sha, ["run.sh"])["run.sh"].kind is PathKind.EXECUTABLE
    # Deleting one is no mode to keep: GraphQL does it.
    served.app.log.reset()
    client.commit_files(REPO, "main", parent_sha=sha, files={"run.sh": None}, message="m")
    assert not _writes(served)


def test_a_commit_over_the_graphql_limit_goes_through_rest(
    forge_server: ForgeServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    monkeypatch.setattr(graphql_writes, "GRAPHQL_COMMIT_LIMIT", 10)
    base = served.forge.branches(REPO)["main"]
    served.app.log.reset()
    client.commit_files(REPO, "main", parent_sha=base, files={"big": b"x" * 11}, message="m")
    assert _writes(served) and not any(e[1].endswith("/graphql") for e in served.app.log.entries)


def test_the_ref_made_and_the_commit_refused_is_said_exactly(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    # A path that is a directory at the parent: prediction says REST; force
    # GraphQL's own refusal instead with a deletion of a path that is absent.
    with pytest.raises(prplan.errors.ForgeError, match=r"was created at .* but the commit on it"):
        client.commit_files(
            REPO, "prplan/up", parent_sha=base, files={"absent.txt": None}, message="m", create=True
        )
    assert served.forge.branches(REPO)["prplan/up"] == base  # a re-run goes on from there


def test_a_lost_answer_is_adopted(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    client.commit_files(  # learns the repository's id
        REPO, "other", parent_sha=base, files={"o": b"o\n"}, message="m", create=True
    )
    served.faults.add(method="POST", path="graphql", drop="after", skip=1, times=1)
    sha = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    assert served.faults.injected, "the mutation's answer was lost"
    assert served.forge.branches(REPO)["prplan/up"] == sha


def test_delete_names_the_head_it_expects(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    mine = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    human = served.new_client().commit_files(
        REPO, "prplan/up", parent_sha=mine, files={"h": b"h\n"}, message="human's"
    )
    with pytest.raises(ConflictError, match="not deleted"):
        client.delete_branch(REPO, "prplan/up")
    assert served.forge.branches(REPO)["prplan/up"] == human
    served.new_client(transport="graphql").delete_branch(REPO, "prplan/up")  # reads the head
    assert "prplan/up" not in served.forge.branches(REPO)


def test_a_merge_names_the_head_it_expects(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    mine = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    pr = client.create_pull_request(REPO, head="prplan/up", base="main", title="t", body="b")
    assert client.write_identity()
    served.new_client().commit_files(
        REPO, "prplan/up", parent_sha=mine, files={"h": b"h\n"}, message="human's"
    )
    with pytest.raises(ConflictError, match="nothing was merged"):
        client.merge_pull_request(REPO, pr.number, method="merge", expected_head_sha=mine)
    # "already exists" (a retried POST) is adopted only when it is ours
    again = client.create_pull_request(REPO, head="prplan/up", base="main", title="t", body="b")
    assert again.number == pr.number
    with pytest.raises(ConflictError, match="already open"):
        client.create_pull_request(REPO, head="prplan/up", base="main", title="u", body="b")


def test_directories_on_the_way() -> None:
    assert directories_on_the_way(["a/b/c", "a/d", "e"]) == ["", "a", "a/b"]


def test_a_lost_reset_race_over_graphql_loses_nothing(forge_server: ForgeServer) -> None:
    """A human pushes between observe and the reset: updateRefs(beforeOid)
    refuses, the commit does not run, and the push stays."""
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    old = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    human = client.commit_files(
        REPO, "prplan/up", parent_sha=old, files={"human": b"mine\n"}, message="human's"
    )
    with pytest.raises(ConflictError, match="nothing was changed"):
        client.commit_files(
            REPO, "prplan/up", parent_sha=base, files={"x": b"2\n"}, message="m", reset_from=old
        )
    assert served.forge.branches(REPO)["prplan/up"] == human


def test_graphql_commit_limit_is_documented() -> None:
    assert graphql_writes.GRAPHQL_COMMIT_LIMIT == 25 * 1024 * 1024


def test_prediction_leaves_modes_it_cannot_keep_to_rest() -> None:
    listing = {
        "run.sh": (0o100755, "a" * 40),
        "link": (0o120000, "b" * 40),
        "d": (0o040000, "c" * 40),
    }
    assert predict_tree({"": listing}, {"run.sh": b"#!/bin/sh\n"}) is None
    assert predict_tree({"": listing}, {"link": b"target"}) is None
    assert predict_tree({"": listing}, {"d": b"a file over a directory"}) is None
    assert predict_tree({"": listing}, {"run.sh": None, "link": None}) is not None


@pytest.mark.parametrize("transport", ["rest", "graphql"])
def test_the_reset_race(transport: str, forge_server: ForgeServer) -> None:
    """prplan resets its branch (a forced move: the branch is behind base)
    while a human pushes to it between prplan's last read and its write.

    REST has no compare-and-swap for a forced ref update: prplan reads the
    ref right before the PATCH, but a push landing while the PATCH is in
    flight is overwritten, and the human's commit is lost from the branch.
    GraphQL's ``updateRefs(beforeOid)`` is exact: the reset fails cleanly
    with ConflictError, the commit does not run, and the push stays."""
    served = Served(forge_server, _forge(1))
    client = served.new_client(transport=transport, retries=0, timeout=10)
    base = served.forge.branches(REPO)["main"]
    old = client.commit_files(
        REPO, "prplan/up", parent_sha=base, files={"x": b"1\n"}, message="m", create=True
    )
    # The ref write: REST's PATCH, GraphQL's mutation (after its one read).
    served.app.log.reset()
    if transport == "rest":
        served.faults.add(method="PATCH", path=r"/git/refs/", delay=0.5)
    else:
        served.faults.add(method="POST", path=r"graphql$", skip=1, delay=0.5)
    outcome: dict[str, object] = {}

    def reset() -> None:
        try:
            outcome["sha"] = client.commit_files(
                REPO, "prplan/up", parent_sha=base, files={"x": b"2\n"}, message="m", reset_from=old
            )
        except ConflictError as error:
            outcome["error"] = error

    writer = threading.Thread(target=reset)
    writer.start()
    deadline = time.monotonic() + 10
    while not served.faults.injected:  # prplan's write is in flight, held
        assert time.monotonic() < deadline
        time.sleep(0.005)
    human = served.forge.commit_files(
        REPO, "prplan/up", parent_sha=old, files={"human.txt": b"mine\n"}, message="human's"
    )
    writer.join(timeout=20)
    head = served.forge.branches(REPO)["prplan/up"]
    if transport == "rest":
        assert outcome.get("sha") == head != human, "REST overwrote the human's push"
    else:
        assert isinstance(outcome.get("error"), ConflictError), outcome
        assert "nothing was changed" in str(outcome["error"])
        assert head == human, "the human's push stays"


def test_the_cli_writes_through_graphql_when_told(
    forge_server: ForgeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = Served(forge_server, _forge(1))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    values = tmp_path / "values.yaml"
    values.write_text("tag: 2\n")
    change = ["--repo", REPO, "--branch", "prplan/up", "--file", f"apps/a0/values.yaml={values}"]
    where = ["--github-url", forge_server.api_url, "--yes"]
    result = CliRunner().invoke(cli, ["apply", *change, *where, "--github-transport", "graphql"])
    assert result.exit_code == 0, result.output
    # One observe query, then the branch + commit and the pull request: the
    # commit's tree is predicted from what the query read (no read of its own).
    assert [e[1] for e in served.app.log.entries if e[0] != "GET"] == ["/api/graphql"] * 3
    assert served.app.log.writes == 2
    assert not _writes(served)


def test_graphql_rate_limits_are_waited_out_like_rest(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    slept: list[float] = []
    client = served.new_client(transport="graphql", sleep=slept.append, max_rate_limit_wait=60)
    answers = [
        ({"retry-after": "7"}, {"errors": [{"type": "RATE_LIMITED", "message": "slow down"}]}),
        ({}, {"data": {"ok": True}}),
    ]
    http = client._http
    http.github.requester.requestJsonAndCheck = lambda *a, **k: answers.pop(0)  # type: ignore[method-assign]
    assert http.graphql("query { ok }", {}, mutation=False) == ({"ok": True}, [])
    assert slept == [7.0]
    answers[:] = [({"retry-after": "3600"}, {"errors": [{"type": "RATE_LIMITED", "message": "x"}]})]
    with pytest.raises(prplan.errors.ForgeError, match="rate limit"):
        http.graphql("query { ok }", {}, mutation=False)


def test_a_query_is_counted_as_a_read_and_a_mutation_as_a_write(forge_server: ForgeServer) -> None:
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    before = client.request_count()
    client.commit_files(REPO, "b", parent_sha=base, files={"x": b"1\n"}, message="m", create=True)
    assert client.request_count() - before == prplan.RequestCount(reads=1, writes=1)


def test_directories_observe_read_cost_no_request(forge_server: ForgeServer) -> None:
    """The hook for observe's query: a commit whose parent's directories it
    read is one request, the write."""
    served = Served(forge_server, _forge(1))
    client = _graphql(served)
    base = served.forge.branches(REPO)["main"]
    writes = client._graphql
    assert writes is not None
    listed = {e.path: e for e in served.forge.git_tree_entries(REPO, base, recursive=True)}
    root = {p: (int(e.mode), e.sha) for p, e in listed.items() if "/" not in p}
    repository_id = writes._repository_id(REPO)
    writes.learn(
        REPO, repository_id=repository_id, commit=base, directories={"": root, "new": None}
    )
    served.app.log.reset()
    client.commit_files(
        REPO, "b", parent_sha=base, files={"new/x": b"1\n"}, message="m", create=True
    )
    assert (served.app.log.reads, served.app.log.writes) == (0, 1)
