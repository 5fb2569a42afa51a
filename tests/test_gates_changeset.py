"""Change-set stages wait for merges (issue 14, part 3): a stage starts
only when every change of the stage before is merged, not merely armed;
a failing check or the stage's timeout stops the set with the stage and
its pull requests named. Local forge in process; CI statuses are set by
the injected sleep, so nothing waits for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from fake_time import FakeTime
from prplan.cli import cli
from prplan.errors import InvalidRequestError
from prplan.run.changeset import ChangeSetPlan, apply_changeset, plan_changeset
from prplan.run.changeset_file import parse_changeset
from prplan.run.outcome import OutcomeStatus

CANARY, FLEET = "acme/canary", "acme/fleet"
BRANCH = "prplan/release-2"


@pytest.fixture(scope="module", autouse=True)
def _out(tmp_path_factory: pytest.TempPathFactory) -> None:
    """The content every change writes, in a file as a change set names it."""
    global OUT
    OUT = tmp_path_factory.mktemp("out") / "app.yaml"
    OUT.write_text("tag: 2\n")


OUT = Path()


def _forge() -> prplan.LocalForge:
    forge = prplan.LocalForge.in_memory()
    for repo in (CANARY, FLEET):
        forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
        forge.protect_branch(repo, "main", required_checks=["ci/lint"])
    return forge


def _document(timeout: object = None) -> dict[str, object]:
    canary: dict[str, object] = {
        "name": "canary",
        "changes": [{"repo": CANARY, "files": {"app.yaml": str(OUT)}}],
    }
    if timeout is not None:
        canary["timeout"] = timeout
    return {
        "version": 1,
        "defaults": {"branch": BRANCH, "create_pr": True, "automerge": True, "title": "r2"},
        "stages": [
            canary,
            {"name": "fleet", "changes": [{"repo": FLEET, "files": {"app.yaml": str(OUT)}}]},
        ],
    }  # fmt: skip


def _main(forge: prplan.LocalForge, repo: str) -> str:
    return forge.files(repo, "main")["app.yaml"].decode()


def _planned(forge: prplan.LocalForge, timeout: object = None) -> ChangeSetPlan:
    return plan_changeset(forge, parse_changeset(_document(timeout)))


def test_stage_two_starts_only_after_stage_one_is_merged() -> None:
    forge = _forge()
    seen_fleet_untouched: list[bool] = []

    def ci_reports() -> None:
        seen_fleet_untouched.append(BRANCH not in forge.branches(FLEET))
        forge.set_status(CANARY, BRANCH, "ci/lint", "success")

    time = FakeTime(ci_reports)
    result = apply_changeset(forge, _planned(forge), waiter=time.waiter())
    canary, fleet = result.entries
    assert seen_fleet_untouched == [True]  # while canary waited, fleet had no branch
    assert canary.outcome is not None and canary.outcome.status is OutcomeStatus.MERGED
    assert canary.reached_goal and _main(forge, CANARY) == "tag: 2\n"
    # Fleet ran after; its own check has not reported, so the set is not done.
    assert fleet.outcome is not None
    assert fleet.outcome.status is OutcomeStatus.AUTO_MERGE_ENABLED
    assert fleet.status == "timed_out" and "stage 'fleet'" in fleet.error
    assert f"{FLEET}#1" in fleet.error and not result.ok


def test_a_failing_check_stops_the_set_before_the_next_stage() -> None:
    forge = _forge()
    time = FakeTime(lambda: forge.set_status(CANARY, BRANCH, "ci/lint", "failure"))
    result = apply_changeset(forge, _planned(forge), waiter=time.waiter())
    canary, fleet = result.entries
    assert canary.status == "failed" and canary.error_type == "MergeBlocked"
    assert "ci/lint" in canary.error and CANARY in canary.error
    assert fleet.status == "not_run" and "stage 'canary'" in fleet.note
    assert BRANCH not in forge.branches(FLEET) and _main(forge, FLEET) == "tag: 1\n"


def test_a_stage_timeout_from_the_file_stops_the_set() -> None:
    forge = _forge()
    time = FakeTime()
    planned = _planned(forge, timeout="90s")
    assert ChangeSetPlan.from_dict(__import__("json").loads(planned.to_json())) == planned
    result = apply_changeset(forge, planned, stage_timeout=3600, waiter=time.waiter())
    canary, fleet = result.entries
    assert canary.status == "timed_out" and "not merged within 1m30s" in canary.error
    assert time.now == 90  # the stage's own timeout, not the caller's
    assert fleet.status == "not_run"


def test_a_bad_stage_timeout_is_named() -> None:
    with pytest.raises(
        InvalidRequestError, match=r"stages\[0\]\.timeout: 'soon' is not a duration"
    ):
        parse_changeset(_document(timeout="soon"))


def test_the_command_exits_6_when_a_stage_times_out(tmp_path: Path) -> None:
    data = tmp_path / "forge"
    forge = prplan.LocalForge.open(data)
    for repo in (CANARY, FLEET):
        forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
        forge.protect_branch(repo, "main", required_checks=["ci/lint"])
    forge.close()
    path = tmp_path / "set.yaml"
    path.write_text(__import__("json").dumps(_document()))
    args = ["apply", "--changeset", str(path), "--local", str(data), "--yes", "--format", "json"]
    result = CliRunner().invoke(cli, [*args, "--stage-timeout", "0.05s"])
    assert result.exit_code == 6, result.output
    assert '"status": "timed_out"' in result.output and '"status": "not_run"' in result.output
    bad = CliRunner().invoke(cli, [*args, "--stage-timeout", "later"])
    assert bad.exit_code == 1 and "--stage-timeout" in bad.output
