"""Issue 14's "nothing unreviewed is merged" gaps about an armed pull request,
directly and over HTTP under both transports:

* A: prplan armed its pull request's merge, then a human pushed onto the
  branch (a push with write access leaves auto-merge on): the next run turns
  prplan's arming off, does nothing else and ends ``disarmed`` (exit 3). An
  arming by someone else is never turned off.
* B: automerge off and the plan commits onto an armed pull request: someone
  else's arming refuses (``pr_armed_by_someone_else``), prplan's own is
  turned off before the commit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan import ActionKind, ArmedBy, ChangeRequest, OutcomeStatus, RefusalCode
from prplan.cli import cli
from prplan.core.planner import classify
from prplan.forges.local.server.app import ForgeServer

from served import TOKEN, Served

REPO = "acme/deploy"
BRANCH = "prplan/app-2"
CHECK = "ci/lint"

Connect = Callable[[prplan.LocalForge], prplan.ForgeClient]


@pytest.fixture(params=["direct", "rest", "graphql"])
def connect(request: pytest.FixtureRequest, forge_server: ForgeServer) -> Iterator[Connect]:
    """The forge itself, or a GitHubClient over HTTP (REST or GraphQL)."""
    served: list[Served] = []

    def make(forge: prplan.LocalForge) -> prplan.ForgeClient:
        if request.param == "direct":
            return forge
        served.append(Served(forge_server, forge))
        return served[-1].new_client(transport=request.param, retries=0, backoff=0.0)

    yield make
    for one in served:
        assert one.violations == []


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=[CHECK])
    return forge


def _request(**fields: object) -> ChangeRequest:
    args: dict[str, object] = {
        "repo": REPO, "branch": BRANCH, "files": {"app.yaml": "tag: 2\n"},
        "create_pr": True, "automerge": True, "title": "app 2",
    }  # fmt: skip
    args.update(fields)
    return ChangeRequest(**args)  # type: ignore[arg-type]


def _run(client: prplan.ForgeClient, request: ChangeRequest) -> tuple[prplan.Plan, prplan.Outcome]:
    plan = prplan.plan(prplan.observe(client, request), request)
    return plan, prplan.apply(plan, client)


def _pr(forge: prplan.LocalForge) -> prplan.PullRequestInfo:
    (pr,) = forge.pull_requests(REPO)
    return pr


def _armed_by_prplan_then_pushed(client: prplan.ForgeClient, forge: prplan.LocalForge) -> int:
    """prplan opens its pull request and enables auto-merge (the check is
    pending); then a human pushes a commit onto the branch."""
    _, outcome = _run(client, _request())
    assert outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED
    number = _pr(forge).number
    assert forge.auto_merge_request(REPO, number)["enabled_by"] == "prplan"
    forge.push(REPO, BRANCH, {"extra.yaml": "unreviewed: 1\n"}, message="Sneak in")
    return number


@pytest.mark.parametrize("automerge", [True, False])
def test_a_push_onto_prplans_armed_branch_is_disarmed_and_never_merged(
    connect: Connect, automerge: bool
) -> None:
    """Gap A: whatever automerge the new request says."""
    forge = _forge()
    client = connect(forge)
    number = _armed_by_prplan_then_pushed(client, forge)
    plan, outcome = _run(client, _request(automerge=automerge))
    assert [a.kind for a in plan.actions] == [ActionKind.DISARM_MERGE]
    assert plan.rule == "open_disarm_foreign"
    assert outcome.status is OutcomeStatus.DISARMED and not outcome.ok
    assert "Sneak in" in outcome.error and "merge_foreign_commits" in outcome.error
    assert forge.auto_merge_request(REPO, number) is None
    # The check goes green on the human's head: nothing merges it.
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "success")
    assert _pr(forge).is_open and not _pr(forge).merged
    assert "extra.yaml" not in forge.files(REPO, "main")


def test_an_arming_by_someone_else_over_foreign_commits_is_left_alone(connect: Connect) -> None:
    forge = _forge()
    client = connect(forge)
    _run(client, _request(automerge=False))
    forge.push(REPO, BRANCH, {"extra.yaml": "reviewed: 1\n"}, message="Reviewed fix")
    number = _pr(forge).number
    forge.enable_auto_merge(REPO, number, "merge", by="alice")
    plan, outcome = _run(client, _request())
    assert outcome.status is OutcomeStatus.REFUSED
    assert plan.refusal is not None
    assert plan.refusal.code is RefusalCode.MERGE_HAS_FOREIGN_COMMITS
    assert forge.auto_merge_request(REPO, number)["enabled_by"] == "alice"


def test_automerge_off_refuses_to_commit_into_a_pull_request_someone_else_armed(
    connect: Connect,
) -> None:
    """Gap B: alice reviewed and armed; a new request would add content."""
    forge = _forge()
    client = connect(forge)
    _run(client, _request(automerge=False))
    number = _pr(forge).number
    forge.enable_auto_merge(REPO, number, "merge", by="alice")
    head = _pr(forge).head_sha
    plan, outcome = _run(client, _request(automerge=False, files={"app.yaml": "tag: 3\n"}))
    assert outcome.status is OutcomeStatus.REFUSED and plan.refusal is not None
    assert plan.refusal.code is RefusalCode.PR_ARMED_BY_SOMEONE_ELSE
    assert "alice" in plan.refusal.message and "--automerge" in plan.refusal.message
    assert _pr(forge).head_sha == head  # nothing committed
    assert forge.auto_merge_request(REPO, number)["enabled_by"] == "alice"


def test_automerge_off_disarms_prplans_own_arming_before_committing(connect: Connect) -> None:
    """Gap B: prplan armed it earlier; the new request says not to merge."""
    forge = _forge()
    client = connect(forge)
    _run(client, _request())
    number = _pr(forge).number
    plan, outcome = _run(client, _request(automerge=False, files={"app.yaml": "tag: 3\n"}))
    assert [a.kind for a in plan.actions] == [ActionKind.DISARM_MERGE, ActionKind.COMMIT]
    assert outcome.status is OutcomeStatus.UPDATED
    assert forge.auto_merge_request(REPO, number) is None
    forge.set_status(REPO, _pr(forge).head_sha, CHECK, "success")
    assert _pr(forge).is_open and forge.files(REPO, "main")["app.yaml"] == b"tag: 1\n"


def test_automerge_on_commits_into_an_armed_pull_request_as_asked(connect: Connect) -> None:
    forge = _forge()
    client = connect(forge)
    _run(client, _request(automerge=False))
    number = _pr(forge).number
    forge.enable_auto_merge(REPO, number, "merge", by="alice")
    plan, outcome = _run(client, _request(files={"app.yaml": "tag: 3\n"}))
    assert ActionKind.DISARM_MERGE not in [a.kind for a in plan.actions]
    assert outcome.ok


def test_the_snapshot_says_who_armed_and_who_prplan_is(connect: Connect) -> None:
    """No viewer is read (nor carried in the plan) where nothing is armed."""
    forge = _forge()
    client = connect(forge)
    _run(client, _request(automerge=False))
    request = _request(automerge=False, files={"app.yaml": "tag: 3\n"})
    snapshot = prplan.observe(client, request)
    assert snapshot.viewer is None and '"viewer"' not in prplan.plan(snapshot, request).to_json()
    forge.enable_auto_merge(REPO, _pr(forge).number, "merge", by="alice")
    snapshot = prplan.observe(client, request)
    (pr,) = snapshot.pull_requests
    assert (pr.armed, pr.armed_by, snapshot.viewer) == (
        prplan.MergeArmed.AUTO_MERGE,
        "alice",
        "prplan",
    )
    assert classify(snapshot, request).armed_by is ArmedBy.SOMEONE_ELSE


def test_the_command_exits_3_when_it_disarmed(forge_server: ForgeServer, tmp_path: Path) -> None:
    forge = _forge()
    served = Served(forge_server, forge)
    _armed_by_prplan_then_pushed(served.client, forge)
    (tmp_path / "app.yaml").write_text("tag: 2\n")
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": served.server.api_url, "NO_COLOR": "1"}
    args = ["apply", "--repo", REPO, "--branch", BRANCH, "--title", "app 2", "--automerge"]
    args += ["--file", f"app.yaml={tmp_path / 'app.yaml'}", "--yes"]
    done = CliRunner().invoke(cli, args, env=env)
    assert done.exit_code == 3, done.output
    assert "disarmed" in done.output and "Sneak in" in done.output
    assert forge.auto_merge_request(REPO, _pr(forge).number) is None


def test_a_change_set_exits_3_when_an_entry_was_disarmed(tmp_path: Path) -> None:
    """A change set's entry that ended ``disarmed`` is a refusal for its
    exit code (3), as for a single apply, not a failure (5)."""
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=[CHECK])
    _armed_by_prplan_then_pushed(forge, forge)
    forge.close()
    (tmp_path / "app.yaml").write_text("tag: 2\n")
    document = {
        "version": 1,
        "defaults": {"branch": BRANCH, "create_pr": True, "automerge": True, "title": "app 2"},
        "stages": [{"name": "one", "changes": [{"repo": REPO, "files": {"app.yaml": "app.yaml"}}]}],
    }
    path = tmp_path / "set.json"
    path.write_text(__import__("json").dumps(document))
    args = ["apply", "--changeset", str(path), "--local", str(data), "--yes", "--format", "json"]
    done = CliRunner().invoke(cli, args)
    assert done.exit_code == 3, done.output
    assert '"status": "disarmed"' in done.output
    forge = prplan.LocalForge.open(data)
    try:
        assert forge.auto_merge_request(REPO, _pr(forge).number) is None
        assert not _pr(forge).merged
    finally:
        forge.close()
