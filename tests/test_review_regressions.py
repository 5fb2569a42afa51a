"""Regressions for the defects an independent review found (each failed before its fix)."""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer
from prplan.run.changeset import apply_changeset, plan_changeset
from prplan.run.changeset_file import parse_changeset

from served import Served

REPO = "acme/app"


def test_threads_sharing_a_client_each_get_their_own_answers(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    names = [f"acme/r{i}" for i in range(8)]
    heads = {name: forge.create_repo(name, {f"{name}.txt": name}) for name in names}
    client = Served(forge_server, forge).client
    answers: dict[str, list[str | None]] = {name: [] for name in names}
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [
            threading.Thread(
                target=lambda n=name: [
                    answers[n].append(client.branch_sha(n, "main")) for _ in range(5)
                ]
            )
            for name in names
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(previous)
    assert answers == {name: [heads[name]] * 5 for name in names}


def test_a_push_during_write_spacing_stops_a_reset_instead_of_being_clobbered(
    forge_server: ForgeServer,
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.push(
        REPO,
        "prplan/x",
        {"a.txt": "old run\n"},
        message="Earlier",
        author="prplan <prplan@localforge.invalid>",
    )
    served = Served(forge_server, forge)
    pushed: list[str] = []

    def sleep_and_race(seconds: float) -> None:
        if not pushed:  # a human pushes while prplan waits between writes
            pushed.append(forge.push(REPO, "prplan/x", {"human.txt": "mine\n"}, message="Human"))

    # REST's window: the reset and the commit are two writes with a spacing
    # between them (GraphQL sends them as one document: no spacing to race in).
    client = served.new_client(transport="rest", write_spacing=0.01, sleep=sleep_and_race)
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="prplan/x",
        files={"a.txt": "new\n"},
        branch_policy="reset",
        create_pr=False,
    )
    outcome = prplan.apply(prplan.plan(prplan.observe(client, request), request), client)
    assert outcome.status is prplan.OutcomeStatus.FAILED and outcome.error_type == "ConflictError"
    assert forge.read_file(REPO, "prplan/x", "human.txt") == b"mine\n"


def test_a_saved_plan_and_a_change_set_are_not_mixed(tmp_path: Path) -> None:
    forge = prplan.LocalForge.open(tmp_path / "forge")
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.close()
    (tmp_path / "set.yaml").write_text(
        json.dumps({"version": 1, "changes": [{"repo": REPO, "branch": "b", "delete": ["a.txt"]}]})
    )
    local = tmp_path / "x.txt"
    local.write_text("x\n")
    saved = tmp_path / "plan.json"
    CliRunner().invoke(cli, ["plan", "--repo", REPO, "--local", str(tmp_path / "forge"), "--branch", "b",
                             "--file", f"x.txt={local}", "--out", str(saved)])  # fmt: skip
    mixed = CliRunner().invoke(cli, ["apply", str(saved), "--changeset", str(tmp_path / "set.yaml"),
                                     "--local", str(tmp_path / "forge")])  # fmt: skip
    assert mixed.exit_code == 1 and "not both" in mixed.output
    redact = CliRunner().invoke(cli, ["plan", "--changeset", str(tmp_path / "set.yaml"), "--local",
                                      str(tmp_path / "forge"), "--redact-content"])  # fmt: skip
    assert redact.exit_code == 1 and "--redact-content" in redact.output
    assert prplan.LocalForge.open(tmp_path / "forge").branches(REPO).keys() == {"main"}


def test_staleness_is_per_repository_and_branch() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n", "b.txt": "b\n"})
    forge.set_branch(REPO, "x", "main")
    changeset = parse_changeset({"version": 1, "changes": [
        {"repo": REPO, "branch": "x", "delete": ["a.txt"]}, {"repo": REPO, "branch": "y", "delete": ["b.txt"]}]})  # fmt: skip
    planned = plan_changeset(forge, changeset)
    forge.push(REPO, "x", {"c.txt": "moved\n"})  # only x moves
    result = apply_changeset(forge, planned, keep_going=True)
    # y is not stale; it is not written either, as a stale entry holds its whole stage
    assert [e.status for e in result.entries] == ["stale", "not_run"]
    assert "y" not in forge.branches(REPO) and forge.pull_requests(REPO) == []


def test_a_forge_error_while_checking_a_later_stage_is_that_entrys_failure() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo("acme/one", {"a.txt": "a\n"})
    forge.create_repo("acme/two", {"a.txt": "a\n"})
    forge.set_branch("acme/two", "dev", "main")
    changeset = parse_changeset({"version": 1, "defaults": {"branch": "rel"}, "stages": [
        {"name": "one", "changes": [{"repo": "acme/one", "delete": ["a.txt"]}]},
        {"name": "two", "changes": [{"repo": "acme/two", "delete": ["a.txt"], "base": "dev"}]}]})  # fmt: skip
    planned = plan_changeset(forge, changeset)
    forge.remove_branch("acme/two", "dev")
    result = apply_changeset(forge, planned)
    assert [e.status for e in result.entries] == ["created", "failed"]
    assert "dev" in result.entries[1].error and not result.ok


@pytest.mark.parametrize(
    ("transport", "method", "path"),
    [("rest", "GET", r"/branches/"), ("graphql", "POST", r"/graphql$")],
    ids=["rest", "graphql"],
)
def test_an_answer_that_is_not_githubs_is_a_forge_error(
    transport: str, method: str, path: str, forge_server: ForgeServer
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    served = Served(forge_server, forge)
    served.faults.add(method=method, path=path, status=200, message="<html>Sign in</html>", times=0)
    request = prplan.ChangeRequest(repo=REPO, branch="b", files={"a.txt": "b\n"})
    with pytest.raises(prplan.ForgeError, match="unexpected answer"):
        prplan.observe(served.new_client(transport=transport, retries=0), request)
    # Never a silent second try over the other transport.
    used = {p.endswith("/graphql") for _, p, _ in served.app.log.entries}
    assert used == {transport == "graphql"}


def test_finishing_a_clean_up_is_reported_unchanged() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    forge.push(REPO, "b", {"a.txt": "b\n"})
    forge.merge_pr(REPO, forge.open_pr(REPO, "b"))
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", files={"a.txt": "b\n"}, automerge=True, delete_branch=True
    )
    plan = prplan.plan(prplan.observe(forge, request), request)
    assert plan.rule == "merged_cleanup"
    assert prplan.apply(plan, forge).status is prplan.OutcomeStatus.UNCHANGED


def test_a_plan_observed_long_ago_rereads_pull_requests_before_opening_one() -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"a.txt": "a\n"})
    request = prplan.ChangeRequest(
        repo=REPO, branch="b", files={"a.txt": "b\n"}, automerge=True, delete_branch=True
    )
    mine = prplan.plan(prplan.observe(forge, request), request)
    observed = time.monotonic() - 5  # e.g. a confirmation prompt, or an earlier stage
    prplan.apply(
        prplan.plan(prplan.observe(forge, request), request), forge
    )  # a twin run finishes first
    outcome = prplan.apply(mine, forge, recheck=False, observed_at=observed)
    assert (
        outcome.status is prplan.OutcomeStatus.FAILED and "appeared since the plan" in outcome.error
    )
    assert [p.merged for p in forge.pull_requests(REPO)] == [True]


