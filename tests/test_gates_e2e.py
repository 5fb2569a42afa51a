"""Merge gates end to end over HTTP (issue 14): the command against a served
local forge whose main branches are protected, with the stand-in CI
reporting on every new pull request head."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.cli import output as cli_output
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.server.stand_in_ci import CheckSpec, StandInCI
from prplan.run.waiting import Waiter

from served import TOKEN, Served

CANARY, FLEET = "acme/canary", "acme/fleet"
CHECK = "ci/helm-template"


@pytest.fixture
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's waiter polls every 50 ms instead of 2 s (the stand-in CI
    reports after 50 ms): the same poller, on a shorter clock."""
    monkeypatch.setattr(cli_output, "waiter", lambda: Waiter(first=0.05, factor=1.0, most=0.05))


@pytest.fixture
def gated(forge_server: ForgeServer) -> Iterator[Callable[[str], Served]]:
    """A served forge with two protected repositories and a stand-in CI that
    reports ``state`` for the required check 50 ms after each new head."""
    started: list[StandInCI] = []

    def make(state: str) -> Served:
        forge = prplan.LocalForge.in_memory()
        for repo in (CANARY, FLEET):
            forge.create_repo(repo, {"app.yaml": "tag: 1\n"})
            forge.protect_branch(repo, "main", required_checks=[CHECK])
        started.append(StandInCI(forge, [CheckSpec(CHECK, state, 0.05)], poll=0.01).start())
        return Served(forge_server, forge)

    yield make
    for ci in started:
        ci.stop()


def _changeset(tmp_path: Path) -> Path:
    (tmp_path / "app.yaml").write_text("tag: 2\n")
    change = {"files": {"app.yaml": str(tmp_path / "app.yaml")}}
    document = {
        "version": 1,
        "defaults": {"branch": "prplan/release-2", "automerge": True, "title": "Release 2"},
        "stages": [
            {"name": "canary", "changes": [{"repo": CANARY, **change}], "timeout": "20s"},
            {"name": "fleet", "changes": [{"repo": FLEET, **change}], "timeout": "20s"},
        ],
    }
    path = tmp_path / "release.json"
    path.write_text(json.dumps(document))
    return path


def _apply(served: Served, changeset: Path, audit: Path) -> tuple[int, str]:
    env = {"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": served.server.api_url, "NO_COLOR": "1"}
    args = ["apply", "--changeset", str(changeset), "--yes", "--audit-log", str(audit)]
    done = CliRunner().invoke(cli, args, env=env)
    return done.exit_code, done.output


def test_a_two_stage_release_over_protected_repositories_waits_for_ci_then_merges(
    gated: Callable[[str], Served], quick_polls: None, tmp_path: Path
) -> None:
    served = gated("success")
    code, out = _apply(served, _changeset(tmp_path), tmp_path / "audit.jsonl")
    assert code == 0, out
    for repo in (CANARY, FLEET):
        assert served.forge.read_file(repo, "main", "app.yaml") == b"tag: 2\n"
        (pull,) = served.forge.pull_requests(repo)
        assert pull.merged  # by GitHub's (the forge's) auto-merge, once CI was green
    # The fleet's first write started only after the forge merged the canary.
    records = [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]
    fleet = [r["time"] for r in records if r.get("repo") == FLEET and r["type"] == "action_started"]
    merged_at = served.forge.pull_row(CANARY, 1)["merged_at"]
    first = datetime.datetime.fromisoformat(min(fleet).replace("Z", "+00:00")).timestamp()
    assert first >= merged_at - 0.001, (first, merged_at)
    assert served.violations == []


def test_a_failing_check_in_the_canary_stage_leaves_the_fleet_untouched(
    gated: Callable[[str], Served], quick_polls: None, tmp_path: Path
) -> None:
    served = gated("failure")
    code, out = _apply(served, _changeset(tmp_path), tmp_path / "audit.jsonl")
    assert code == 5, out  # MergeBlocked: a required check failed while waiting
    assert CHECK in out and "canary" in out
    (pull,) = served.forge.pull_requests(CANARY)
    assert pull.is_open and not pull.merged
    assert served.forge.read_file(CANARY, "main", "app.yaml") == b"tag: 1\n"
    assert served.forge.branches(FLEET).keys() == {"main"}  # not a branch, not a pull request
    assert served.forge.pull_requests(FLEET) == []


def test_a_check_reporting_between_the_refused_merge_and_the_arming_merges_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The race the stand-in CI met: the merge is refused (check pending),
    the check turns green, and GitHub then refuses to arm a pull request
    that can merge now. prplan merges it then, once."""
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(CANARY, {"app.yaml": "tag: 1\n"})
    forge.protect_branch(CANARY, "main", required_checks=[CHECK])
    arm = forge.enable_auto_merge

    def check_reports_first(*args: object, **options: object) -> object:
        (pull,) = forge.pull_requests(CANARY)
        forge.set_status(CANARY, pull.head_sha, CHECK, "success")
        return arm(*args, **options)  # type: ignore[arg-type]

    monkeypatch.setattr(forge, "enable_auto_merge", check_reports_first)
    request = prplan.ChangeRequest(
        repo=CANARY, branch="prplan/r", files={"app.yaml": "tag: 2\n"}, automerge=True
    )
    outcome = prplan.apply(prplan.plan(prplan.observe(forge, request), request), forge)
    assert outcome.status is prplan.OutcomeStatus.MERGED, outcome.error
    assert forge.read_file(CANARY, "main", "app.yaml") == b"tag: 2\n"
