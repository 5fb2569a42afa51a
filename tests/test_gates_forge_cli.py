"""`prplan forge protect | status | approve` and the stand-in CI of
`prplan forge serve --checks`, on a forge directory and over HTTP."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer
from prplan.forges.local.server.stand_in_ci import CheckSpec, StandInCI

from served import TOKEN, Served


def _forge(cli_args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["forge", *cli_args])
    return result.exit_code, result.output


def test_protect_status_and_approve_drive_a_gated_merge(tmp_path: Path) -> None:
    data = str(tmp_path / "forge")
    with prplan.LocalForge.open(data) as forge:
        forge.create_repo("acme/app", {"a.txt": "1\n"})
        forge.push("acme/app", "change", {"b.txt": "2\n"})
        number = forge.open_pr("acme/app", "change", author="alice")
    code, out = _forge(["protect", "acme/app", "main", "--data", data, "--require-check",
                        "ci/lint", "--require-approvals", "1", "--strict"])  # fmt: skip
    assert code == 0, out
    assert "checks ci/lint; approvals 1; strict" in out
    code, out = _forge(["merge-pr", "acme/app", str(number), "--data", data])
    assert code != 0 and 'Required status check "ci/lint" is expected.' in out
    assert _forge(["status", "acme/app", "change", "ci/lint", "success", "--data", data])[0] == 0
    code, out = _forge(["approve", "acme/app", str(number), "--data", data, "--as", "alice"])
    assert code != 0 and "Can not approve your own pull request" in out
    assert _forge(["approve", "acme/app", str(number), "--data", data, "--as", "bob"])[0] == 0
    code, out = _forge(["merge-pr", "acme/app", str(number), "--data", data])
    assert code == 0, out
    with prplan.LocalForge.open(data) as forge:
        assert forge.pull_requests("acme/app")[0].merged


@pytest.mark.parametrize("spec", ["ci", "ci=maybe", "ci=success:soon", "=success"])
def test_serve_refuses_a_malformed_check_naming_it(tmp_path: Path, spec: str) -> None:
    code, out = _forge(["serve", "--data", str(tmp_path), "--port", "0", "--checks", spec])
    assert code != 0
    assert "--checks #1" in out and "CONTEXT=success|failure" in out


def test_the_stand_in_ci_reports_on_every_new_head_over_http(forge_server: ForgeServer) -> None:
    forge = prplan.LocalForge.in_memory()
    served = Served(forge_server, forge)
    forge.create_repo("acme/ci", {"a.txt": "1\n"})
    forge.protect_branch("acme/ci", "main", required_checks=["ci/lint"])
    ci = StandInCI(forge, [CheckSpec("ci/lint", "success", 0.05), CheckSpec("docs", "failure")],
                   poll=0.01).start()  # fmt: skip
    try:
        forge.push("acme/ci", "change", {"b.txt": "2\n"})
        request = urllib.request.Request(
            f"{served.server.api_url}/repos/acme/ci/pulls",
            data=json.dumps({"title": "t", "head": "change", "base": "main"}).encode(),
            headers={"Authorization": f"token {TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            number = json.loads(answer.read())["number"]
        forge.enable_auto_merge("acme/ci", number)
        deadline = time.monotonic() + 5
        while not forge.pull_requests("acme/ci")[0].merged and time.monotonic() < deadline:
            time.sleep(0.01)
        pull = forge.pull_requests("acme/ci")[0]
        assert pull.merged  # the stand-in CI's success made auto-merge fire
        url = f"{served.server.api_url}/repos/acme/ci/commits/{pull.head_sha}/status"
        read = urllib.request.Request(url, headers={"Authorization": f"token {TOKEN}"})
        with urllib.request.urlopen(read, timeout=5) as answer:
            combined = json.loads(answer.read())
        assert {(s["context"], s["state"]) for s in combined["statuses"]} == {
            ("ci/lint", "success"), ("docs", "failure"),
        }  # fmt: skip
        assert served.violations == []
    finally:
        ci.stop()
        forge.close()
