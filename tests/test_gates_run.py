"""The run layer of merge gates (issue 14), in process on the local forge:
each gate x merge_when through plan + apply, the fall-back from a blocked
merge to auto-merge or the merge queue, waiting (injected sleep and clock:
milliseconds), and the exit codes through the command."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from fake_time import FakeTime
from prplan.cli import cli
from prplan.core.planner import plan as make_plan
from prplan.core.request import ChangeRequest
from prplan.core.snapshot import Gate, MergeArmed
from prplan.core.states import ActionKind, RefusalCode
from prplan.run.executor import apply
from prplan.run.observe import observe
from prplan.run.outcome import ActionStatus, OutcomeStatus
from prplan.run.waiting import Waiter

REPO = "acme/deploy"
BRANCH = "prplan/app-2"


def _forge(*, checks: tuple[str, ...] = ("ci/lint",), queue: bool = False) -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    if checks or queue:
        forge.protect_branch(REPO, "main", required_checks=checks, merge_queue=queue)
    return forge


def _request(**fields: object) -> ChangeRequest:
    args: dict[str, object] = {
        "repo": REPO, "branch": BRANCH, "files": {"app.yaml": "tag: 2\n"},
        "create_pr": True, "automerge": True, "title": "app 2",
    }  # fmt: skip
    args.update(fields)
    return ChangeRequest(**args)  # type: ignore[arg-type]


def _run(
    forge: prplan.LocalForge, request: ChangeRequest, waiter: Waiter | None = None
) -> prplan.Outcome:
    return apply(make_plan(observe(forge, request), request), forge, waiter=waiter)


def _main(forge: prplan.LocalForge) -> str:
    return forge.files(REPO, "main")["app.yaml"].decode()


def test_a_clean_gate_merges_now_and_pays_nothing_extra() -> None:
    forge = _forge(checks=())
    outcome = _run(forge, _request())
    assert outcome.status is OutcomeStatus.MERGED and _main(forge) == "tag: 2\n"
    assert outcome.requests.writes == 3  # branch+commit, pull request, merge: no arming


def test_pending_checks_under_auto_enable_auto_merge_and_the_forge_merges_on_success() -> None:
    forge = _forge()
    outcome = _run(forge, _request())
    assert outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED and outcome.ok
    merge = outcome.actions[-1]
    assert merge.kind is ActionKind.MERGE_PULL_REQUEST and "auto-merge enabled" in merge.detail
    assert forge.gate_view(REPO, 1).auto_merge_method == "merge"
    # Re-running while auto-merge is on plans nothing, and says what it waits for.
    again = make_plan(observe(forge, _request()), _request())
    assert again.is_empty and "auto-merge is on; waiting for ci/lint" in again.notes
    assert _run(forge, _request()).status is OutcomeStatus.UNCHANGED
    forge.set_status(REPO, BRANCH, "ci/lint", "success")
    assert _main(forge) == "tag: 2\n"
    assert forge.pull_request_gate(REPO, 1).merged


def test_the_port_reads_the_gate_as_a_pull_request() -> None:
    forge = _forge(checks=("ci/lint", "docs"))
    _run(forge, _request(automerge=False))
    forge.set_status(REPO, BRANCH, "docs", "failure")
    info = forge.pull_request_gate(REPO, 1)
    assert (info.gate, info.failing_checks, info.pending_checks, info.armed) == (
        Gate.FAILING, ("docs",), ("ci/lint",), MergeArmed.NONE,
    )  # fmt: skip
    assert forge.merge_queue_enabled(REPO, "main") is False


def test_automerge_off_never_enables_auto_merge() -> None:
    forge = _forge()
    outcome = _run(forge, _request(automerge=False))
    assert outcome.status is OutcomeStatus.CREATED
    assert forge.gate_view(REPO, 1).auto_merge_method is None
    assert _run(forge, _request(automerge=False)).status is OutcomeStatus.UNCHANGED


def test_pending_under_now_is_merge_blocked_at_apply_for_a_new_pull_request() -> None:
    forge = _forge()
    outcome = _run(forge, _request(merge_when="now"))
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    # A protected base: the gate, read right before the merge, names the check.
    assert "its gate is pending (pending: ci/lint)" in outcome.error
    assert forge.gate_view(REPO, 1).auto_merge_method is None
    # Known at plan time once the pull request exists: a refusal, exit 3.
    again = make_plan(observe(forge, _request(merge_when="now")), _request(merge_when="now"))
    assert again.refusal is not None and again.refusal.code is RefusalCode.MERGE_BLOCKED


def test_a_failing_required_check_is_refused_at_plan_time() -> None:
    forge = _forge()
    _run(forge, _request(automerge=False))
    forge.set_status(REPO, BRANCH, "ci/lint", "failure")
    refused = make_plan(observe(forge, _request()), _request())
    assert refused.refusal is not None and refused.refusal.code is RefusalCode.CHECKS_FAILING
    assert "ci/lint" in refused.refusal.message


def test_an_open_pull_request_pending_gets_auto_merge_from_the_plan() -> None:
    forge = _forge()
    _run(forge, _request(automerge=False))
    planned = make_plan(observe(forge, _request()), _request())
    assert [a.kind for a in planned.actions] == [ActionKind.ENABLE_AUTO_MERGE]
    outcome = apply(planned, forge)
    assert outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED
    assert forge.gate_view(REPO, 1).auto_merge_method == "merge"


def test_a_merge_queue_base_enqueues_and_the_queue_merges() -> None:
    forge = _forge(queue=True)
    outcome = _run(forge, _request())
    assert outcome.status is OutcomeStatus.QUEUED
    assert forge.gate_view(REPO, 1).queued
    forge.set_status(REPO, BRANCH, "ci/lint", "success")
    assert _main(forge) == "tag: 2\n"


def test_delete_branch_waits_for_the_merge() -> None:
    forge = _forge(checks=())
    forge.block_merges(REPO, "main", 'Required status check "ci" is expected.')
    forge.protect_branch(REPO, "main", required_checks=["ci"])
    outcome = _run(forge, _request(delete_branch=True))
    assert outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED
    deletion = outcome.actions[-1]
    assert deletion.kind is ActionKind.DELETE_BRANCH and deletion.status is ActionStatus.NOT_RUN
    assert BRANCH in forge.branches(REPO)  # the pull request stays open for GitHub to merge


def test_wait_merges_after_a_status_set_while_sleeping() -> None:
    forge = _forge()
    time = FakeTime(lambda: None, lambda: forge.set_status(REPO, BRANCH, "ci/lint", "success"))
    request = _request(merge_when="wait", delete_branch=True)
    outcome = _run(forge, request, time.waiter())
    assert outcome.status is OutcomeStatus.MERGED and outcome.merge_sha
    assert _main(forge) == "tag: 2\n" and BRANCH not in forge.branches(REPO)
    assert outcome.actions[-1].status is ActionStatus.DONE  # the held-back deletion ran
    assert time.slept == [2.0, 3.0]  # backoff: 2 s, then x1.5


def test_wait_stops_when_a_required_check_fails() -> None:
    forge = _forge()
    time = FakeTime(lambda: forge.set_status(REPO, BRANCH, "ci/lint", "failure"))
    outcome = _run(forge, _request(merge_when="wait"), time.waiter())
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "MergeBlocked"
    assert "ci/lint" in outcome.error


def test_wait_times_out_with_backoff_capped_at_the_deadline() -> None:
    forge = _forge()
    time = FakeTime()
    outcome = _run(forge, _request(merge_when="wait", wait_timeout=60), time.waiter())
    assert outcome.status is OutcomeStatus.FAILED and outcome.error_type == "WaitTimedOut"
    assert f"{REPO}#1 waiting for checks: ci/lint" in outcome.error
    assert sum(time.slept) == 60 and max(time.slept) <= 30


def test_wait_on_a_rerun_waits_for_the_armed_merge() -> None:
    forge = _forge()
    _run(forge, _request())
    time = FakeTime(lambda: forge.set_status(REPO, BRANCH, "ci/lint", "success"))
    outcome = _run(forge, _request(merge_when="wait"), time.waiter())
    assert outcome.status is OutcomeStatus.MERGED and _main(forge) == "tag: 2\n"


@pytest.fixture(scope="module")
def cli_forge(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    data = tmp_path_factory.mktemp("forge")
    forge = prplan.LocalForge.open(data)
    forge.create_repo(REPO, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(REPO, "main", required_checks=["ci/lint"])
    forge.close()
    out = data / "app.yaml"
    out.write_text("tag: 2\n")
    return data, out


def test_the_command_exits_0_for_auto_merge_and_6_when_a_wait_times_out(
    cli_forge: tuple[Path, Path],
) -> None:
    data, out = cli_forge
    base = ["apply", "--repo", REPO, "--local", str(data), "--file", f"app.yaml={out}",
            "--automerge", "--yes", "--format", "json"]  # fmt: skip
    armed = CliRunner().invoke(cli, [*base, "--branch", "prplan/a"])
    assert armed.exit_code == 0, armed.output
    assert '"status": "auto_merge_enabled"' in armed.output
    timed = CliRunner().invoke(
        cli, [*base, "--branch", "prplan/b", "--merge-when", "wait", "--wait-timeout", "0.05s"]
    )
    assert timed.exit_code == 6, timed.output
    assert "WaitTimedOut" in timed.output
