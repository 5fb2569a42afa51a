"""``prplan forge create-repo`` and ``prplan forge serve`` as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import prplan
from prplan.cli import cli

TOKEN = "forge-token-123"


def test_create_repo_from_a_directory(tmp_path: Path) -> None:
    source = tmp_path / "seed"
    (source / "apps" / "api").mkdir(parents=True)
    (source / "apps" / "api" / "values.yaml").write_text("tag: 1\n")
    (source / ".git").mkdir()
    (source / ".git" / "config").write_text("ignored\n")
    result = CliRunner().invoke(
        cli, ["forge", "create-repo", "acme/deploy", "--data", str(tmp_path / "forge"), "--from", str(source),
              "--default-branch", "trunk"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "created acme/deploy (1 file(s), trunk at" in result.output
    forge = prplan.LocalForge.open(tmp_path / "forge")
    assert forge.files("acme/deploy", "trunk") == {"apps/api/values.yaml": b"tag: 1\n"}


def _modes(forge: prplan.LocalForge, repo: str, branch: str) -> dict[str, int]:
    commit = forge.git_object(repo, forge.branches(repo)[branch])
    tree = commit.tree.decode()  # type: ignore[union-attr]
    return {e.path: e.mode for e in forge.git_tree_entries(repo, tree, recursive=True) if e.type == "blob"}  # fmt: skip


def test_create_repo_keeps_the_executable_bit_of_each_file(tmp_path: Path) -> None:
    source = tmp_path / "seed"
    (source / "bin").mkdir(parents=True)
    (source / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (source / "run.sh").chmod(0o755)
    (source / "bin" / "x.json").write_text("{}\n")
    (source / "bin" / "x.json").chmod(
        0o744
    )  # executable by its owner only: still executable to git
    (source / "README.md").write_text("# seed\n")
    (source / "README.md").chmod(0o644)
    result = CliRunner().invoke(
        cli, ["forge", "create-repo", "acme/tools", "--data", str(tmp_path / "forge"), "--from", str(source)]
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    forge = prplan.LocalForge.open(tmp_path / "forge")
    assert _modes(forge, "acme/tools", "main") == {
        "run.sh": 0o100755, "bin/x.json": 0o100755, "README.md": 0o100644,
    }  # fmt: skip


def test_create_repo_refuses_a_symlink_out_of_the_directory(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cr3t\n")
    source = tmp_path / "seed"
    source.mkdir()
    (source / "a.txt").write_text("a\n")
    (source / "leak.txt").symlink_to(secret)
    result = CliRunner().invoke(
        cli, ["forge", "create-repo", "acme/leak", "--data", str(tmp_path / "forge"), "--from", str(source)]
    )  # fmt: skip
    assert result.exit_code == 1
    assert "leak.txt is a symbolic link" in result.output and "s3cr3t" not in result.output
    assert "acme/leak" not in prplan.LocalForge.open(tmp_path / "forge").repositories()


def test_create_repo_rejects_a_bad_name_naming_it(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["forge", "create-repo", "not-a-repo", "--data", str(tmp_path / "f")]
    )
    assert result.exit_code == 1  # invalid input: exit 1, one line per problem
    assert "repo: 'not-a-repo' is not 'owner/name'" in result.output


@pytest.fixture
def serving(tmp_path: Path) -> subprocess.Popen[str]:
    CliRunner().invoke(cli, ["forge", "create-repo", "acme/app", "--data", str(tmp_path / "forge")])
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps([{"method": "GET", "path": "/pulls$", "status": 502, "times": 1}]))
    process = subprocess.Popen(
        [sys.executable, "-m", "prplan", "forge", "serve", "--data", str(tmp_path / "forge"), "--port", "0",
         "--faults", str(faults)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PRPLAN_FORGE_TOKEN": TOKEN},
    )  # fmt: skip
    yield process
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)


def test_serve_prints_its_address_and_serves_prplan(serving: subprocess.Popen[str]) -> None:
    assert serving.stdout is not None
    line = serving.stdout.readline().strip()
    assert line.startswith("prplan forge listening on http://127.0.0.1:") and line.endswith(
        "/api/v3"
    )
    api = line.rsplit(" ", 1)[1]

    client = prplan.GitHubClient(token=TOKEN, base_url=api, retries=2, backoff=0.0)
    request = prplan.ChangeRequest(
        repo="acme/app", branch="prplan/x", files={"x.txt": "x\n"}, automerge=True
    )
    outcome = prplan.apply(prplan.plan(prplan.observe(client, request), request), client)
    assert (
        outcome.status is prplan.OutcomeStatus.MERGED
    )  # the injected 502 on the PR list was retried

    with pytest.raises(prplan.ForgeError, match="rejected the token") as raised:
        prplan.observe(prplan.GitHubClient(token="wrong", base_url=api, retries=0), request)
    assert raised.value.status == 401
    assert TOKEN not in str(raised.value)

    serving.send_signal(signal.SIGINT)
    assert serving.wait(timeout=10) == 0


def test_serve_rejects_a_bad_fault_file(tmp_path: Path) -> None:
    bad = tmp_path / "faults.json"
    bad.write_text(json.dumps([{"path": "x", "status": 502, "color": "red"}]))
    result = CliRunner().invoke(
        cli, ["forge", "serve", "--data", str(tmp_path / "f"), "--faults", str(bad)]
    )
    assert result.exit_code == 1  # invalid input: exit 1, one line per problem
    assert "unknown field 'color'" in result.output
