"""Waiting for GitHub's merge stops at once when the merge prplan armed is
no longer the merge that would happen (issue 14, hostile review):

* someone pushed to the pull request after prplan armed it: merged at that
  other head or not yet (prplan then turns its own arming off) -> failed,
  ``HeadMovedAfterArming``, and a change set stops before the next stage;
* nothing armed any more (auto-merge disabled, out of the queue) -> failed
  at once, ``MergeDisarmed``; never re-armed;
* a timeout never claims the pull requests are armed.

Local forge in process; the injected sleep plays the human and CI."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from fake_time import FakeTime
from prplan.cli import apply_cmd, cli
from prplan.core.planner import plan as make_plan
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import MergeArmed
from prplan.errors import HeadMovedAfterArming, MergeBlocked, MergeDisarmed
from prplan.run.changeset import apply_changeset, plan_changeset
from prplan.run.changeset_file import parse_changeset
from prplan.run.executor import apply, moved_facts
from prplan.run.observe import observe
from prplan.run.outcome import OutcomeStatus

REPO, FLEET = "acme/deploy", "acme/fleet"
BRANCH = "prplan/app-2"


def _forge(*, queue: bool = False, repos: tuple[str, ...] = (REPO,)) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    for repo in repos:
        forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
        forge.protect_branch(repo, "main", required_checks=("ci/lint",), merge_queue=queue)
    return forge


def _request(**fields: object) -> ChangeRequest:
    args: dict[str, object] = {
        "repo": REPO, "branch": BRANCH, "files": {"app.yaml": "tag: 2\n"},
        "create_pr": True, "automerge": True, "title": "app 2", "merge_when": "wait",
        "wait_timeout": 600,
    }  # fmt: skip
    args.update(fields)
    return ChangeRequest(**args)  # type: ignore[arg-type]


def _wait(forge: prplan.LocalForge, *steps: Callable[[], None]) -> tuple[prplan.Outcome, FakeTime]:
    time = FakeTime(*steps)
    request = _request()
    return apply(make_plan(observe(forge, request), request), forge, waiter=time.waiter()), time


def _main(forge: prplan.LocalForge, repo: str = REPO) -> dict[str, bytes]:
    return forge.files(repo, "main")


def _human_pushes(forge: prplan.LocalForge, repo: str = REPO) -> Callable[[], None]:
    return lambda: forge.push(repo, BRANCH, {"extra.txt": "unreviewed\n"})


def test_merged_at_a_head_prplan_did_not_arm_fails_naming_both_commits() -> None:
    forge = _forge()
    push = _human_pushes(forge)

    def human_pushes_and_ci_passes() -> None:
        push()
        forge.set_status(REPO, BRANCH, "ci/lint", "success")

    armed = forge.pull_request_gate  # read below, after the run
    outcome, _ = _wait(forge, human_pushes_and_ci_passes)
    info = armed(REPO, 1)
    assert info.merged and "extra.txt" in _main(forge)  # GitHub merged the human's head
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error_type == "HeadMovedAfterArming"
    reviewed = outcome.commit_sha
    assert reviewed is not None and reviewed != info.head_sha
    assert f"merged at {info.head_sha[:7]}, not at the reviewed {reviewed[:7]}" in outcome.error
    assert "unreviewed by this plan" in outcome.error
    # Not prplan's merge: the branch deletion held back for it is not run.
    assert BRANCH in forge.branches(REPO)


def test_a_head_moved_while_waiting_stops_at_once_before_github_merges() -> None:
    forge = _forge()
    outcome, time = _wait(forge, _human_pushes(forge))
    assert outcome.status is OutcomeStatus.FAILED
    assert outcome.error_type == "HeadMovedAfterArming"
    assert "head moved to" in outcome.error and "turned off the auto-merge" in outcome.error
    assert len(time.slept) == 1  # the first read after the push stopped it
    info = forge.pull_request_gate(REPO, 1)
    assert info.is_open and "extra.txt" not in _main(forge)
    assert info.armed is MergeArmed.NONE  # prplan's own arming of this run, turned off


def test_a_change_set_stops_before_the_next_stage_when_merged_at_another_head(
    tmp_path: Path,
) -> None:
    forge = _forge(repos=(REPO, FLEET))
    out = tmp_path / "app.yaml"
    out.write_text("tag: 2\n")
    push = _human_pushes(forge)

    def human_pushes_and_ci_passes() -> None:
        push()
        forge.set_status(REPO, BRANCH, "ci/lint", "success")

    document = {
        "version": 1,
        "defaults": {"branch": BRANCH, "create_pr": True, "automerge": True, "title": "r2"},
        "stages": [
            {"name": "canary", "changes": [{"repo": REPO, "files": {"app.yaml": str(out)}}]},
            {"name": "fleet", "changes": [{"repo": FLEET, "files": {"app.yaml": str(out)}}]},
        ],
    }  # fmt: skip
    time = FakeTime(human_pushes_and_ci_passes)
    planned = plan_changeset(forge, parse_changeset(document))
    canary, fleet = apply_changeset(forge, planned, waiter=time.waiter()).entries
    assert forge.pull_request_gate(REPO, 1).merged  # GitHub merged the human's head
    assert canary.status == "failed" and canary.error_type == "HeadMovedAfterArming"
    assert not canary.reached_goal and "merged at" in canary.error
    assert fleet.status == "not_run" and "stage 'canary'" in fleet.note
    assert BRANCH not in forge.branches(FLEET) and _main(forge, FLEET)["app.yaml"] == b"tag: 1\n"


def test_auto_merge_disabled_while_waiting_stops_at_once_and_is_not_re_armed() -> None:
    forge = _forge()
    outcome, time = _wait(forge, lambda: forge.disable_auto_merge(REPO, 1))
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeDisarmed"
    assert "auto-merge was disabled while prplan waited" in outcome.error
    assert len(time.slept) == 1
    assert forge.pull_request_gate(REPO, 1).armed is MergeArmed.NONE
    forge.set_status(REPO, BRANCH, "ci/lint", "success")  # nothing merges it now
    assert _main(forge)["app.yaml"] == b"tag: 1\n"


def test_leaving_the_merge_queue_while_waiting_stops_at_once() -> None:
    forge = _forge(queue=True)
    outcome, time = _wait(forge, lambda: forge.dequeue(REPO, 1))
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeDisarmed"
    assert "it left the merge queue while prplan waited" in outcome.error
    assert len(time.slept) == 1 and forge.pull_request_gate(REPO, 1).armed is MergeArmed.NONE


def test_the_new_errors_are_merge_blocked_and_exit_5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert issubclass(HeadMovedAfterArming, MergeBlocked)
    assert issubclass(MergeDisarmed, MergeBlocked)
    # Through the command: a human disables auto-merge during the wait.
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=["ci/lint"])
    forge.close()
    out = tmp_path / "app.yaml"
    out.write_text("tag: 2\n")

    def human_disables() -> None:
        human = prplan.LocalForge.open(data)
        human.disable_auto_merge(REPO, 1)
        human.close()

    time = FakeTime(human_disables)
    monkeypatch.setattr(apply_cmd, "waiter", time.waiter)
    result = CliRunner().invoke(
        cli,
        ["apply", "--repo", REPO, "--local", str(data), "--file", f"app.yaml={out}",
         "--automerge", "--yes", "--format", "json", "--branch", BRANCH, "--merge-when", "wait"],
    )  # fmt: skip
    assert result.exit_code == 5, result.output
    assert "MergeDisarmed" in result.output and len(time.slept) == 1


def test_a_timeout_never_claims_the_pull_requests_are_armed() -> None:
    forge = _forge()
    request = _request(wait_timeout=5)
    time = FakeTime()
    outcome = apply(make_plan(observe(forge, request), request), forge, waiter=time.waiter())
    assert outcome.error_type == "WaitTimedOut" and time.now == 5
    assert "armed" not in outcome.error
    assert f"{REPO}#1 waiting for checks: ci/lint" in outcome.error


def test_a_saved_plan_is_stale_when_a_human_disabled_auto_merge_since(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=["ci/lint"])
    forge.close()
    out, saved = tmp_path / "app.yaml", tmp_path / "plan.json"
    out.write_text("tag: 2\n")
    change = ["--repo", REPO, "--local", str(data), "--file", f"app.yaml={out}",
              "--branch", BRANCH, "--automerge"]  # fmt: skip
    armed = CliRunner().invoke(cli, ["apply", *change, "--yes"])
    assert armed.exit_code == 0, armed.output  # auto-merge on, ci/lint pending
    planned = CliRunner().invoke(cli, ["plan", *change, "--out", str(saved)])
    assert planned.exit_code == 0, planned.output  # nothing to do: auto-merge is on
    human = prplan.LocalForge.open(data)
    human.disable_auto_merge(REPO, 1)
    human.close()
    stale = CliRunner().invoke(cli, ["apply", str(saved), "--local", str(data)])
    assert stale.exit_code == 4, stale.output
    assert "auto_merge" in stale.output and "none" in stale.output


def test_the_recheck_compares_the_merge_queue_and_arming_only_as_observed() -> None:
    forge = _forge()
    request = _request(merge_when="auto")
    before = observe(forge, request)
    forge.protect_branch(REPO, "main", required_checks=("ci/lint",), merge_queue=True)
    moved = moved_facts(before, observe(forge, request))
    assert ("merge queue on main", "off", "on") in moved
    # Without automerge neither is read, so neither can make a plan stale.
    plain = _request(automerge=False, merge_when="now")
    assert moved_facts(observe(forge, plain), observe(forge, plain)) == []
