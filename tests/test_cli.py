"""The prplan command as a user runs it: every command, exit code and format.

Most tests call the click group in-process; those about exit codes of
click's own parsing, and the token scan, run the real entry point
(``python -m prplan``) as a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import prplan
from prplan.cli import cli
from prplan.forges.local.server.app import ForgeServer

from audit_records import read_audit
from served import TOKEN, Served, fixed_clock

REPO = "acme/deployments"
GOLDEN = Path(__file__).parent / "golden"
VALUES = "image:\n  repository: registry.example.com/acme/app\n  tag: '1.4.1'\nreplicas: 3\n"


@pytest.fixture
def forge_dir(tmp_path: Path) -> Path:
    """A persistent forge on a fixed clock, so shas (and so outputs) repeat."""
    forge = prplan.LocalForge.open(tmp_path / "forge", clock=fixed_clock)
    forge.create_repo(REPO, {"apps/app/values.yaml": VALUES, "apps/old.yaml": "old: true\n"})
    forge.close()
    return tmp_path / "forge"


@pytest.fixture
def new_values(tmp_path: Path) -> Path:
    path = tmp_path / "values.yaml"
    path.write_text(VALUES.replace("1.4.1", "1.4.2"))
    return path


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def change(forge_dir: Path, new_values: Path, *extra: str) -> list[str | Path]:
    return ["--repo", REPO, "--local", forge_dir, "--branch", "prplan/app-1.4.2",
            "--file", f"apps/app/values.yaml={new_values}", "--delete", "apps/old.yaml",
            "--title", "Deploy app 1.4.2", *extra]  # fmt: skip


def open_forge(forge_dir: Path) -> prplan.LocalForge:
    return prplan.LocalForge.open(forge_dir, clock=fixed_clock)


# --- plan -------------------------------------------------------------------------


def test_plan_exits_2_when_changes_are_planned_and_writes_nothing(
    forge_dir: Path, new_values: Path
) -> None:
    result = run("plan", *change(forge_dir, new_values))
    assert result.exit_code == 2, result.output
    assert "rule: absent_propose" in result.output and "~ apps/app/values.yaml" in result.output
    assert "- apps/old.yaml" in result.output
    assert open_forge(forge_dir).branches(REPO) == {
        "main": open_forge(forge_dir).branches(REPO)["main"]
    }


def test_plan_exits_0_when_nothing_is_to_do(forge_dir: Path, tmp_path: Path) -> None:
    same = tmp_path / "same.yaml"
    same.write_text(VALUES)
    result = run(
        "plan",
        "--repo",
        REPO,
        "--local",
        forge_dir,
        "--branch",
        "b",
        "--file",
        f"apps/app/values.yaml={same}",
    )
    assert result.exit_code == 0 and "Nothing to do." in result.output


def test_plan_exits_3_when_refused(forge_dir: Path, new_values: Path) -> None:
    result = run("plan", *change(forge_dir, new_values, "--no-allow-modification"))
    assert result.exit_code == 3
    assert "REFUSED (modification_not_allowed)" in result.output


def test_plan_json_is_the_plan_document(forge_dir: Path, new_values: Path, tmp_path: Path) -> None:
    result = run(
        "plan", *change(forge_dir, new_values), "--format", "json", "--out", tmp_path / "p.json"
    )
    document = json.loads(result.output)
    assert document["format_version"] == 4 and document["rule"] == "absent_propose"
    assert prplan.Plan.from_json((tmp_path / "p.json").read_text()).digest == document["digest"]


def test_plan_markdown_matches_the_golden_file(forge_dir: Path, new_values: Path) -> None:
    result = run("plan", *change(forge_dir, new_values, "--automerge"), "--format", "markdown")
    assert result.exit_code == 2
    golden = GOLDEN / "plan.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.output)
    assert result.output == golden.read_text(), (
        "run with UPDATE_GOLDEN=1 to accept a deliberate change"
    )
    assert (
        "```diff" in result.output
        and "-  tag: '1.4.1'" in result.output
        and "+  tag: '1.4.2'" in result.output
    )
    assert "```mermaid" in result.output and "class no_branch start" in result.output
    assert "class merged goal" in result.output
    assert "none (none)" not in result.output and "specs/" not in result.output
    assert "| 53 | `absent_merge` | pr ∈ {none, merged, closed}; branch = absent;" in result.output


def test_refusal_markdown_matches_the_golden_file(forge_dir: Path, new_values: Path) -> None:
    forge = open_forge(forge_dir)
    forge.push(REPO, "prplan/app-1.4.2", {"notes.txt": "mine\n"}, message="A human's work")
    forge.close()
    result = run("plan", *change(forge_dir, new_values), "--format", "markdown")
    assert result.exit_code == 3
    golden = GOLDEN / "refused.md"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(result.output)
    assert result.output == golden.read_text(), (
        "run with UPDATE_GOLDEN=1 to accept a deliberate change"
    )


# --- invalid input ----------------------------------------------------------------


def test_invalid_input_lists_every_problem_by_option_and_writes_nothing(forge_dir: Path) -> None:
    result = CliRunner().invoke(
        cli, ["plan", "--repo", "acme", "--local", str(forge_dir), "--branch", "a b", "--file", "x=/no/such/file",
              "--delete", "../up", "--merge-method", "octopus"],
    )  # fmt: skip
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines == [
        "error: --file: x=/no/such/file: cannot read /no/such/file: No such file or directory",
        "error: --repo: 'acme' is not 'owner/name' (e.g. 'acme/deployments')",
        "error: --branch: 'a b' is not a valid git branch name: contains one of: space ~ ^ : ? * [ \\",
        "error: --file/--delete ../up: path '../up' contains '..'; paths must stay inside the repository",
        "error: --merge-method: 'octopus' is not one of: merge | squash | rebase",
    ]


def test_missing_options_are_named(forge_dir: Path) -> None:
    result = run("plan", "--local", forge_dir)
    assert result.exit_code == 1
    assert "error: --repo: is required" in result.output
    assert "error: --branch: is required" in result.output
    assert "error: --file/--delete/--from-dir: name at least one file" in result.output


def test_a_forge_directory_that_is_not_one_is_named(tmp_path: Path, new_values: Path) -> None:
    result = run("plan", *change(tmp_path / "nothing", new_values))
    assert (
        result.exit_code == 1
        and "error: --local:" in result.output
        and "prplan forge create-repo" in result.output
    )


def test_clicks_own_usage_errors_exit_1_from_the_real_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "prplan", "plan", "--no-such-option"], capture_output=True, text=True
    )
    assert done.returncode == 1
    assert "No such option '--no-such-option'" in done.stderr


# --- apply --------------------------------------------------------------------------


def test_apply_a_change_in_one_go(forge_dir: Path, new_values: Path) -> None:
    result = run("apply", *change(forge_dir, new_values, "--automerge", "--delete-branch"), "--yes")
    assert result.exit_code == 0, result.output
    assert "prplan apply acme/deployments: merged" in result.output
    forge = open_forge(forge_dir)
    assert forge.read_file(REPO, "main", "apps/app/values.yaml") == new_values.read_bytes()
    assert forge.read_file(REPO, "main", "apps/old.yaml") is None
    again = run("plan", *change(forge_dir, new_values, "--automerge", "--delete-branch"))
    assert again.exit_code == 0


def test_apply_a_reviewed_plan_with_an_audit_log(
    forge_dir: Path, new_values: Path, tmp_path: Path
) -> None:
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    run("plan", *change(forge_dir, new_values, "--automerge"), "--out", saved)
    result = run("apply", saved, "--local", forge_dir, "--audit-log", audit, "--format", "json")
    assert result.exit_code == 0, result.output
    outcome = json.loads(result.output)
    assert outcome["status"] == "merged" and outcome["pull_request"] == 1
    digest = prplan.Plan.from_json(saved.read_text()).digest
    records = read_audit(audit)
    # Branch and commit are one write: both start, then both end.
    assert [(r["type"], r.get("action", {}).get("kind")) for r in records] == [
        ("action_started", "create_branch"),
        ("action_started", "commit"),
        ("action_finished", "create_branch"),
        ("action_finished", "commit"),
        ("action_started", "create_pull_request"),
        ("action_finished", "create_pull_request"),
        ("action_started", "merge_pull_request"),
        ("action_finished", "merge_pull_request"),
        ("outcome", None),
    ]
    assert all(
        r["plan_digest"] == digest and r["repo"] == REPO and r["time"].endswith("Z")
        for r in records
    )
    finished = [r for r in records if r["type"] == "action_finished"]
    assert all(r["result"]["status"] == "done" and r["action"]["reason"] for r in finished)
    assert (
        finished[1]["action"]["files"][0]["path"] == "apps/app/values.yaml"
        and finished[1]["result"]["sha"] == outcome["commit_sha"]
    )
    assert finished[2]["result"]["pull_request"] == 1 and records[-1]["status"] == "merged"
    assert records[-1]["outcome"] == outcome  # the outcome itself, every field
    assert "tag: '1.4.2'" not in audit.read_text(), "the audit log must not hold file contents"


def test_a_saved_plan_applied_after_the_forge_moved_exits_4_and_writes_nothing(
    forge_dir: Path, new_values: Path, tmp_path: Path
) -> None:
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    run("plan", *change(forge_dir, new_values), "--out", saved)
    forge = open_forge(forge_dir)
    forge.push(
        REPO, "main", {"apps/app/values.yaml": "image:\n  tag: 'hotfix'\n"}, message="Hotfix"
    )
    before = (forge.branches(REPO), forge.pull_requests(REPO))
    result = CliRunner().invoke(
        cli, ["apply", str(saved), "--local", str(forge_dir), "--audit-log", str(audit)]
    )
    assert result.exit_code == 4
    assert "the plan is stale" in result.output and "apps/app/values.yaml on base" in result.output
    forge = open_forge(forge_dir)
    assert (forge.branches(REPO), forge.pull_requests(REPO)) == before
    (record,) = read_audit(audit)
    assert record["status"] == "stale" and record["outcome"] is None
    assert "apps/app/values.yaml on base" in record["error"]


def test_apply_refused_exits_3(forge_dir: Path, new_values: Path) -> None:
    result = run("apply", *change(forge_dir, new_values, "--no-allow-modification"), "--yes")
    assert result.exit_code == 3


def test_apply_failed_part_way_exits_5(forge_dir: Path, new_values: Path) -> None:
    forge = open_forge(forge_dir)
    forge.protect_branch(REPO, "main", required_checks=["ci"])
    forge.close()
    # A new pull request's gate is not known at plan time: read right before
    # the merge (a protected base), it is pending, and --merge-when now
    # forbids handing it to GitHub's auto-merge. The merge fails, the PR
    # stays open.
    result = run(
        "apply", *change(forge_dir, new_values, "--automerge", "--merge-when", "now"), "--yes"
    )
    assert result.exit_code == 5, result.output
    assert "merge_pull_request: failed" in result.output
    assert "its gate is pending (pending: ci)" in result.output
    assert [p.is_open for p in open_forge(forge_dir).pull_requests(REPO)] == [True]


def test_a_conflicting_pull_request_of_prplan_is_made_again_on_base_and_merged(
    forge_dir: Path, new_values: Path
) -> None:
    """Issue 14: with automerge the gate is read; a conflict on a branch that
    holds only prplan's commit is fixed by making that commit again on base
    (it was exit 5, a merge conflict, before)."""
    assert run("apply", *change(forge_dir, new_values), "--yes").exit_code == 0
    forge = open_forge(forge_dir)
    forge.push(REPO, "main", {"apps/app/values.yaml": VALUES.replace("1.4.1", "1.5.0-hotfix")},
               message="Hotfix")  # fmt: skip
    forge.close()
    result = run("apply", *change(forge_dir, new_values, "--automerge"), "--yes")
    assert result.exit_code == 0, result.output
    assert "reset_branch: done" in result.output and "merge_pull_request: done" in result.output
    assert (
        open_forge(forge_dir).files(REPO, "main")["apps/app/values.yaml"] == new_values.read_bytes()
    )


def test_apply_rejects_a_plan_for_another_repo_and_plan_plus_change(
    forge_dir: Path, new_values: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    run("plan", *change(forge_dir, new_values), "--out", saved)
    wrong = run("apply", saved, "--local", forge_dir, "--repo", "acme/other")
    assert (
        wrong.exit_code == 1
        and "error: --repo: is acme/other but the plan is for acme/deployments" in wrong.output
    )
    both = run("apply", saved, "--local", forge_dir, "--branch", "x")
    assert both.exit_code == 1 and "give PLAN_FILE or a change, not both" in both.output


def test_a_tampered_plan_is_refused(forge_dir: Path, new_values: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    run("plan", *change(forge_dir, new_values), "--out", saved)
    saved.write_text(saved.read_text().replace("1.4.2", "6.6.6"))
    result = run("apply", saved, "--local", forge_dir)
    assert result.exit_code == 1 and "digest" in result.output


# --- show, states -------------------------------------------------------------------


def test_show_renders_a_saved_plan_in_every_format(
    forge_dir: Path, new_values: Path, tmp_path: Path
) -> None:
    saved = tmp_path / "plan.json"
    run("plan", *change(forge_dir, new_values), "--out", saved)
    text = run("show", saved)
    assert text.exit_code == 0 and "rule: absent_propose" in text.output
    assert json.loads(run("show", saved, "--format", "json").stdout) == json.loads(
        saved.read_text()
    )
    markdown = run("show", saved, "--format", "markdown")  # no forge: the plan carries it
    assert "```diff" in markdown.output and "+  tag: '1.4.2'" in markdown.output


def test_every_command_has_help() -> None:
    for command in (["plan"], ["apply"], ["show"], ["states"], ["demo"], ["forge"], ["forge", "serve"],
                    ["forge", "create-repo"]):  # fmt: skip
        result = run(*command, "--help")
        assert result.exit_code == 0 and "Usage: " in result.output
    assert (
        "Exit codes: 0 nothing to do, 2 changes planned, 3 refused, 1 error."
        in run("plan", "--help").output
    )
    assert "4 stale plan (nothing" in run("apply", "--help").output


def test_no_colour_off_a_terminal() -> None:
    assert "\x1b[" not in run("demo").output


# --- GitHub through the command, and the token --------------------------------------


def test_the_token_never_appears_anywhere(
    forge_server: ForgeServer, tmp_path: Path, new_values: Path
) -> None:
    forge = prplan.LocalForge.in_memory()
    forge.create_repo(REPO, {"apps/app/values.yaml": VALUES})
    served = Served(forge_server, forge)
    env = {
        **os.environ,
        "GITHUB_TOKEN": TOKEN,
        "GITHUB_API_URL": forge_server.api_url,
        "NO_COLOR": "1",
    }
    saved, audit = tmp_path / "plan.json", tmp_path / "audit.jsonl"
    base = ["--repo", REPO, "--branch", "prplan/x", "--file", f"apps/app/values.yaml={new_values}"]
    outputs: list[str] = []

    def prplan_(*args: str | Path, code: int) -> None:
        done = subprocess.run([sys.executable, "-m", "prplan", *map(str, args)], capture_output=True, text=True, env=env,
                              timeout=120)  # fmt: skip
        outputs.extend([done.stdout, done.stderr])
        assert done.returncode == code, done.stderr

    for fmt in ("text", "markdown", "json"):
        prplan_("plan", *base, "--format", fmt, "--out", saved, code=2)
    prplan_("show", saved, "--format", "markdown", "--github-url", forge_server.api_url, code=0)
    prplan_("apply", saved, "--audit-log", audit, code=0)
    prplan_("apply", saved, code=4)  # stale now
    env["GITHUB_TOKEN"] = TOKEN + "x"  # a bad token: 401, reported without the token
    prplan_("plan", *base, code=1)
    env["GITHUB_TOKEN"] = TOKEN
    assert [r["type"] for r in read_audit(audit)][-1] == "outcome"
    files = [saved.read_text(), audit.read_text()]
    assert all(TOKEN not in text for text in outputs + files)
    assert any("rejected the token" in text for text in outputs)
    assert served.violations == []


@pytest.mark.parametrize(
    ("tty", "no_color", "expected"), [(True, None, True), (True, "1", False), (False, None, False)]
)
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, tty: bool, no_color: str | None, expected: bool
) -> None:
    from prplan.cli import output as cli_module

    monkeypatch.setattr(sys.stdout, "isatty", lambda: tty)
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    assert cli_module._colour_enabled() is expected
    styled = cli_module._style("REFUSED", "refused")
    assert (
        styled != "REFUSED" and "\x1b[" in styled
    )  # the style exists; _echo strips it off a terminal