def test_a_malformed_redacted_plan_is_a_format_error() -> None:
    with pytest.raises(prplan.PlanFormatError, match=r"request\.files"):
        prplan.Plan.from_json('{"redacted": true, "format_version": 2}')
    with pytest.raises(prplan.PlanFormatError):
        prplan.Plan.from_json('{"redacted": true, "format_version": 2, "request": []}')


def _with_script(forge: prplan.LocalForge) -> None:
    from prplan.forges.local.trees import TreeInput

    forge.create_repo(REPO, {"a.txt": "a\n"})
    main = forge.branches(REPO)["main"]
    tree = forge.git_create_tree(
        REPO, [TreeInput(path="deploy.sh", mode=0o100755, content=b"#!/bin/sh\necho old\n")],
        base_tree=forge.git_object(REPO, main).tree.decode(),  # type: ignore[union-attr]
    )  # fmt: skip
    forge.set_branch(
        REPO,
        "main",
        forge.git_create_commit(REPO, message="Add a script", tree=tree, parents=[main]),
    )


def _mode(forge: prplan.LocalForge, ref: str, path: str) -> int:
    commit = forge.git_object(REPO, forge.branches(REPO)[ref])
    entries = forge.git_tree_entries(REPO, commit.tree.decode(), recursive=True)  # type: ignore[union-attr]
    return next(e.mode for e in entries if e.path == path)


@pytest.mark.parametrize("over_http", [False, True], ids=["direct", "http"])
def test_rewriting_an_executable_keeps_it_executable(
    over_http: bool, forge_server: ForgeServer
) -> None:
    forge = prplan.LocalForge.in_memory()
    _with_script(forge)
    client: prplan.ForgeClient = Served(forge_server, forge).client if over_http else forge
    request = prplan.ChangeRequest(
        repo=REPO,
        branch="b",
        files={"deploy.sh": "#!/bin/sh\necho new\n", "new.sh": "#!/bin/sh\n"},
        automerge=True,
    )
    assert (
        prplan.apply(prplan.plan(prplan.observe(client, request), request), client).status.value
        == "merged"
    )
    assert _mode(forge, "main", "deploy.sh") == 0o100755
    assert _mode(forge, "main", "new.sh") == 0o100644
